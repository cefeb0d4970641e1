"""Generation: backends (a registry, one module each, found by ``BACKENDS``), thinking profiles, s1 budget
forcing, a model's own traces in process."""

from .base import BACKENDS, Backend, Forcing, Request, Sample, Sampling
from .profiles import PROFILES, ThinkingProfile, get_profile
from .traces import Trace, free_text, thinking_traces

__all__ = ["BACKENDS", "Backend", "Forcing", "Request", "Sample", "Sampling", "PROFILES", "ThinkingProfile",
           "get_profile", "Trace", "free_text", "thinking_traces"]
