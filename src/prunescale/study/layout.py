"""Where a study keeps things: the contract between ``study run``, ``study status`` and ``report``.

::

    STUDY_DIR/
      study.yaml                  the resolved study (every option; re-runnable)
      study.sqlite                cell status table (WAL): id, status todo|running|done|failed, error, timings
      models/<variant_id>/        a pruned (or recovered) model directory with prunescale.json; the unpruned
                                  baseline is not copied (its variant.json points at the original)
      variants/<variant_id>.json  one per model variant (see VARIANT_KEYS)
      cells/<cell_id>/            one ``prunescale eval`` run dir: results.sqlite, summary.json, config.yaml,
                                  plus cell.json (see CELL_KEYS) and analysis.json (``prunescale analyze``)
      report.html, report.md, report_data.json

A variant is (model, method, layers removed, recovery); ``base`` is the unpruned model. A cell is (variant,
task entry). Ids are file-name safe: ``<model_slug>__<variant>`` and ``<variant_id>__<task_slug>``.
"""

from __future__ import annotations

import re
from pathlib import Path

# variants/<id>.json: {"id", "model" (spec as the user wrote it), "model_label", "variant" ("base",
# "shortgpt-2", "shortgpt-2+lora"), "method" (None for base), "n_removed" (0 for base), "recovery" (None,
# "lora" or "full"), "path" (model directory), "layers", "params", "size_bytes" (parameter bytes at the
# dtype used), "removed_layers", "merges", "score_name", "scores" (per-layer, the method's own), "prune_seconds"}
VARIANT_KEYS = ("id", "model", "model_label", "variant", "method", "n_removed", "recovery", "path", "layers",
                "params", "size_bytes", "removed_layers", "merges", "score_name", "scores", "prune_seconds")

# cells/<id>/cell.json: {"id", "variant_id", "task" (task spec), "task_label" (the study entry's label: two
# entries of one task, say greedy and sampled, differ by label; figures group by it), "kind" ("long_chain" or
# "knowledge"), "eval" (the eval options: budgets, samples, temperature, seeds, limit, ...)}
CELL_KEYS = ("id", "variant_id", "task", "task_label", "kind", "eval")


def slug(text: str) -> str:
    """A file-name-safe, readable form of a model spec or task spec."""
    s = re.sub(r"[^A-Za-z0-9._=+-]+", "-", text.strip()).strip("-.")
    return s or "x"


def variant_id(model: str, variant: str) -> str:
    return f"{slug(model.split('/')[-1] if not model.startswith('embedded:') else model[9:])}__{variant}"


def variant_name(method: str | None, n_removed: int, recovery: str | None = None) -> str:
    name = "base" if not method else f"{method}-{n_removed}"
    return f"{name}+{recovery}" if recovery else name


def cell_id(variant_id_: str, task: str) -> str:
    return f"{variant_id_}__{slug(task)}"


class Layout:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    study_yaml = property(lambda self: self.root / "study.yaml")
    status_db = property(lambda self: self.root / "study.sqlite")
    report_html = property(lambda self: self.root / "report.html")
    report_md = property(lambda self: self.root / "report.md")
    report_data = property(lambda self: self.root / "report_data.json")

    def model_dir(self, vid: str) -> Path:
        return self.root / "models" / vid

    def variant_json(self, vid: str) -> Path:
        return self.root / "variants" / f"{vid}.json"

    def cell_dir(self, cid: str) -> Path:
        return self.root / "cells" / cid
