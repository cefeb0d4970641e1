"""The report's "Recovery" section: per task, every pruned variant that has recovered ones, under each recipe
(none: the pruned model itself; else the ``+NAME`` variants), with its sequential curve (accuracy at each
budget), pass@k at the largest budget and the paired differences against the unpruned model (report/paired.py's
records, not recomputed). Shown only when the study has a recovered variant.
"""

from __future__ import annotations

from ..budgets import budget_key
from .paired import fmt_diff
from .tables import fmt

NOTE = ("Per task: the unpruned model, then each pruned model under each recovery recipe (none = the pruned model "
        "itself). Accuracy at every thinking budget (the sequential curve), pass@k at the largest budget where a "
        "task draws several samples, and the paired differences against the unpruned model on the same problems "
        "(95% interval over problems; * significant after Holm; the paired differences section has every one). "
        "Training: the recipe's objective, data and the assistant tokens it trained on.")


def recovery_tables(data: dict) -> list[tuple[str, list[str], list[list]]]:
    """(task label, header, rows) per task with a finished cell."""
    variants = data.get("variants") or {}
    cells = {(c.get("variant_id"), c.get("task_label")): c for c in data["cells"] if c.get("has_summary")}
    paired = data.get("paired") or []
    out = []
    for task in (t["label"] for t in data["tasks"]):
        mine = {vid: c for (vid, label), c in cells.items() if label == task}
        if not mine:
            continue
        budgets = sorted({b for c in mine.values() for b in c.get("budgets") or {}}, key=budget_key)
        top = budgets[-1] if budgets else None
        ks = [k for c in mine.values() for k in ((c.get("budgets") or {}).get(top, {}).get("pass@k") or {})]
        k = max(ks, key=int) if ks and max(int(x) for x in ks) > 1 else None   # pass@1 is the accuracy
        header = (["pruned", "recipe", "training"] + [f"acc @ {b}" for b in budgets]
                  + ([f"pass@{k} @ {top}"] if k else [])
                  + [f"vs unpruned: acc @ {top} [95% CI]"] + ([f"vs unpruned: pass@{k}"] if k else []))
        rows = []
        for vid, recipe in _order(variants):
            c = mine.get(vid)
            if c is None:
                continue
            v = variants[vid]
            vals = c.get("budgets") or {}
            row = [_pruned_name(v), recipe, _training(v)] + [fmt((vals.get(b) or {}).get("accuracy")) for b in budgets]
            if k:
                row.append(fmt(((vals.get(top) or {}).get("pass@k") or {}).get(k)))
            row.append(fmt_diff(_pair(paired, vid, task, "headline")) or ("–" if v.get("method") else "reference"))
            if k:
                row.append(fmt_diff(_pair(paired, vid, task, "pass@k", int(k))) or "–")
            rows.append(row)
        if len(rows) > 1:
            out.append((task, header, rows))
    return out


def _order(variants: dict) -> list[tuple[str, str]]:
    """(variant id, recipe): the unpruned models, then each pruned variant with recovered ones, its recipes after
    it in the study's order."""
    def parent(v):
        return (v.get("model"), v.get("method"), v.get("n_removed"), v.get("sparsity"))

    recovered = {parent(v) for v in variants.values() if v.get("recovery")}
    out = [(vid, "–") for vid, v in variants.items() if not v.get("method") and
           any(p[0] == v.get("model") for p in recovered)]
    for vid, v in variants.items():
        if v.get("method") and not v.get("recovery") and parent(v) in recovered:
            out.append((vid, "none"))
            out += [(rid, r["recovery"]) for rid, r in variants.items()
                    if r.get("recovery") and parent(r) == parent(v)]
    return out


def _pruned_name(v: dict) -> str:
    if not v.get("method"):
        return f"{v.get('model_label') or v.get('model')} (unpruned)"
    return str(v.get("variant") or "").split("+")[0]


def _training(v: dict) -> str:
    ft = v.get("finetune") or {}
    if not v.get("recovery") or not ft:
        return ""
    tokens = ft.get("trained_tokens")
    return (f"{ft.get('objective') or 'sft'}, {ft.get('mode')}, on {ft.get('data')}, {ft.get('global_step')} steps"
            + (f", {tokens:,} tokens" if tokens else ""))


def _pair(paired: list[dict], vid: str, task: str, family: str, k: int | None = None) -> dict | None:
    return next((r for r in paired if r["variant_id"] == vid and r["task_label"] == task and r["family"] == family
                 and (k is None or r.get("k") == k)), None)
