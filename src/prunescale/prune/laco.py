"""LaCo layer collapse (Yang et al., 2024): top-down greedy merging of adjacent layers.

From the top, layer l absorbs the m layers after it by RDSC, theta* = theta_l + sum_k (theta_{l+k} - theta_l),
on the attention and MLP projections. A merge is kept while the similarity of the merged model's final-normed
last hidden states to the original's is strictly above the threshold; then l moves down by the interval,
else by one; a merge near the top takes only the layers that are left. The sweep stops once n layers are gone.

``rule="rdsc"`` (default): similarity = per-token cosine averaged over all real (unpadded) tokens; the first
candidate is l = highest - m, so the last layer can be absorbed.

``rule="reference"`` reproduces the public LaCo code (its notebook; the study's ``lib/merge.py``): its in-place
update of the projection weights only (biases untouched; for m >= 2 only the last merged layer survives); one
cosine per calibration sequence over its whole flattened [tokens x hidden] final state (padding masked out, as
if run alone unpadded), averaged over sequences; first candidate l = highest - (m + 1) (their MERGE_LAYERS is
m + 1), so the first merge never absorbs the last layer. Not matched: their calibration sentences (pass them
with ``--calibration file:``), fp16 and slow tokenizer, and their stop (they sweep to the bottom; stopping at
n gives their first merges, the last one cut to the layers still to remove when m > 1).

Cost: the original's per-layer inputs and the final hidden states come from one pass. Layers below the
candidate are still original (merges only happen above), so each candidate runs only the merged layer and
the layers after it, from the stored input, instead of copying the whole model and re-running both.

Defaults: merge size 1 (one layer absorbed per merge, the study's setting), interval 2, threshold 0.65.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import PrunescaleError
from ..models.surgery import adapter_for, keep_layers, merge_rdsc
from .base import METHODS, MethodOption, PruneMethod, PruneResult
from .scoring import _hidden_out


@METHODS.register("laco")
class LaCo(PruneMethod):
    needs_calibration = True
    score_name = "merge_similarity"
    options = (
        MethodOption("threshold", float, 0.65, "accept a merge while similarity > T (default 0.65)"),
        MethodOption("interval", int, 2, "layers to step down after a merge (default 2)"),
        MethodOption("merge_size", int, 1, "following layers merged into one per merge (default 1)"),
        MethodOption("lowest", int, 0, "lowest layer that may absorb others (default 0)"),
        MethodOption("highest", int, None, "highest layer considered (default: the last)"),
        MethodOption("rule", str, "rdsc", "rdsc (LaCo paper, default) or reference (the public code: in-place "
                     "update, whole-sequence cosine, first candidate one layer lower)", ("rdsc", "reference")),
        MethodOption("samples", int, 16, "calibration sequences LaCo compares on (default 16)"),
    )

    def __init__(self, seed: int = 0, **options):
        super().__init__(seed, **options)
        o = self.settings   # what does not depend on the model, refused before it loads
        if not o["threshold"] < 1:
            raise PrunescaleError(f"--laco-threshold {o['threshold']} must be below 1 (a cosine similarity never "
                                  "exceeds 1, so nothing would merge)")
        if o["merge_size"] < 1 or o["interval"] < 1 or o["samples"] < 1:
            raise PrunescaleError("--laco-merge-size, --laco-interval and --laco-samples must be at least 1")
        if o["lowest"] < 0 or (o["highest"] is not None and o["highest"] <= o["lowest"]):
            raise PrunescaleError(f"--laco-lowest {o['lowest']} / --laco-highest {o['highest']} must satisfy "
                                  "0 <= lowest < highest")

    def plan(self, model, n, calibration=None) -> PruneResult:
        # Merging is the choice: work it out on a copy.
        return self.apply(copy.deepcopy(model), n, calibration)

    def apply(self, model, n, calibration=None) -> PruneResult:
        o = self.settings
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
        ref = o["rule"] == "reference"
        if ref:   # the reference merges the projection weights only, never their biases (Qwen2's q/k/v)
            targets = [t for t in targets if t.endswith("weight")]
        l = highest - o["merge_size"] - 1 if ref else highest - min(o["merge_size"], n)
        start = l
        if ref and start < o["lowest"]:
            raise PrunescaleError(f"--laco-rule reference starts at layer highest - merge_size - 1 = {start}, "
                                  f"below --laco-lowest {o['lowest']}; lower --laco-merge-size")
        with tqdm(total=n, desc="laco: merging layers", unit="layer") as bar:
            while l >= o["lowest"] and removed < n:
                m = min(o["merge_size"], n - removed, len(cur) - 1 - l)
                merged = copy.deepcopy(modules[l])
                merge_rdsc(merged, modules[l + 1:l + 1 + m], targets, o["rule"])
                sim = similarity(cache, norm, [merged] + modules[l + 1 + m:], [cur[l]] + cur[l + 1 + m:], cur[l],
                                 sequence=ref)
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
        details = {"rule": o["rule"], "similarity": "sequence" if ref else "token", "first_candidate": start,
                   "candidates_tried": tried}
        return PruneResult(removed=sorted(set(range(total)) - set(cur)), kept=cur, scores=scores,
                           score_name=self.score_name, merges=merges, details=details)


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
def similarity(cache, norm, run_layers, run_orig_idx, start_orig, *, sequence: bool = False) -> float:
    """Similarity of ``run_layers``' final states, run from the stored input of original layer ``start_orig``,
    to the original's: see :func:`cosines`. Each layer gets the call kwargs (mask, rotary) captured for its own
    original index, so sliding/global layer types stay right."""
    total, count = 0.0, 0.0
    for b in cache:
        h = b["calls"][start_orig][0]
        for layer, idx in zip(run_layers, run_orig_idx):
            h = _hidden_out(layer(h, **b["calls"][idx][1]))
        if norm is not None:
            h = norm(h)
        t, c = cosines(h.float(), b["final"], b["mask"], sequence=sequence)
        total, count = total + t, count + c
    return total / max(count, 1.0)


def cosines(h, ref, mask, *, sequence: bool = False) -> tuple[float, float]:
    """(sum, count) of cosines between [batch, tokens, hidden] states over real tokens: one per token, or with
    ``sequence`` one per row over its whole flattened real-token state (the LaCo reference's measure)."""
    if sequence:
        # Zeroed padding adds nothing to the dot product or the norms: equal to the unpadded sequence alone.
        m = mask.unsqueeze(-1)
        cos = F.cosine_similarity((h * m).flatten(1), (ref * m).flatten(1), dim=1)
        return float(cos.sum()), float(cos.numel())
    cos = F.cosine_similarity(h, ref, dim=-1)
    return float((cos * mask).sum()), float(mask.sum())
