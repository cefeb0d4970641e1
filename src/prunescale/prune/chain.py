"""``chain``: greedy layer removal that protects long reasoning (the late thinking and the answer of full traces).

Generic-text scores (ShortGPT, angular, LaCo, perplexity) average over every token, so a layer that the last
steps of a long chain or the answer line after it depend on can look idle. ``chain`` scores a candidate by the
teacher-forced loss of the model's own traces (``--calibration traces``, its default) where test-time scaling
needs it:

    objective = late_loss + answer_weight * answer_loss

``late_loss``: mean next-token cross-entropy over the last ``late_frac`` of each trace's thinking tokens;
``answer_loss``: the same over its answer tokens (after the end of thinking, forced text excluded). Each round
skips every remaining layer in turn with the depth surgery ``ppl`` uses (:func:`~prunescale.models.surgery.
without_layers`: same model object, layer put back), removes the one whose removal raises the objective least
(ties to the lower index), and re-scores the rest without it.

Cost: each round scores its candidates from cached layer inputs (:mod:`.cached_loo`: one pass of the current
model per batch, then for each candidate only the layers above it), so a round costs about half of one
whole-model forward per candidate; the count printed before scoring starts is in those whole-model-forward
units, at most n_remove x n_layers + 1 (exactly 1 + the sum over rounds of the layers left: 8 + 7 + 1 = 16
for 2 of the organism's 8 layers; no backward pass, no copy of the model).
The scores shown (``prunescale layers``) are the first round's increases; ``late`` and ``answer`` columns
split them.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..errors import PrunescaleError
from ..models.surgery import num_layers, without_layers
from .cached_loo import leave_one_out_sums
from .base import METHODS, MethodOption, PruneMethod, PruneResult
from .magnitude import ascending


# The values each option accepts (checked when the method is made, so a bad one fails before the model loads).
RULES = {"late_frac": ("a number in (0, 1]", lambda v: 0 < v <= 1),
         "answer_weight": ("a number >= 0", lambda v: 0 <= v < math.inf)}


def region_masks(calibration, late_frac: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per batch, (late, answer) masks over the next-token targets ``ids[:, 1:]``: column p-1 scores token p."""
    spans, out, row = calibration.spans, [], 0
    for b in calibration.batches:
        rows, width = b["input_ids"].shape
        late, answer = torch.zeros(rows, width - 1), torch.zeros(rows, width - 1)
        for r in range(rows):
            s = spans[row + r]
            if s is None:
                continue
            n_think = s.think_end - s.think_start
            first = s.think_end - math.ceil(late_frac * n_think)
            late[r, max(first, 1) - 1:s.think_end - 1] = 1
            if s.answer_start is not None:
                length = int(b["attention_mask"][r].sum())
                answer[r, max(s.answer_start, 1) - 1:length - 1] = 1
        out.append((late, answer))
        row += rows
    return out


@torch.no_grad()
def region_losses(model, batches, masks) -> tuple[float, float]:
    """Mean next-token cross-entropy over the late-thinking tokens and over the answer tokens (no KV cache)."""
    device = next(model.parameters()).device
    sums, counts = [0.0, 0.0], [0.0, 0.0]
    for b, pair in zip(batches, masks):
        ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
        nll = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten(), reduction="none").double()
        for k, m in enumerate(pair):
            m = m.to(device).flatten()
            sums[k] += float((nll * m).sum())
            counts[k] += float(m.sum())
    return tuple(s / c if c else 0.0 for s, c in zip(sums, counts))


