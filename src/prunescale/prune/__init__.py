"""Layer pruning: a registry of methods (one file each) and the run that saves a pruned model."""

from . import angular, laco, random_layers, reverse, selection, shortgpt  # noqa: F401  (register methods)
from . import magnitude, ppl, taylor  # noqa: F401  (layer scores from the study's code)
from . import chain  # noqa: F401  (reasoning-aware: late thinking and answer of the model's own traces)
from . import magnitude_unstructured, sparsegpt, wanda  # noqa: F401  (unstructured: zero weights)
from .base import METHODS, MethodOption, PruneMethod, PruneResult, resolve_count

__all__ = ["METHODS", "MethodOption", "PruneMethod", "PruneResult", "resolve_count"]
