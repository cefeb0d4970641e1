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


def headline_rows(variants: dict[str, dict], accuracy: dict[tuple[str, str], float | None],
                  tasks: list[str]) -> list[HeadlineRow]:
    """One row per variant (``variants`` in the order wanted: :func:`order_variants`) with a finished cell of one
    of ``tasks``. ``accuracy``: (variant id, task label) of each finished cell -> its largest budget's accuracy."""
    rows = []
    for vid, v in variants.items():
        if not any((vid, t) in accuracy for t in tasks):
            continue
        values = []
        for t in tasks:
            a, b = accuracy.get((vid, t)), accuracy.get((base_id(vid), t))
            values.append(None if a is None else (a, None) if b is None or not v.get("method") else (a, a - b))
        rows.append(HeadlineRow(v, values))
    return rows
