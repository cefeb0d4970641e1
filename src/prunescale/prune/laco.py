"""LaCo layer collapse (Yang et al., 2024): top-down greedy merging of adjacent layers.

From the top, layer l absorbs the m layers after it by RDSC, theta* = theta_l + sum_k (theta_{l+k} - theta_l),
on the attention and MLP projections. A merge is kept while the mean cosine similarity of the merged model's
last hidden states to the original's stays above the threshold; then l moves down by the interval, else by one.

Cost: the original's per-layer inputs and the final hidden states come from one pass. Layers below the
candidate are still original (merges only happen above), so each candidate runs only the merged layer and
the layers after it, from the stored input, instead of copying the whole model and re-running both.

Defaults: merge size 1 (one layer absorbed per merge, the study's setting; for m = 1 RDSC and the reference
rule agree), interval 2, threshold 0.65; similarity is the per-token cosine of the final-normed hidden states,
averaged over real (unpadded) tokens. The sweep stops as soon as the requested number of layers is gone.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import PrunescaleError
from ..models.surgery import adapter_for, keep_layers, merge_rdsc
from .base import METHODS, PruneMethod, PruneResult
from .scoring import _hidden_out


@METHODS.register("laco")
class LaCo(PruneMethod):
    needs_calibration = True
    score_name = "merge_similarity"
    defaults = {"threshold": 0.65, "interval": 2, "merge_size": 1, "lowest": 0, "highest": None,
                "rule": "rdsc", "samples": 16}

    def apply(self, model, n, calibration=None) -> PruneResult:
        o = self.options
        adapter = adapter_for(model)
        layers = adapter.layers(model)
        total = len(layers)
        if o["rule"] not in ("rdsc", "reference"):
            raise PrunescaleError(f"unknown --laco-rule {o['rule']!r} (choose from: rdsc, reference)")
        if o["merge_size"] < 1 or o["interval"] < 1:
            raise PrunescaleError("--laco-merge-size and --laco-interval must be at least 1")
        highest = total - 1 if o["highest"] is None else o["highest"]
        if not 0 <= o["lowest"] < highest <= total - 1:
            raise PrunescaleError(f"--laco-lowest {o['lowest']} / --laco-highest {highest} must satisfy "
                                  f"0 <= lowest < highest <= {total - 1}")
        cache = capture(model, _take(calibration.batches, o["samples"]))
        norm = adapter.final_norm(model)
        targets = adapter.merge_targets(layers[0])

        cur = list(range(total))           # original index of the layer at each position
        modules = list(layers)
        scores: list[float | None] = [None] * total
        merges, removed, tried = [], 0, 0
        l = highest - min(o["merge_size"], n)
        with tqdm(total=n, desc="laco: merging layers", unit="layer") as bar:
            while l >= o["lowest"] and removed < n:
                m = min(o["merge_size"], n - removed, len(cur) - 1 - l)
                merged = copy.deepcopy(modules[l])
                merge_rdsc(merged, modules[l + 1:l + 1 + m], targets, o["rule"])
                sim = similarity(cache, norm, [merged] + modules[l + 1 + m:], [cur[l]] + cur[l + 1 + m:], cur[l])
                tried += 1
                if scores[cur[l]] is None:
                    scores[cur[l]] = sim
                if sim > o["threshold"]:
                    modules[l] = merged
                    merges.append({"into": cur[l], "merged": cur[l + 1:l + 1 + m], "similarity": sim})
                    del modules[l + 1:l + 1 + m], cur[l + 1:l + 1 + m]
                    removed += m
                    bar.update(m)
                    l -= o["interval"]
                else:
                    l -= 1
        if removed < n:
            best = max((s for s in scores if s is not None), default=float("nan"))
            raise PrunescaleError(f"laco merged away only {removed} of {n} layers at --laco-threshold "
                                  f"{o['threshold']} (best first-try similarity {best:.3f}); lower the threshold")
        # Only now touch the model: merged weights go into the original modules, then the rest are dropped.
        for module, idx in zip(modules, cur):
            if module is not layers[idx]:
                layers[idx].load_state_dict(module.state_dict())
        keep_layers(model, cur)
        return PruneResult(removed=sorted(set(range(total)) - set(cur)), kept=cur, scores=scores,
                           score_name=self.score_name, merges=merges, details={"rule": o["rule"], "candidates_tried": tried})


def _take(batches, samples):
    out, seen = [], 0
    for b in batches:
        if seen >= samples:
            break
        out.append(b)
        seen += b["input_ids"].shape[0]
    return out


@torch.no_grad()
def capture(model, batches) -> list[dict]:
    """One pass of the original model: each layer's input hidden state and call kwargs, and the final state."""
    device = next(model.parameters()).device
    out = []
    layers = adapter_for(model).layers(model)
    calls: dict[int, tuple] = {}

    def pre(i, module, args, kwargs):
        kw = {k: v for k, v in kwargs.items() if k != "hidden_states"}
        calls[i] = ((args[0] if args else kwargs["hidden_states"]).detach(), kw)

    handles = [layer.register_forward_pre_hook(lambda m, a, k, i=i: pre(i, m, a, k), with_kwargs=True)
               for i, layer in enumerate(layers)]
    try:
        for b in batches:
            ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
            final = model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            out.append({"calls": dict(calls), "final": final.float(), "mask": mask.float()})
            calls.clear()
    finally:
        for h in handles:
            h.remove()
    return out


@torch.no_grad()
def similarity(cache, norm, run_layers, run_orig_idx, start_orig) -> float:
    """Mean token cosine between the original final states and those of ``run_layers`` run from the
    stored input of original layer ``start_orig``; each layer gets the call kwargs (mask, rotary) captured for
    its own original index, so sliding/global layer types stay right."""
    total, count = 0.0, 0.0
    for b in cache:
        h = b["calls"][start_orig][0]
        for layer, idx in zip(run_layers, run_orig_idx):
            h = _hidden_out(layer(h, **b["calls"][idx][1]))
        if norm is not None:
            h = norm(h)
        cos = F.cosine_similarity(h.float(), b["final"], dim=-1)
        total += float((cos * b["mask"]).sum())
        count += float(b["mask"].sum())
    return total / max(count, 1.0)
