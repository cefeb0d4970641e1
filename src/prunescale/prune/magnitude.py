"""Magnitude layer pruning (the study's ``lib/prune.py``): remove the layers whose weights are smallest.

For every weight tensor of a decoder layer (parameters named ``*weight``: projections and norms; biases are not
counted) the reference takes row values r = sum_j |W_ij|^p over each output row of a matrix (|w|^p per element
of a vector), reduces them to one number per tensor, and reduces those to one number per layer, with the same
``reduction`` (sum, mean, max or prod) at both steps. p = 1 (``l1``) or 2 (``l2``; no square root: it is the
squared norm). The n layers with the lowest score are removed (ascending order, as the reference; ties go to
the lower index, as its stable sort does).

Where the reference's rule is ill-defined, and what we do instead:
- ``prod`` multiplies thousands of row values: in floating point the product overflows to inf or underflows to
  0 for any real model, so every layer ties and the choice falls to layer order. We score ``prod`` as the sum of
  the logs of the row values (the log of the same product; the order is the one exact arithmetic would give).
- The reference reduces in the model's dtype: in fp16 (its loading dtype) a tensor's L1 sum over a 4096-wide
  model passes 65504 and becomes inf, again tying layers. We reduce in float64.
- The reference's ``mean`` averages per-tensor means of row sums, so a wide matrix and a norm vector weigh the
  same; it is well defined, and kept.
"""

from __future__ import annotations

import math

import torch

from ..models.surgery import adapter_for
from .base import METHODS, MethodOption, PruneMethod

REDUCTIONS = ("sum", "mean", "max", "prod")


def row_values(t: torch.Tensor, p: int) -> torch.Tensor:
    """sum_j |t_ij|^p per output row of a matrix (``|t_i|^p`` per element of a vector), in float64."""
    t = t.detach().double().abs().pow(p)
    return t.reshape(t.shape[0], -1).sum(dim=1) if t.dim() >= 2 else t


def reduce_values(values: torch.Tensor, reduction: str) -> float:
    """One number from many; ``prod`` as a sum of logs (log 0 = -inf)."""
    if reduction == "prod":
        return float(values.log().sum())
    return float(getattr(values, reduction)())


def layer_score(tensors: list[torch.Tensor], p: int, reduction: str) -> float:
    """Reduce each tensor's row values, then the tensors' numbers, with the same reduction."""
    per_tensor = torch.tensor([reduce_values(row_values(t, p), reduction) for t in tensors], dtype=torch.float64)
    if not len(per_tensor):
        return math.nan
    # Log-domain per tensor, so the layer's product is the sum of the tensors' logs.
    return reduce_values(per_tensor, "sum" if reduction == "prod" else reduction)


def layer_weights(layer: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """The parameters the reference scores: those named ``*weight`` (biases are left out)."""
    return [(n, p) for n, p in layer.named_parameters() if "weight" in n.rsplit(".", 1)[-1]]


def ascending(scores: list[float], n: int) -> list[int]:
    """The ``n`` lowest scores; ties to the lower index (NaN never chosen before a number)."""
    return sorted(range(len(scores)), key=lambda i: (math.isnan(scores[i]), scores[i], i))[:n]


@METHODS.register("magnitude")
class Magnitude(PruneMethod):
    score_name = "weight_magnitude"
    options = (
        MethodOption("norm", str, "l1", "l1 (sum |w|) or l2 (sum w^2) per output row (default l1)", ("l1", "l2")),
        MethodOption("reduction", str, "sum", "rows -> tensor -> layer: sum, mean, max or prod (prod as a sum "
                     "of logs, default sum)", REDUCTIONS),
    )

    def layer_scores(self, model, calibration, n):
        p = {"l1": 1, "l2": 2}[self.settings["norm"]]
        return [layer_score([w for _, w in layer_weights(layer)], p, self.settings["reduction"])
                for layer in adapter_for(model).layers(model)]

    def choose(self, model, n, scores):
        return ascending(scores, n)
