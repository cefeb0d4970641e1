"""Leave-one-out perplexity layer pruning (the study's ``lib/prune.py``): remove the layers whose removal raises
the calibration perplexity least.

Each layer's score is the perplexity of the model without it: exp of the mean next-token cross-entropy over every
real (unpadded) token of the calibration set. One-shot: the n lowest are removed (ties to the lower index).
``--ppl-iterative``: remove the lowest, re-score the layers left on the model without it, and so on n times
(n rounds of L, L-1, ... forward passes instead of one round of L); the scores shown stay the first round's.

Each candidate is scored from cached layer inputs (:mod:`.cached_loo`: one pass per batch, then only the layers
above the candidate), the same perplexities as a whole-model forward without it up to float rounding. The old
way, still used for a model whose head is not norm + output embeddings: on the same model object,
:func:`~prunescale.models.surgery.without_layers` drops the layer with our depth surgery (layers renumbered,
config made consistent) and puts it back afterwards. The
reference builds a fresh model from the config for every candidate and copies every kept layer's weights into
it; ``benchmarks/bench_ppl.py`` times both. The reference also scores on the calibration texts joined by
blank lines and cut into max-length chunks; we score each calibration sequence on its own, padding masked.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..models.surgery import num_layers, without_layers
from .cached_loo import leave_one_out_sums
from .base import METHODS, MethodOption, PruneMethod, PruneResult
from .magnitude import ascending


def boolean(text: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0) from a flag; anything else is a ValueError (the CLI names it)."""
    value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(str(text).lower())
    if value is None:
        raise ValueError(text)
    return value


@torch.no_grad()
def perplexity(model, batches) -> float:
    """exp(mean next-token NLL) over every real token of ``batches`` (no KV cache)."""
    device = next(model.parameters()).device
    nll, count = 0.0, 0
    for b in batches:
        ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
        loss = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
        nll += float((loss.double() * mask[:, 1:].flatten()).sum())
        count += int(mask[:, 1:].sum())
    return math.exp(nll / max(count, 1))


def leave_one_out(model, batches, removed: list[int], candidates: list[int], desc: str,
                  cached: bool = True, current: bool = False) -> dict[int | None, float]:
    """Perplexity of the model without ``removed`` and each candidate in turn (the model is left as it was);
    ``current``: also without ``removed`` alone (key None); ``cached=False``: a whole-model forward per
    candidate (the reference the cached path is tested against)."""
    sums = leave_one_out_sums(model, batches, removed, candidates, _nll_count, desc,
                              current=current) if cached else None
    if sums is not None:
        return {i: math.exp(nll / max(count, 1)) for i, (nll, count) in sums.items()}
    out = {}
    for i in tqdm(([None] if current else []) + list(candidates), desc=desc, unit="layer"):
        with without_layers(model, removed + ([] if i is None else [i])):
            out[i] = perplexity(model, batches)
    return out


def _nll_count(k, nll, target):
    return float(nll.sum()), int(target.sum())


@METHODS.register("ppl")
class Perplexity(PruneMethod):
    needs_calibration = True
    _cached = True   # False: whole-model forward per candidate (tests compare the two)
    score_name = "ppl_without_layer"
    options = (MethodOption("iterative", boolean, False,
                            "true: remove one layer, re-score the rest, n times (default false: one shot)",
                            (True, False)),)

    def plan(self, model, n, calibration=None) -> PruneResult:
        total, batches = num_layers(model), calibration.batches
        first = leave_one_out(model, batches, [], list(range(total)), "ppl: leave-one-out", self._cached,
                              current=True)
        scores = [first[i] for i in range(total)]
        details = {"base_ppl": first.pop(None), "iterative": bool(self.settings["iterative"])}
        if not self.settings["iterative"]:
            removed = ascending(scores, n)
        else:   # round r removes the layer whose removal, after rounds 1..r-1, leaves the lowest perplexity
            removed, details["rounds"] = [], []
            for r in range(n):
                left = [i for i in range(total) if i not in removed]
                ppl = first if r == 0 else leave_one_out(model, batches, removed, left, f"ppl: round {r + 1}",
                                                         self._cached)
                pick = min(ppl, key=lambda i: (ppl[i], i))
                removed.append(pick)
                details["rounds"].append({"removed": pick, "ppl": ppl[pick]})
        removed = sorted(removed)
        return PruneResult(removed=removed, kept=[i for i in range(total) if i not in removed], scores=scores,
                           score_name=self.score_name, details=details)

    def choose(self, model, n, scores):
        return ascending(scores, n)
