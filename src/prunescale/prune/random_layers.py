"""Remove n layers chosen uniformly at random (seeded): the baseline every scored method must beat."""

import random

from ..models.surgery import num_layers
from .base import METHODS, PruneMethod


@METHODS.register("random")
class RandomLayers(PruneMethod):
    def choose(self, model, n, scores):
        return random.Random(self.seed).sample(range(num_layers(model)), n)
