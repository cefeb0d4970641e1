"""Generation: backends (a registry, one module each, found by ``BACKENDS``), thinking profiles and s1 budget
forcing."""

from .base import BACKENDS, Backend, Forcing, Request, Sample, Sampling
from .profiles import PROFILES, ThinkingProfile, get_profile

__all__ = ["BACKENDS", "Backend", "Forcing", "Request", "Sample", "Sampling", "PROFILES", "ThinkingProfile",
           "get_profile"]
