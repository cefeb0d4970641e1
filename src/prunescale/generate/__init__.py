"""Generation: backends (a registry), thinking profiles and s1 budget forcing."""

from . import hf, openai_backend, vllm_backend  # noqa: F401  (register backends)
from .base import BACKENDS, Backend, Forcing, Request, Sample, Sampling
from .profiles import PROFILES, ThinkingProfile, get_profile

__all__ = ["BACKENDS", "Backend", "Forcing", "Request", "Sample", "Sampling", "PROFILES", "ThinkingProfile",
           "get_profile"]
