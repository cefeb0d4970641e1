"""The headline table of a study: accuracy at each task's largest budget per variant, and its change against the
unpruned model of the same base."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..budgets import budget_key, budget_label, largest_budget
from ..contract.study_dir import CellInfo, StudyDir, VariantInfo, task_summary


@dataclass
class FinishedCell:
    info: CellInfo
    summary: dict

    @property
    def budgets(self) -> dict:
        """This cell's task's metrics by budget key ("512", "none")."""
        return (task_summary(self.summary, self.info.task) or {}).get("budgets") or {}


def collect_cells(root: str | Path) -> list[FinishedCell]:
    """Every finished cell: its cell.json and summary.json."""
    out = []
    for d in StudyDir(root).cell_dirs():
        cj, sj = d / "cell.json", d / "summary.json"
        if cj.is_file() and sj.is_file():
            out.append(FinishedCell(CellInfo.read(cj), json.loads(sj.read_text(encoding="utf-8"))))
    return out


def variant_order(ids, variants: dict[str, VariantInfo]) -> list[str]:
    """Model, then baseline first, then method, layers removed, recovery."""
    def key(vid):
        v = variants.get(vid) or VariantInfo(vid)
        return (v.model_label, v.method or "", v.n_removed, v.sparsity or 0.0, v.recovery or "")
    return sorted(ids, key=key)


def headline_rows(root: str | Path) -> tuple[list[str], list[list]]:
    variants = StudyDir(root).variants()
    cells = collect_cells(root)
    tasks = list(dict.fromkeys(c.info.task_label for c in cells))
    acc: dict[tuple[str, str], float] = {}
    for c in cells:
        top = largest_budget(c.budgets)
        if top is not None:
            acc[(c.info.variant_id, c.info.task_label)] = c.budgets[top]["accuracy"]
    header = ["model", "variant", "params", "removed"] + tasks
    rows = []
    for vid in variant_order({c.info.variant_id for c in cells}, variants):
        v = variants.get(vid) or VariantInfo(vid, model_label=vid, variant=vid)
        row = [v.model_label, v.variant, _millions(v.params), _share(v)]
        for t in tasks:
            a = acc.get((vid, t))
            b = acc.get((v.base_id, t))
            if a is None:
                row.append("-")
            elif b is None or vid == v.base_id:
                row.append(f"{a:.3f}")
            else:
                row.append(f"{a:.3f} ({a - b:+.3f})")
        rows.append(row)
    return header, rows


def _share(v: VariantInfo) -> str:
    """Share of the unpruned model's parameters removed: whole layers, or zeroed weights (still counted in params)."""
    return "-" if v.params_removed_share is None else f"{v.params_removed_share:.1%}"


def _millions(n) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}M"


def budget_rows(root: str | Path, task_label: str, metric: str = "accuracy") -> tuple[list[str], list[list]]:
    """Variant x budget table of one task entry (``metric``: accuracy, or e.g. ``pass@8`` / ``maj@8``)."""
    variants = StudyDir(root).variants()
    table: dict[str, dict[str, float]] = {}
    for c in collect_cells(root):
        if c.info.task_label != task_label:
            continue
        for b, vals in c.budgets.items():
            value = vals.get(metric)
            if value is None and "@" in metric:
                name, k = metric.split("@")
                value = (vals.get(f"{name}@k") or {}).get(k)
            if value is not None:
                table.setdefault(c.info.variant_id, {})[budget_label(b)] = value
    cols = sorted({b for row in table.values() for b in row}, key=budget_key)
    order = variant_order(table, variants)
    header = ["variant"] + cols
    rows = [[variants[vid].variant if vid in variants else vid] + [f"{table[vid][b]:.2f}" if b in table[vid] else "-"
                                                                  for b in cols] for vid in order]
    return header, rows
