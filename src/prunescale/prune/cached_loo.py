"""Leave-one-out losses from cached layer inputs (``ppl`` and ``chain`` score every layer this way).

Removing layer i leaves every layer below it computing what it computed before, so one pass of the current
model per batch stores each decoder layer's input (and its call kwargs: mask, rotary, so sliding/global layer
types stay right); candidate i then starts from layer i's stored input and runs only the layers above it,
then the final norm and the output head, on the scored positions only (``positions``: chain scores the late
thinking and the answer, and a 49k-vocabulary head costs several layers per token). Batches outside,
candidates inside: memory is one batch's activations x layers. A model whose head is more than norm + output embeddings (+ Gemma's soft cap) is
caught on the first batch (its own last-position logits differ from ours) and scored the old way.
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..models.surgery import adapter_for, without_layers
from .scoring import _hidden_in, _hidden_out

# (batch index, per-target NLL [rows, width-1] (0 where the target is padding), target mask) -> sums
Reduce = Callable[[int, torch.Tensor, torch.Tensor], tuple]


@torch.no_grad()
def leave_one_out_sums(model, batches, removed: list[int], candidates: list[int], reduce: Reduce,
                       desc: str, positions: list[torch.Tensor] | None = None,
                       current: bool = False) -> dict[int | None, list[float]] | None:
    """``reduce``'s sums over ``batches`` for the model without ``removed`` and each candidate in turn (original
    indices); None when the model's head cannot be reproduced (then score with whole-model forwards).
    ``positions``: per batch, the next-token targets worth scoring (others get NLL 0), default every target.
    ``current``: also the sums of the model without ``removed`` alone (key None), from the capture pass's
    last hidden state: no forward of its own."""
    device = next(model.parameters()).device
    total = len(adapter_for(model).layers(model))
    kept = [j for j in range(total) if j not in set(removed)]
    out = {i: None for i in ([None] if current else []) + list(candidates)}
    with without_layers(model, removed), tqdm(total=len(batches) * len(candidates), desc=desc, unit="layer") as bar:
        layers = adapter_for(model).layers(model)
        head = _Head(model)
        for k, b in enumerate(batches):
            ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
            calls = _capture(model, layers, head, ids, mask, check=k == 0)
            if calls is None:
                return None
            target = mask[:, 1:].bool()
            if positions is not None:
                target = target & positions[k].to(device).bool()
            for i in out:
                if i is None:   # the current model: the capture pass's own last layer output
                    h = calls["last"]
                else:
                    p = kept.index(i)
                    h = calls[p][0]
                    for q in range(p + 1, len(layers)):
                        h = _hidden_out(layers[q](h, **calls[q][1]))
                logits = head(h[:, :-1][target])
                nll = torch.zeros(target.shape, dtype=torch.float64, device=device)
                nll[target] = F.cross_entropy(logits, ids[:, 1:][target], reduction="none").double()
                sums = reduce(k, nll, target)
                out[i] = list(sums) if out[i] is None else [a + s for a, s in zip(out[i], sums)]
                bar.update(i is not None)
    return out


class _Head:
    """Final norm + output embeddings (+ the final logit soft cap where the config has one), fp32 logits."""

    def __init__(self, model):
        self.norm = adapter_for(model).final_norm(model)
        self.out = model.get_output_embeddings()
        self.cap = getattr(adapter_for(model).config(model), "final_logit_softcapping", None)

    def __call__(self, h):
        logits = self.out(self.norm(h)).float()
        return torch.tanh(logits / self.cap) * self.cap if self.cap else logits

    @property
    def usable(self) -> bool:
        return self.norm is not None and self.out is not None


def _capture(model, layers, head, ids, mask, check: bool):
    """One pass of the current model: each layer's (input, call kwargs); with ``check``, None unless the
    model's own last-position logits equal ``head`` on its last layer's output."""
    calls, last = {}, {}

    def pre(i, args, kwargs):
        calls[i] = (_hidden_in(args, kwargs), {k: v for k, v in kwargs.items() if k != "hidden_states"})

    handles = [layer.register_forward_pre_hook(lambda m, a, kw, i=i: pre(i, a, kw), with_kwargs=True)
               for i, layer in enumerate(layers)]
    handles.append(layers[-1].register_forward_hook(lambda m, a, o: last.update(h=_hidden_out(o))))
    try:
        if not check:
            model.base_model(input_ids=ids, attention_mask=mask, use_cache=False)
            return {**calls, "last": last["h"]}
        if not head.usable or "logits_to_keep" not in inspect.signature(model.forward).parameters:
            return None
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=1).logits[:, -1].float()
    finally:
        for h in handles:
            h.remove()
    ours = head(last["h"][:, -1])
    tol = max(64 * torch.finfo(last["h"].dtype).eps, 1e-4) * float(ref.abs().max()) + 1e-6
    return {**calls, "last": last["h"]} if ours.shape == ref.shape and float((ours - ref).abs().max()) <= tol else None
