"""ShortGPT (Men et al., 2024): remove the layers with the lowest Block Influence.

BI_i = 1 - E_tokens[cos(x_i, x_{i+1})], from layer i's own input and output; every layer is scored.
"""

from .base import METHODS, PruneMethod
from .scoring import similarity


@METHODS.register("shortgpt")
class ShortGPT(PruneMethod):
    needs_calibration = True
    score_name = "block_influence"

    def layer_scores(self, model, calibration, n):
        return [1.0 - c for c in similarity(model, calibration)["cos"]]

    def choose(self, model, n, scores):
        # Ties broken by the deeper layer first (stable sort on (score, -index)).
        return sorted(range(len(scores)), key=lambda i: (scores[i], -i))[:n]
