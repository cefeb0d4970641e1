"""The measured loss of test-time scaling of each pruned variant, from a study's collected cells.

Two measures, each relative to the unpruned model of the same study, on long-chain tasks only (over several
tasks: 1 - the sum of the variant's values / the sum of the unpruned model's, so a task the unpruned model barely
solves weighs little instead of adding a loss of 0 or 1 by chance):

* ``auc_loss``: 1 - AUC(variant) / AUC(unpruned), where AUC is the area under accuracy against thinking budget
  (trapezoids over the budgets both were evaluated at, divided by the budget range: the mean accuracy over it;
  a single budget is its accuracy). 0: nothing lost, 1: everything;
* ``pass_loss``: 1 - pass@K(variant) / pass@K(unpruned) at the largest budget and the largest k both have.

A measure is None where the unpruned model scores 0 (nothing to lose) or a cell is missing.
"""

from __future__ import annotations

from ..budgets import budget_key
from ..contract.naming import base_id
from ..stats import mean


def auc(points: list[tuple[float, float]]) -> float | None:
    """Mean accuracy over the budget range: trapezoids divided by the range (one point: its accuracy)."""
    pts = sorted(points)
    if not pts:
        return None
    if len(pts) == 1 or pts[-1][0] == pts[0][0]:
        return mean([a for _, a in pts])
    area = sum((x1 - x0) * (a0 + a1) / 2 for (x0, a0), (x1, a1) in zip(pts, pts[1:]))
    return area / (pts[-1][0] - pts[0][0])


def _accuracies(cell: dict) -> dict[float, float]:
    """Accuracy by numeric budget (no-cap budgets only when there is nothing else)."""
    out = {budget_key(b): v.get("accuracy") for b, v in (cell.get("budgets") or {}).items()
           if isinstance(v.get("accuracy"), (int, float))}
    finite = {b: a for b, a in out.items() if b != float("inf")}
    return finite or ({0.0: out[float("inf")]} if float("inf") in out else {})


def _relative_loss(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return 1 - value / base


def auc_pair(cell: dict, base: dict) -> tuple[float, float] | None:
    """(AUC of the variant, AUC of the unpruned model) over the budgets both have."""
    acc, ref = _accuracies(cell), _accuracies(base)
    common = sorted(set(acc) & set(ref))
    if not common:
        return None
    return auc([(b, acc[b]) for b in common]), auc([(b, ref[b]) for b in common])


def pass_pair(cell: dict, base: dict) -> tuple[float, float] | None:
    """(pass@K of the variant, of the unpruned model) at the largest budget and largest k both have."""
    budgets = set(cell.get("budgets") or {}) & set(base.get("budgets") or {})
    if not budgets:
        return None
    top = max(budgets, key=budget_key)
    mine, ref = (cell["budgets"][top].get("pass@k") or {}), (base["budgets"][top].get("pass@k") or {})
    ks = set(mine) & set(ref)
    if not ks:
        return None
    k = max(ks, key=int)
    return mine[k], ref[k]


def _loss(pairs: list) -> float | None:
    pairs = [p for p in pairs if p is not None]
    return _relative_loss(sum(v for v, _ in pairs), sum(b for _, b in pairs)) if pairs else None


def tts_losses(variants: dict, cells: list[dict]) -> dict[str, dict]:
    """{variant id: {auc_loss, pass_loss, tasks: {label: {auc_loss, pass_loss}}}} of every pruned variant with a
    long-chain cell beside its unpruned model's."""
    index = {(c.get("variant_id"), c.get("task_label")): c for c in cells
             if c.get("has_summary") and c.get("kind") == "long_chain"}
    out = {}
    for vid, v in variants.items():
        if not v.get("method"):
            continue
        base = v.get("base_id") or base_id(vid)
        pairs = {label: (auc_pair(cell, index[(base, label)]), pass_pair(cell, index[(base, label)]))
                 for (cvid, label), cell in index.items() if cvid == vid and (base, label) in index}
        if pairs:
            tasks = {label: {"auc_loss": _loss([a]), "pass_loss": _loss([p])} for label, (a, p) in pairs.items()}
            out[vid] = {"auc_loss": _loss([a for a, _ in pairs.values()]),
                        "pass_loss": _loss([p for _, p in pairs.values()]), "tasks": tasks}
    return out
