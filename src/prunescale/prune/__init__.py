"""Layer pruning: a registry of methods (one file each, found by ``METHODS``) and the run that saves a pruned
model."""

from .base import METHODS, MethodOption, PruneMethod, PruneResult, resolve_count

__all__ = ["METHODS", "MethodOption", "PruneMethod", "PruneResult", "resolve_count"]
