"""A run directory (what ``prunescale eval`` writes; a study cell is one) and a model directory's record.

::

    RUN_DIR/
      results.sqlite   every generation (scaling/store.py)
      summary.json     metrics per task and budget
      config.yaml      the resolved eval options
      analysis.json    ``prunescale analyze`` (analysis.csv beside it)
      cell.json        a study cell's CellInfo (study cells only)
      error.txt        a failed study cell's traceback
    MODEL_DIR/prunescale.json   how a pruned or fine-tuned model was made
"""

from __future__ import annotations

import json
from pathlib import Path

MODEL_RECORD = "prunescale.json"


def model_record(model_dir: str | Path) -> Path:
    """The record of a pruned or fine-tuned model directory (absent for a hub or plain model)."""
    return Path(model_dir) / MODEL_RECORD


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    store = property(lambda self: self.root / "results.sqlite")
    summary_json = property(lambda self: self.root / "summary.json")
    config_yaml = property(lambda self: self.root / "config.yaml")
    analysis_json = property(lambda self: self.root / "analysis.json")
    analysis_csv = property(lambda self: self.root / "analysis.csv")
    cell_json = property(lambda self: self.root / "cell.json")
    error_txt = property(lambda self: self.root / "error.txt")

    @property
    def store_files(self) -> tuple[Path, ...]:
        """The store and SQLite's WAL files beside it."""
        return (self.store, self.store.with_name(self.store.name + "-wal"),
                self.store.with_name(self.store.name + "-shm"))

    @property
    def name(self) -> str:
        return self.root.name

    def summary(self) -> dict | None:
        """summary.json, or None before the run finished."""
        return _json(self.summary_json)

    def analysis(self) -> dict | None:
        return _json(self.analysis_json)


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
