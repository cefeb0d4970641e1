"""One eval run from its config: check every input, build the backend (or take a study's), evaluate."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import yaml

from ..contract.run_dir import RunDir
from ..contract.run_dir import model_record as record_path
from ..fileio import check_out_dir
from ..generate import BACKENDS
from ..generate.base import Built, build
from .evaluate import EvalConfig, build_tasks, evaluate, load_problems


def run_eval(cfg: EvalConfig, options: dict | None = None, backend: Callable[[], Built] | None = None,
             model: dict | None = None) -> dict:
    """The one eval path, of ``prunescale eval`` and of a study cell: check every input (options, out directory,
    task files) before creating anything, write config.yaml (``options``, re-runnable with ``--config``; by
    default the config), evaluate.

    Without ``backend`` the run builds its own (backend and model checked up front, the engine closed at the
    end), writes ``options`` with tasks and data as the absolute paths stored, and a run that fails before
    storing a generation removes what it created. ``backend``: a study's, reused across its cells (called once the
    inputs are checked, so a bad input never replaces its engine); it stays open, ``options`` are written as given
    and the study owns the directory. ``model``: the manifest's model entry (default: spec, path, pruning)."""
    from ..models.loading import resolve_path

    own = backend is None
    if own and cfg.data:   # the store records it; absolute, so a re-run from elsewhere reads the same file
        cfg.data = str(Path(cfg.data).expanduser().resolve())
    cfg.validate()
    out = Path(cfg.out)
    check_out_dir(out)
    if own:
        BACKENDS.get(cfg.backend)   # unknown backend: fail before loading anything
        resolve_path(cfg.model)     # a missing local model directory: likewise
    tasks = build_tasks(cfg)
    problems = load_problems(cfg, tasks)
    built = build(cfg.backend_options()) if own else backend()
    manifest = {"model": model or model_record(cfg, built), "profile": vars(built.profile)}
    undo = _Undo(out) if own else None
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = dict(options if options is not None else asdict(cfg))
        if own:   # the resolved options (tasks and data as the absolute paths stored)
            written.update(tasks=",".join(tasks), data=cfg.data)
        RunDir(out).config_yaml.write_text(yaml.safe_dump(written, sort_keys=False))
        return evaluate(cfg, built.backend, tasks, built.profile.name, problems=problems,
                        progress=sys.stderr.isatty(), extra_manifest=manifest)
    except BaseException:
        if undo:
            undo.run()
        raise
    finally:
        if own:
            built.backend.close()   # an in-process engine frees its memory


def model_record(cfg: EvalConfig, built: Built) -> dict:
    """What is known of the model a run evaluates: its spec, path and pruning record."""
    record = record_path(built.path)
    manifest = {"spec": cfg.model, "path": str(built.path)}
    if record.is_file():
        manifest["pruning"] = json.loads(record.read_text())
        manifest["pruning"].pop("scores", None)
    return manifest


class _Undo:
    """What a run creates in its out directory, removed again if it fails before storing any generation."""

    STORE = tuple(p.name for p in RunDir(".").store_files)

    def __init__(self, out: Path):
        self.out = out
        top = out
        while not top.parent.exists() and top.parent != top:
            top = top.parent
        self.top = None if out.exists() else top          # the first directory this run creates
        self.existed = {f for f in self.STORE if (out / f).exists()}
        config = RunDir(out).config_yaml
        self.config = config.read_bytes() if config.is_file() else None

    def run(self) -> None:
        store = RunDir(self.out).store
        if store.is_file() and _count(store) != 0:
            return   # generations were stored: keep everything, a re-run resumes
        if self.top is not None:
            shutil.rmtree(self.top, ignore_errors=True)
            return
        for name in set(self.STORE) - self.existed:
            (self.out / name).unlink(missing_ok=True)
        if self.config is None:
            RunDir(self.out).config_yaml.unlink(missing_ok=True)
        else:
            RunDir(self.out).config_yaml.write_bytes(self.config)


def _count(db: Path) -> int | None:
    try:
        with closing(sqlite3.connect(db)) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return None