@METHODS.register("chain")
class Chain(PruneMethod):
    needs_calibration = True
    _cached = True   # False: whole-model forward per candidate (tests compare the two)
    default_calibration = "traces"
    score_name = "chain_loss_increase"
    options = (
        MethodOption("late_frac", float, 0.5, "share of each trace's thinking, from its end, whose loss "
                     "counts (0 < F <= 1, default 0.5: the last half)"),
        MethodOption("answer_weight", float, 1.0, "weight of the answer tokens' loss beside the late thinking's "
                     "(>= 0, default 1.0)"),
    )

    def __init__(self, seed: int = 0, **options):
        super().__init__(seed, **options)
        for o in self.options:   # study files give raw values: the flag's rule, as a one-line error
            what, ok = RULES[o.name]
            value = self.settings[o.name]
            try:
                self.settings[o.name] = number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if isinstance(value, bool) or not ok(number):
                raise PrunescaleError(f"{o.flag(self.name)} {value!r} is not {what}")

    def objective(self, model, batches, masks, drop: list[int]) -> tuple[float, float, float]:
        """(objective, late loss, answer loss) of the model without layers ``drop``."""
        with without_layers(model, drop):
            late, answer = region_losses(model, batches, masks)
        return late + self.settings["answer_weight"] * answer, late, answer

    def candidates(self, model, batches, masks, removed: list[int], desc: str,
                   current: bool = False) -> dict[int | None, tuple]:
        """:meth:`objective` without ``removed`` and each layer left in turn, from cached layer inputs;
        ``current``: also without ``removed`` alone (key None)."""
        left = [i for i in range(num_layers(model)) if i not in removed]

        def reduce(k, nll, target):
            return tuple(x for m in masks[k] for x in (float((nll * m.to(nll.device)).sum()), float(m.sum())))

        scored = [(late + answer) > 0 for late, answer in masks]   # the head only where the objective looks
        sums = leave_one_out_sums(model, batches, removed, left, reduce, desc, scored,
                                  current=current) if self._cached else None
        if sums is None:
            return {i: self.objective(model, batches, masks, removed + ([] if i is None else [i]))
                    for i in tqdm(([None] if current else []) + left, desc=desc, unit="layer")}
        out = {}
        for i, (late, n_late, answer, n_answer) in sums.items():
            late, answer = late / n_late if n_late else 0.0, answer / n_answer if n_answer else 0.0
            out[i] = (late + self.settings["answer_weight"] * answer, late, answer)
        return out

    def plan(self, model, n, calibration=None) -> PruneResult:
        masks = self._masks(calibration)
        total, batches = num_layers(model), calibration.batches
        passes = 1 + sum(total - r for r in range(n))
        print(f"chain: {passes} forward passes over the {len(calibration.sequences)} calibration texts "
              f"(at most n_remove x n_layers + 1 = {n} x {total} + 1)", file=sys.stderr)
        removed, rounds, first, current = [], [], {}, None
        for r in range(n):
            absolute = self.candidates(model, batches, masks, removed, f"chain: round {r + 1}", current=r == 0)
            current = absolute.pop(None, current)   # round 1: the unpruned model's, from the same pass
            scored = {i: tuple(a - c for a, c in zip(v, current)) for i, v in absolute.items()}
            first = first or scored
            pick = min(scored, key=lambda i: (scored[i][0], i))
            removed.append(pick)
            rounds.append({"removed": pick, "increase": scored[pick][0], "late_increase": scored[pick][1],
                           "answer_increase": scored[pick][2], "objective_before": current[0]})
            current = absolute[pick]
        details = {"rounds": rounds, "forward_passes": passes, **{k: self.settings[k] for k in self.defaults},
                   "layer_columns": {"late_increase": [first[i][1] for i in range(total)],
                                     "answer_increase": [first[i][2] for i in range(total)]}}
        removed = sorted(removed)
        return PruneResult(removed=removed, kept=[i for i in range(total) if i not in removed],
                           scores=[first[i][0] for i in range(total)], score_name=self.score_name, details=details)

    def _masks(self, calibration):
        if calibration is None or not calibration.spans or not any(calibration.spans):
            spec = getattr(calibration, "spec", None)
            raise PrunescaleError(f"--method chain scores thinking and answer tokens, and calibration {spec!r} "
                                  "has none: use --calibration traces or traces:TASK")
        masks = region_masks(calibration, self.settings["late_frac"])
        if not any(float(late.sum()) for late, _ in masks):
            raise PrunescaleError(f"calibration {calibration.spec!r} has no thinking tokens to score "
                                  "(raise --max-seq-len)")
        return masks

    def choose(self, model, n, scores):
        # One shot on the first round's scores (what plan() does without re-scoring).
        return ascending(scores, n)
