"""The headline of a study, for ``prunescale study`` and the report alike: variants in one order (the study
file's methods), and per task the accuracy at its largest budget with its change against the unpruned model of
the same base. Each caller renders the values in its own columns."""

from __future__ import annotations

from dataclasses import dataclass

from ..contract.naming import base_id


def method_order(study_yaml) -> list[str]:
    """The methods of a study file (a parsed study.yaml), in its order."""
    methods = study_yaml.get("methods") if isinstance(study_yaml, dict) else None
    return [m for m in (methods or []) if isinstance(m, str)]


def variant_sort_key(v: dict, method_order: list[str] | None = None) -> tuple:
    """Model, the unpruned variant first, then method (in the study's order), layers removed, sparsity, recovery."""
    method_order = method_order or []
    m = v.get("method")
    rank = (0, 0, "") if not m else (1, method_order.index(m) if m in method_order else len(method_order), m)
    return (v.get("model_label") or "", *rank, v.get("n_removed") or 0, v.get("sparsity") or 0.0,
            v.get("recovery") or "", v.get("id"))


def order_variants(variants: dict[str, dict], method_order: list[str] | None = None) -> list[str]:
    """Variant ids in headline order."""
    return sorted(variants, key=lambda vid: variant_sort_key(variants[vid], method_order))


@dataclass
class HeadlineRow:
    variant: dict
    values: list   # per task: None (no accuracy), (accuracy, None) (unpruned, or no base) or (accuracy, change)
    pairs: list    # per task: its paired comparison against the base (report/paired.py), or None


def headline_rows(variants: dict[str, dict], accuracy: dict[tuple[str, str], float | None],
                  tasks: list[str], pairs: dict[tuple[str, str], dict] | None = None) -> list[HeadlineRow]:
    """One row per variant (``variants`` in the order wanted: :func:`order_variants`) with a finished cell of one
    of ``tasks``. ``accuracy``: (variant id, task label) of each finished cell -> its largest budget's accuracy;
    ``pairs``: (variant id, task label) -> its headline comparison (difference, interval, Holm)."""
    rows = []
    for vid, v in variants.items():
        if not any((vid, t) in accuracy for t in tasks):
            continue
        values = []
        for t in tasks:
            a, b = accuracy.get((vid, t)), accuracy.get((base_id(vid), t))
            values.append(None if a is None else (a, None) if b is None or not v.get("method") else (a, a - b))
        rows.append(HeadlineRow(v, values, [(pairs or {}).get((vid, t)) for t in tasks]))
    return rows


def fmt_value(value, pair: dict | None) -> str | None:
    """``0.019 (-0.52 [-0.61, -0.43]*)``: accuracy, then the paired difference against the base with its 95%
    interval (``*``: significant after Holm); ``0.019 (-0.519)`` without a paired comparison."""
    if value is None:
        return None
    if value[1] is None:
        return f"{value[0]:.3f}"
    if pair and pair.get("diff") is not None:
        star = "*" if pair.get("significant") else ""
        return f"{value[0]:.3f} ({pair['diff']:+.2f} [{pair['lo']:+.2f}, {pair['hi']:+.2f}]{star})"
    return f"{value[0]:.3f} ({value[1]:+.3f})"
