"""Tables shared by the HTML and Markdown reports: the headline, the cell list, the versions.

A table is (header, rows); a row cell is a plain value, or ``{"text": ..., "delta": x}`` for an accuracy with
its change against the unpruned model (the HTML colours it).
"""

from __future__ import annotations

from ..budgets import budget_key
from .headline import fmt_value, headline_rows
from .paired import headline_pairs


def sections(data: dict | None = None) -> list[tuple[str, str]]:
    """(anchor, heading) of every section, in page order; the figure sections come from the figure registry.
    With ``data``: the sections its report shows ("Recovery" only for a study with a recovered variant)."""
    from .figures import figure_families

    recovery = [("recovery", "Recovery")] if data is None or has_recovery(data) else []
    return ([("headline", "Headline: accuracy at the largest budget"), ("cells", "Cells and failures")]
            + [(f.id, f.heading) for f in figure_families()]
            + [("paired", "Paired differences against the unpruned model")] + recovery
            + [("samples", "Sample browser"), ("numbers", "Every number behind the figures"),
               ("provenance", "Study file and versions")])


def has_recovery(data: dict) -> bool:
    """Whether the study has a recovered (fine-tuned) variant: its report gets a "Recovery" section."""
    return any(v.get("recovery") for v in (data.get("variants") or {}).values())


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
    for r in headline_rows(data["variants"], accuracy, tasks, headline_pairs(data.get("paired") or [])):
        v = r.variant
        row = [v.get("model_label"), v.get("variant"), v.get("layers"),
               f"{v['params'] / 1e6:.3f}" if v.get("params") else None,
               f"{v['size_bytes'] / 2**20:.2f}" if v.get("size_bytes") else None]
        for value, pair in zip(r.values, r.pairs):
            if value is None or value[1] is None:
                row.append(fmt_value(value, pair))
            else:
                row.append({"text": fmt_value(value, pair), "delta": value[1]})
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


PAIRED_NOTE = ("Each row: a variant minus the unpruned model of the same base on the same problems (and seeds). "
               "Interval: 95% paired bootstrap over problems (seeds nested), seed 0. p: McNemar exact (one greedy "
               "sample per problem) or a sign-flip permutation test on per-problem differences. Holm: adjusted "
               "within each family of the study (headline = accuracy at the largest budget; the other budgets, "
               "AUC, pass@k, maj@k each a family); * = Holm p < 0.05. Seeds: mean ± sd of accuracy over seeds, "
               "beside the interval over problems. docs/statistics.md gives every formula.")


def paired_table(data: dict) -> tuple[list[str], list[list]]:
    """Every paired comparison of the study (report/paired.py), headline family first."""
    header = ["variant", "task", "metric", "budget", "base", "variant value", "difference [95% CI]", "p", "test",
              "Holm p", "problems", "seeds: base / variant"]
    order = {"headline": 0, "auc": 1, "accuracy": 2, "pass@k": 3, "maj@k": 4}
    rows = []
    recs = sorted(data.get("paired") or [], key=lambda r: (order.get(r["family"], 9), list(data["variants"]).index(
        r["variant_id"]) if r["variant_id"] in data["variants"] else 0, r["task_label"]))
    for r in recs:
        v = data["variants"].get(r["variant_id"]) or {}
        metric = r["metric"] if r.get("k") is None else r["metric"].replace("@k", f"@{r['k']}")
        rows.append([v.get("variant") or r["variant_id"], r["task_label"], metric, r.get("budget") or "all",
                     fmt(r.get("base")), fmt(r.get("variant")),
                     "" if r.get("diff") is None else f"{r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}]"
                     + ("*" if r.get("significant") else ""),
                     _p(r.get("p")), r.get("test"), _p(r.get("p_holm")), r.get("n_problems"),
                     _seed_spread(data, r)])
    return header, rows


def _p(p) -> str:
    return "–" if p is None else f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def _seed_spread(data: dict, r: dict) -> str:
    """Accuracy mean ± sd over seeds of base and variant at the comparison's budget (accuracy metrics only)."""
    if r["metric"] != "accuracy" or (r.get("n_seeds") or 0) < 2:
        return ""
    out = []
    for vid in (r["base_id"], r["variant_id"]):
        c = next((c for c in data["cells"] if c.get("variant_id") == vid and c.get("task_label") == r["task_label"]),
                 None)
        vals = ((c or {}).get("budgets") or {}).get(r["budget"]) or {}
        out.append(f"{fmt(vals.get('accuracy'))} ± {fmt(vals.get('accuracy_std'))}")
    return " / ".join(out)
