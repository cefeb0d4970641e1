"""Angular distance block pruning (Gromov et al., "The Unreasonable Ineffectiveness of the Deeper Layers").

Remove the contiguous block of n layers whose input and output, at the last token, have the smallest angular
distance arccos(cos)/pi. The score of layer l is the distance of the block of n layers starting at l.
"""

from .base import METHODS, PruneMethod
from .scoring import similarity


@METHODS.register("angular")
class Angular(PruneMethod):
    needs_calibration = True
    score_name = "angular_distance_of_block"

    def layer_scores(self, model, calibration, n):
        table = similarity(model, calibration)["angular"]
        # Blocks that would run past the last layer get no score.
        return [row[n - 1] if len(row) >= n else float("nan") for row in table]

    def choose(self, model, n, scores):
        valid = [i for i, s in enumerate(scores) if s == s]
        start = min(valid, key=lambda i: (scores[i], -i))
        return list(range(start, start + n))
