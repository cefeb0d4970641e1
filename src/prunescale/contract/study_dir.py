"""A study directory: the contract between ``study run``, ``study status``, ``report`` and ``fragility``.

::

    STUDY_DIR/
      study.yaml                  the resolved study (every option; re-runnable)
      study.sqlite                cell status table (WAL; contract/status.py): id, status, error, timings
      models/<variant_id>/        a pruned (or recovered) model directory with prunescale.json; the unpruned
                                  baseline is not copied (its variant.json points at the original)
      variants/<variant_id>.json  one per model variant (VariantInfo)
      cells/<cell_id>/            one ``prunescale eval`` run directory (contract/run_dir.py) plus cell.json
                                  (CellInfo), error.txt of a failed cell and analysis.json (``prunescale analyze``)
      fragility/<variant_id>.json `prunescale fragility` of each pruned variant against its unpruned model
      report.html, report.md, report_data.json, report_files/

A variant is (model, method, layers removed or sparsity, recovery); ``base`` is the unpruned model. A cell is
(variant, task entry). Ids and names: contract/naming.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..fileio import write_json_atomic
from .naming import base_id
from .run_dir import RunDir


def task_summary(summary, task: str | None) -> dict | None:
    """A cell's task in its summary.json (a cell evaluates one task: its only entry if the name differs)."""
    if not isinstance(summary, dict):
        return None
    tasks = summary.get("tasks") or {}
    if task in tasks:
        return tasks[task]
    return next(iter(tasks.values())) if len(tasks) == 1 else None


@dataclass
class VariantInfo:
    """variants/<id>.json: one model variant of a study."""

    id: str
    model: str = ""                   # the model spec as the user wrote it
    model_label: str = ""
    variant: str = ""                 # "base", "shortgpt-2", "shortgpt-2+lora", "wanda-s0.2"
    method: str | None = None         # None for the unpruned baseline
    n_removed: int = 0
    recovery: str | None = None       # None, "lora" or "full"
    path: str | None = None           # the model directory
    layers: int | None = None
    params: int | None = None
    size_bytes: int | None = None     # parameter bytes at the dtype used
    removed_layers: list = field(default_factory=list)
    merges: list = field(default_factory=list)
    score_name: str | None = None
    scores: list | None = None        # per layer, the method's own score
    prune_seconds: float | None = None
    finetune: dict | None = None      # recovery recipe (recovered variants only)
    sparsity: float | None = None     # unstructured methods: the sparsity asked for (n_removed is 0)
    pattern: str | None = None        # N:M
    allocation: str | None = None     # uniform | owl | a file
    measured_sparsity: float | None = None   # zeros / weights of the decoder layers' projections
    params_removed: int | None = None        # removed layers' parameters, or zeroed weights; 0 for the base
    params_removed_share: float | None = None   # params_removed over the unpruned model's parameters

    @property
    def base_id(self) -> str:
        """The unpruned variant of the same model."""
        return base_id(self.id)

    @classmethod
    def from_dict(cls, d: dict) -> "VariantInfo":
        known = {f.name for f in fields(cls)}
        v = cls(**{k: d[k] for k in d if k in known})
        v.n_removed = v.n_removed or 0
        return v

    @classmethod
    def read(cls, path: str | Path) -> "VariantInfo":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def write(self, path: str | Path) -> None:
        write_json_atomic(asdict(self), path)


@dataclass
class CellInfo:
    """cells/<id>/cell.json: one (variant, task entry) evaluation."""

    id: str
    variant_id: str
    task: str                         # the task spec
    task_label: str = ""              # the study entry's label (two entries of one task differ by it)
    kind: str | None = None           # "long_chain" or "knowledge"
    eval: dict = field(default_factory=dict)   # the eval options: budgets, samples, temperature, seeds, ...

    def __post_init__(self):
        self.task_label = self.task_label or self.task

    @classmethod
    def from_dict(cls, d: dict) -> "CellInfo":
        known = {f.name for f in fields(cls)}
        return cls(**{k: d[k] for k in d if k in known})

    @classmethod
    def read(cls, path: str | Path) -> "CellInfo":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def write(self, path: str | Path) -> None:
        write_json_atomic(asdict(self), path)


class StudyDir:
    """Paths and readers of one study directory (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    study_yaml = property(lambda self: self.root / "study.yaml")
    status_db = property(lambda self: self.root / "study.sqlite")
    report_html = property(lambda self: self.root / "report.html")
    report_md = property(lambda self: self.root / "report.md")
    report_data = property(lambda self: self.root / "report_data.json")
    report_files = property(lambda self: self.root / "report_files")   # report.md's figures

    variants_dir = property(lambda self: self.root / "variants")
    cells_dir = property(lambda self: self.root / "cells")
    fragility_dir = property(lambda self: self.root / "fragility")

    def model_dir(self, vid: str) -> Path:
        return self.root / "models" / vid

    def variant_json(self, vid: str) -> Path:
        return self.variants_dir / f"{vid}.json"

    def fragility_json(self, vid: str) -> Path:
        return self.fragility_dir / f"{vid}.json"

    def cell_dir(self, cid: str) -> Path:
        return self.cells_dir / cid

    def cell(self, cid: str) -> RunDir:
        return RunDir(self.cell_dir(cid))

    def variants(self) -> dict[str, VariantInfo]:
        """Every variants/*.json by id."""
        out = {}
        for f in self.variant_files():
            v = VariantInfo.read(f)
            out[v.id] = v
        return out

    def variant_files(self, pattern: str = "*") -> list[Path]:
        return sorted(self.variants_dir.glob(f"{pattern}.json"))

    def cell_dirs(self) -> list[Path]:
        return sorted(d for d in self.cells_dir.glob("*") if d.is_dir())
