"""Unstructured magnitude pruning: zero the smallest |W| of each projection matrix (compared within the whole
matrix, as the Wanda and OWL code's magnitude baseline does; ``--pattern N:M`` compares within each group of
M inputs of a row). No calibration, except to measure OWL's outlier ratios with ``--allocation owl``.
"""

from .base import METHODS
from .sparsity import UnstructuredMethod, projections, score_mask


@METHODS.register("magnitude-unstructured")
class MagnitudeUnstructured(UnstructuredMethod):
    needs_activations = False

    def prune_layer(self, i, layer, sparsity, nm, inputs):
        for mod in projections(layer).values():
            w = mod.weight
            w[score_mask(w.abs().float(), sparsity, nm, per_row=False)] = 0
