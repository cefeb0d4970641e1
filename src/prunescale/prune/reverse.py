"""Reverse-order pruning: remove the last n decoder layers."""

from ..models.surgery import num_layers
from .base import METHODS, PruneMethod


@METHODS.register("reverse")
class Reverse(PruneMethod):
    def choose(self, model, n, scores):
        total = num_layers(model)
        return list(range(total - n, total))
