"""First-order Taylor layer pruning (the study's ``lib/prune.py``): remove the layers whose weights matter least
to the next-token loss on calibration text.

Salience of a weight: |w * dL/dw| (the first-order change of the loss if w were zeroed), L the mean next-token
cross-entropy over every real token of the calibration set. Per layer it is reduced like ``magnitude`` with
p = 1: row sums of |salience| per projection, elements of norm vectors, then ``--taylor-reduction`` over rows and
over tensors (``prod`` as a sum of logs). The n lowest are removed (ascending, as the reference).

Memory stays bounded: each batch's loss, pre-divided by the total token count, is back-propagated at once, so
its activations are freed before the next batch and the parameters' ``.grad`` accumulate the gradient of the
mean loss over all batches (equal to one batch holding everything). Only the scored weights get a ``.grad``;
they are freed after scoring and ``requires_grad`` is restored. In bf16/fp16 the gradient accumulates in that
dtype (as the reference's single backward does).

Differences from the reference: it takes one batch with ``labels=input_ids``, so padding tokens count in its loss;
we mask them. Its per-parameter loop keeps the last layer's key for ``model.norm.weight`` and an untied
``lm_head.weight``, so their salience is added to the last decoder layer's score; we score each layer by its
own weights only.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..models.surgery import adapter_for
from .base import METHODS, MethodOption, PruneMethod
from .magnitude import REDUCTIONS, ascending, layer_score, layer_weights


@contextmanager
def grads_for(model, params):
    """Only ``params`` require grad inside the block; afterwards every ``.grad`` is freed and the flags restored."""
    flags = {p: p.requires_grad for p in model.parameters()}
    try:
        for p in flags:
            p.requires_grad_(False)
            p.grad = None
        for p in params:
            p.requires_grad_(True)
        yield
    finally:
        for p, flag in flags.items():
            p.grad = None
            p.requires_grad_(flag)


def accumulate_loss_grad(model, batches, desc: str = "taylor: gradients") -> int:
    """Back-propagate the mean next-token loss over all real tokens of ``batches``, one batch at a time."""
    device = next(model.parameters()).device
    total = sum(int(b["attention_mask"][:, 1:].sum()) for b in batches)
    for b in tqdm(batches, desc=desc, unit="batch"):
        ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
        nll = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
        ((nll * mask[:, 1:].flatten()).sum() / max(total, 1)).backward()
    return total


def salience(w: torch.nn.Parameter) -> torch.Tensor:
    """w * dL/dw in float64 (a weight the loss does not reach has salience 0)."""
    return w.detach().double() * (w.grad.double() if w.grad is not None else 0.0)


@METHODS.register("taylor")
class Taylor(PruneMethod):
    needs_calibration = True
    score_name = "taylor_salience"
    options = (MethodOption("reduction", str, "sum", "rows -> tensor -> layer: sum, mean, max or prod (prod as a "
                            "sum of logs, default sum)", REDUCTIONS),)

    def layer_scores(self, model, calibration, n):
        weights = [[w for _, w in layer_weights(layer)] for layer in adapter_for(model).layers(model)]
        with grads_for(model, [w for ws in weights for w in ws]):
            accumulate_loss_grad(model, calibration.batches)
            return [layer_score([salience(w) for w in ws], 1, self.settings["reduction"]) for ws in weights]

    def choose(self, model, n, scores):
        return ascending(scores, n)
