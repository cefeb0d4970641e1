"""A study's paired comparisons: every variant with a method (pruned, or pruned and fine-tuned) against the
unpruned model of the same base, per task, from both cells' results stores (scaling/paired.py), with Holm's
correction per family of the study (docs/statistics.md):

- ``headline``: accuracy at the largest common budget, one per (variant, task), the claims a headline makes;
- ``accuracy`` (the other budgets), ``auc``, ``pass@k`` and ``maj@k``: each its own family.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..budgets import budget_key
from ..contract.naming import base_id
from ..contract.study_dir import StudyDir
from ..errors import PrunescaleError
from ..scaling.paired import COLUMNS, compare
from ..scaling.store import Store
from ..stats import holm

ALPHA = 0.05


def study_comparisons(root: str | Path, cells: list[dict], variants: dict[str, dict],
                      warnings: list[str] | None = None) -> list[dict]:
    """One record per comparison: variant_id, base_id, task_label, the comparison (scaling/paired.compare), its
    ``family``, ``p_holm`` and ``significant`` (p_holm < 0.05). ``cells``: dicts with id, variant_id, task,
    task_label and has_summary (report/collect.py's)."""
    lay, warnings = StudyDir(root), warnings if warnings is not None else []
    done = {(c.get("variant_id"), c.get("task_label")): c for c in cells if c.get("has_summary")}
    rows_cache: dict[str, list[dict] | None] = {}
    out = []
    for (vid, label), c in done.items():
        v = variants.get(vid) or {}
        base = done.get((base_id(vid), label))
        if not v.get("method") or base is None:
            continue
        a = _rows(lay, base, rows_cache, warnings)
        b = _rows(lay, c, rows_cache, warnings)
        if not a or not b:
            continue
        recs = compare(a, b, key=_answer_key(c.get("task")))
        top = max((r["budget"] for r in recs if r["metric"] == "accuracy"), key=budget_key, default=None)
        for r in recs:
            fam = "headline" if r["metric"] == "accuracy" and r["budget"] == top else r["metric"]
            out.append({"variant_id": vid, "base_id": base_id(vid), "task_label": label, "family": fam, **r})
    for fam in {r["family"] for r in out}:
        members = [r for r in out if r["family"] == fam]
        for r, adj in zip(members, holm([r["p"] for r in members])):
            r["p_holm"] = adj
            r["significant"] = adj is not None and adj < ALPHA
    return out


def headline_pairs(comparisons: list[dict]) -> dict[tuple[str, str], dict]:
    """(variant id, task label) -> its headline comparison."""
    return {(r["variant_id"], r["task_label"]): r for r in comparisons if r["family"] == "headline"}


def fmt_diff(r: dict | None) -> str:
    """``-0.52 [-0.61, -0.43]*`` (``*``: significant after Holm), or '' without a comparison."""
    if not r or r.get("diff") is None:
        return ""
    return f"{r['diff']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}]" + ("*" if r.get("significant") else "")


def _rows(lay: StudyDir, cell: dict, cache: dict, warnings: list[str]) -> list[dict] | None:
    cid = cell["id"]
    if cid not in cache:
        path = lay.cell(cid).store
        cache[cid] = None
        if path.is_file():
            try:
                store = Store(path, readonly=True)
                try:
                    rows = store.rows(columns=COLUMNS)
                finally:
                    store.close()
                mine = [r for r in rows if r["task"] == cell.get("task")]
                cache[cid] = mine or rows
            except (PrunescaleError, sqlite3.Error) as e:
                warnings.append(f"paired comparison: cannot read {path}: {e}")
    return cache[cid]


def _answer_key(spec: str | None):
    """The task's sound answer key (normalised answers), else the answer text itself."""
    from ..tasks.base import get_task

    try:
        return getattr(get_task(spec), "answer_key", str) if spec else str
    except Exception:   # an unknown or unbuildable task: group by the text
        return str
