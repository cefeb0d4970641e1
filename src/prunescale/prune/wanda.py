"""Wanda (Sun et al., 2024): prune by |W_ij| * ||X_j||_2, compared within each output row.

X_j is input channel j of the projection over every real calibration token, taken layer by layer with the
earlier layers already pruned (as the Wanda code does). Each row keeps its round((1 - s) * cols) highest
scores; with ``--pattern N:M`` every group of M consecutive inputs of a row keeps its N highest.
"""

from .base import METHODS
from .sparsity import UnstructuredMethod, input_norms, projections, score_mask


@METHODS.register("wanda")
class Wanda(UnstructuredMethod):
    needs_calibration = True

    def prune_layer(self, i, layer, sparsity, nm, inputs):
        norms = input_norms(inputs, i)
        for name, mod in projections(layer).items():
            w = mod.weight
            score = w.abs().float() * norms[name][None, :]
            w[score_mask(score, sparsity, nm, per_row=True)] = 0
