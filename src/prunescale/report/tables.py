"""Tables shared by the HTML and Markdown reports: the headline, the cell list, the versions.

A table is (header, rows); a row cell is a plain value, or ``{"text": ..., "delta": x}`` for an accuracy with
its change against the unpruned model (the HTML colours it).
"""

from __future__ import annotations

from ..budgets import budget_key
from .headline import headline_rows


def sections() -> list[tuple[str, str]]:
    """(anchor, heading) of every section, in page order; the figure sections come from the figure registry."""
    from .figures import figure_families

    return ([("headline", "Headline: accuracy at the largest budget"), ("cells", "Cells and failures")]
            + [(f.id, f.heading) for f in figure_families()]
            + [("samples", "Sample browser"), ("numbers", "Every number behind the figures"),
               ("provenance", "Study file and versions")])


def fmt(x, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def task_budgets(data: dict) -> dict[str, str | None]:
    """The largest budget seen per task label."""
    out: dict[str, str | None] = {t["label"]: None for t in data["tasks"]}
    for c in data["cells"]:
        b = c.get("largest_budget")
        label = c.get("task_label")
        if b is not None and label in out and (out[label] is None or budget_key(b) > budget_key(out[label])):
            out[label] = b
    return out


def headline(data: dict) -> tuple[list[str], list[list]]:
    """The headline (report/headline.py) in the report's columns; data["variants"] is already in its order."""
    accuracy = {(c["variant_id"], c["task_label"]): _top_acc(c) for c in data["cells"] if c.get("has_summary")}
    budgets = task_budgets(data)
    tasks = [t["label"] for t in data["tasks"]]
    header = ["model", "variant", "layers", "params (M)", "size (MiB)"] + [
        f"{t} @ {budgets[t]}" if budgets[t] else t for t in tasks]
    rows = []
    for r in headline_rows(data["variants"], accuracy, tasks):
        v = r.variant
        row = [v.get("model_label"), v.get("variant"), v.get("layers"),
               f"{v['params'] / 1e6:.3f}" if v.get("params") else None,
               f"{v['size_bytes'] / 2**20:.2f}" if v.get("size_bytes") else None]
        for value in r.values:
            if value is None:
                row.append(None)
            elif value[1] is None:
                row.append(f"{value[0]:.3f}")
            else:
                row.append({"text": f"{value[0]:.3f} ({value[1]:+.3f})", "delta": value[1]})
        rows.append(row)
    return header, rows


def _top_acc(c: dict | None):
    if not c or not c.get("largest_budget"):
        return None
    return c["budgets"][c["largest_budget"]].get("accuracy")


def status_counts(data: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in data["cells"]:
        out[c["status"]] = out.get(c["status"], 0) + 1
    return out


def cell_table(data: dict) -> tuple[list[str], list[list]]:
    header = ["cell", "variant", "task", "kind", "status", "seconds", "results", "analysis", "error"]
    rows = []
    for c in data["cells"]:
        v = data["variants"].get(c.get("variant_id")) or {}
        name = v.get("variant") or str(c.get("variant_id") or "").split("__", 1)[-1]
        rows.append([c["id"], name, c.get("task_label"), c.get("kind"),
                     c["status"], fmt(c.get("seconds"), 1) if c.get("seconds") is not None else None,
                     "yes" if c.get("has_summary") else "no", "yes" if c.get("has_analysis") else "no",
                     c.get("error") or ""])
    return header, rows


def failed_cells(data: dict) -> list[dict]:
    return [c for c in data["cells"] if c["status"] == "failed"]


def version_table(data: dict) -> tuple[list[str], list[list]]:
    header = ["used by", "prunescale", "torch", "transformers", "pruned with"]
    rows = []
    for g in data["versions"]:
        e, p = g.get("eval") or {}, g.get("prune") or {}
        cells = g["cells"]
        used = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}: " + ", ".join(cells[:6]) + (
            " …" if len(cells) > 6 else "")
        rows.append([used, e.get("prunescale"), e.get("torch"), e.get("transformers"),
                     ", ".join(f"{k} {v}" for k, v in p.items()) if p else "–"])
    return header, rows
