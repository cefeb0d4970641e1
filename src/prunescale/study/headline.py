"""The headline table of a study: accuracy at each task's largest budget per variant, and its change against the
unpruned model of the same base."""

from __future__ import annotations

import json
from pathlib import Path

from .layout import Layout


def collect_cells(root: str | Path) -> list[dict]:
    """Every finished cell: its cell.json plus summary.json (as ``summary``)."""
    layout = Layout(root)
    out = []
    for d in sorted((layout.root / "cells").glob("*")):
        cj, sj = d / "cell.json", d / "summary.json"
        if cj.is_file() and sj.is_file():
            out.append({**json.loads(cj.read_text()), "summary": json.loads(sj.read_text())})
    return out


def largest_budget(task_summary: dict) -> tuple[str, dict] | None:
    budgets = task_summary.get("budgets") or {}
    if not budgets:
        return None
    key = max(budgets, key=lambda b: float("inf") if int(b) < 0 else int(b))
    return key, budgets[key]


def load_variants(root: str | Path) -> dict[str, dict]:
    """variants/*.json by variant id."""
    out = {}
    for f in sorted((Layout(root).root / "variants").glob("*.json")):
        v = json.loads(f.read_text())
        out[v["id"]] = v
    return out


def variant_order(ids, variants: dict[str, dict]) -> list[str]:
    """Model, then baseline first, then method, layers removed, recovery."""
    def key(vid):
        v = variants.get(vid, {})
        return (v.get("model_label", ""), v.get("method") or "", v.get("n_removed", 0), v.get("recovery") or "")
    return sorted(ids, key=key)


def headline_rows(root: str | Path) -> tuple[list[str], list[list]]:
    variants = load_variants(root)
    cells = collect_cells(root)
    tasks = list(dict.fromkeys(c.get("task_label") or c["task"] for c in cells))
    acc: dict[tuple[str, str], float] = {}
    for c in cells:
        t = c["summary"]["tasks"].get(c["task"])
        lb = largest_budget(t) if t else None
        if lb:
            acc[(c["variant_id"], c.get("task_label") or c["task"])] = lb[1]["accuracy"]
    header = ["model", "variant", "params"] + tasks
    rows = []
    for vid in variant_order({c["variant_id"] for c in cells}, variants):
        v = variants.get(vid, {"model_label": vid, "variant": vid, "params": None})
        base = f"{vid.split('__')[0]}__base"
        row = [v.get("model_label"), v.get("variant"), _millions(v.get("params"))]
        for t in tasks:
            a = acc.get((vid, t))
            b = acc.get((base, t))
            if a is None:
                row.append("-")
            elif b is None or vid == base:
                row.append(f"{a:.3f}")
            else:
                row.append(f"{a:.3f} ({a - b:+.3f})")
        rows.append(row)
    return header, rows


def _millions(n) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}M"


def budget_rows(root: str | Path, task_label: str, metric: str = "accuracy") -> tuple[list[str], list[list]]:
    """Variant x budget table of one task entry (``metric``: accuracy, or e.g. ``pass@8`` / ``maj@8``)."""
    variants = load_variants(root)
    table: dict[str, dict[str, float]] = {}
    budgets: set[int] = set()
    for c in collect_cells(root):
        if (c.get("task_label") or c["task"]) != task_label:
            continue
        t = c["summary"]["tasks"].get(c["task"], {})
        for b, vals in (t.get("budgets") or {}).items():
            value = vals.get(metric)
            if value is None and "@" in metric:
                name, k = metric.split("@")
                value = (vals.get(f"{name}@k") or {}).get(k)
            if value is not None:
                table.setdefault(c["variant_id"], {})[b] = value
                budgets.add(int(b))
    cols = [str(b) for b in sorted(budgets, key=lambda b: float("inf") if b < 0 else b)]
    order = variant_order(table, variants)
    header = ["variant"] + [("none" if int(b) < 0 else b) for b in cols]
    rows = [[variants.get(vid, {}).get("variant", vid)] + [f"{table[vid][b]:.2f}" if b in table[vid] else "-"
                                                             for b in cols] for vid in order]
    return header, rows
