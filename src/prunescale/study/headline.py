"""The headline table of a study as ``prunescale study`` prints it (values: report/headline.py), and a task's
metric at every budget per variant."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ..budgets import budget_key, budget_label, largest_budget
from ..contract.naming import VariantName, split_variant_id
from ..contract.study_dir import CellInfo, StudyDir, VariantInfo, task_summary
from ..report.headline import fmt_value, headline_rows as headline_values, method_order, order_variants
from ..report.paired import headline_pairs, study_comparisons


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
    lay, out = StudyDir(root), []
    for d in lay.cell_dirs():
        cell = lay.cell(d.name)
        if cell.cell_json.is_file() and cell.summary_json.is_file():
            out.append(FinishedCell(CellInfo.read(cell.cell_json), cell.summary()))
    return out


def ordered_variants(root: str | Path, ids) -> dict[str, dict]:
    """The variants ``ids`` (their variants/*.json, else what their id says) in the headline's order: the study
    file's method order, as the report has them."""
    lay = StudyDir(root)
    known = lay.variants()
    variants = {vid: asdict(known[vid]) if vid in known else _from_id(vid) for vid in ids}
    try:
        study_yaml = yaml.safe_load(lay.study_yaml.read_text(errors="replace"))
    except (OSError, yaml.YAMLError):
        study_yaml = None
    return {vid: variants[vid] for vid in order_variants(variants, method_order(study_yaml))}


def _from_id(vid: str) -> dict:
    """A variant without its json: named by its id, its method and size read from the id."""
    name = VariantName.parse(split_variant_id(vid)[1] or vid)
    return asdict(VariantInfo(vid, model_label=vid, variant=vid, method=name.method, n_removed=name.n_removed,
                              recovery=name.recovery, sparsity=name.sparsity))


def headline_rows(root: str | Path) -> tuple[list[str], list[list]]:
    """The headline (report/headline.py) in the columns ``prunescale study`` prints."""
    cells = collect_cells(root)
    tasks = list(dict.fromkeys(c.info.task_label for c in cells))
    acc: dict[tuple[str, str], float | None] = {}
    for c in cells:
        top = largest_budget(c.budgets)
        acc[(c.info.variant_id, c.info.task_label)] = None if top is None else c.budgets[top].get("accuracy")
    header = ["model", "variant", "params", "removed"] + tasks
    rows = []
    variants = ordered_variants(root, {c.info.variant_id for c in cells})
    pairs = headline_pairs(study_comparisons(root, [
        {"id": c.info.id, "variant_id": c.info.variant_id, "task": c.info.task, "task_label": c.info.task_label,
         "has_summary": True} for c in cells], variants))
    for r in headline_values(variants, acc, tasks, pairs):
        v = VariantInfo.from_dict(r.variant)
        rows.append([v.model_label, v.variant, _millions(v.params), _share(v)] + [
            fmt_value(value, pair) or "-" for value, pair in zip(r.values, r.pairs)])
    return header, rows


def _share(v: VariantInfo) -> str:
    """Share of the unpruned model's parameters removed: whole layers, or zeroed weights (still counted in params)."""
    return "-" if v.params_removed_share is None else f"{v.params_removed_share:.1%}"


def _millions(n) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}M"


def budget_rows(root: str | Path, task_label: str, metric: str = "accuracy") -> tuple[list[str], list[list]]:
    """Variant x budget table of one task entry (``metric``: accuracy, or e.g. ``pass@8`` / ``maj@8``)."""
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
    variants = ordered_variants(root, table)
    header = ["variant"] + cols
    rows = [[v["variant"]] + [f"{table[vid][b]:.2f}" if b in table[vid] else "-" for b in cols]
            for vid, v in variants.items()]
    return header, rows


def variant_analyses(root: str | Path, pattern: str = "*") -> list[tuple[VariantInfo, dict]]:
    """Each variant whose id matches ``pattern``, with the first analysis group of its cells ({} if none)."""
    lay, out = StudyDir(root), []
    for f in lay.variant_files(pattern):
        v = VariantInfo.read(f)
        groups = []
        for d in lay.cells_dir.glob(f"{v.id}__*"):
            groups += (lay.cell(d.name).analysis() or {}).get("groups", [])
        out.append((v, groups[0] if groups else {}))
    return out
