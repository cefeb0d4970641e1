"""Streaming layer statistics from forward hooks: each layer's own input and output.

Hooks see what each decoder layer really receives and returns (``output_hidden_states`` would give the
final-normed state as its last entry). Sums are accumulated batch by batch in fp32 with padding masked, so
memory does not grow with the calibration set.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..models.surgery import adapter_for


def _hidden_in(args, kwargs):
    return args[0] if args else kwargs["hidden_states"]


def _hidden_out(output):
    return output[0] if isinstance(output, (tuple, list)) else output


@contextmanager
def layer_hooks(model, on_input, on_output):
    """Call ``on_input(i, hidden)`` / ``on_output(i, hidden)`` around every decoder layer ``i``."""
    handles = []
    for i, layer in enumerate(adapter_for(model).layers(model)):
        handles.append(layer.register_forward_pre_hook(
            lambda m, a, k, i=i: on_input(i, _hidden_in(a, k)), with_kwargs=True))
        handles.append(layer.register_forward_hook(lambda m, a, o, i=i: on_output(i, _hidden_out(o))))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def layer_similarity(model, batches, desc: str = "calibration: scoring layers") -> dict:
    """Per-layer token cosine between input and output, and last-token angular distances of every block.

    Returns ``{"cos": [L], "tokens": int, "angular": D}`` where ``D[l][n-1]`` is the mean angular distance
    (arccos(cos)/pi) between the last real token's input to layer l and output of layer l+n-1.
    """
    n_layers = len(adapter_for(model).layers(model))
    cos_sum = torch.zeros(n_layers, dtype=torch.float64)
    ang_sum = torch.zeros(n_layers, n_layers, dtype=torch.float64)
    tokens, sequences = 0, 0
    state = {}
    device = next(model.parameters()).device

    def on_input(i, h):
        state["in", i] = h
        state["last_in"][i] = _last_token(h, state["mask"])

    def on_output(i, h):
        x, m = state.pop(("in", i)).float(), state["mask"]
        cos = F.cosine_similarity(x, h.float(), dim=-1)  # (B, T)
        cos_sum[i] += (cos * m).sum().double().cpu()
        state["last_out"][i] = _last_token(h, m)

    with layer_hooks(model, on_input, on_output):
        for batch in tqdm(batches, desc=desc, unit="batch"):
            ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
            state.update(mask=mask.float(), last_in={}, last_out={})
            model.base_model(input_ids=ids, attention_mask=mask, use_cache=False)
            tokens += int(mask.sum())
            sequences += ids.shape[0]
            for start in range(n_layers):
                a = state["last_in"][start]
                for end in range(start, n_layers):
                    c = F.cosine_similarity(a, state["last_out"][end], dim=-1).clamp(-1, 1)
                    ang_sum[start, end - start] += (torch.arccos(c) / math.pi).double().sum().cpu()
    cos_mean = (cos_sum / max(tokens, 1)).tolist()
    angular = [[float(ang_sum[s, k] / max(sequences, 1)) for k in range(n_layers - s)] for s in range(n_layers)]
    return {"cos": cos_mean, "tokens": tokens, "angular": angular}


def similarity(model, calibration) -> dict:
    """:func:`layer_similarity` over ``calibration``'s batches, computed once per model and kept on the
    calibration (``prunescale layers`` shows it beside a method that ranks by it: one pass, not two). The model
    must not change between calls; methods that change it work on a copy or call this once."""
    memo = calibration.__dict__.setdefault("_similarity", {})
    key = (id(model), len(adapter_for(model).layers(model)))
    if key not in memo:
        memo[key] = layer_similarity(model, calibration.batches)
    return memo[key]


def _last_token(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden state of each sequence's last real token (right padding), fp32."""
    last = mask.sum(dim=1).long().clamp(min=1) - 1
    return h[torch.arange(h.shape[0], device=h.device), last].float()
