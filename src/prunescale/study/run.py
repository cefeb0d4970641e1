"""Run a study: prepare every model variant once, evaluate every cell not yet done, analyse, report.

Each cell is an ordinary eval run directory, so a study killed at any point resumes where it stopped: cells
marked done are skipped, and a half-done cell's own store resumes. A failing cell is recorded with its error
and the others go on.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import yaml

from ..errors import PrunescaleError
from .layout import Layout
from .spec import Cell, Study, parse_study
from .status import StatusDB, options_hash
from .variants import prepare_variant, write_json


def init_study_dir(study: Study, root: str | Path) -> Layout:
    """Create the directory and write study.yaml; a directory of another study is refused."""
    layout = Layout(root)
    layout.root.mkdir(parents=True, exist_ok=True)
    resolved = study.to_dict()
    if layout.study_yaml.is_file():
        old = yaml.safe_load(layout.study_yaml.read_text()) or {}
        if old.get("name") != resolved.get("name"):
            raise PrunescaleError(f"{layout.root} holds study {old.get('name')!r}, not {resolved.get('name')!r}")
    layout.study_yaml.write_text(yaml.safe_dump(resolved, sort_keys=False))
    return layout


def run_study(study: Study, root: str | Path, executor: str | None = None, address: str | None = None,
              report: bool = True, log=print) -> dict:
    """Run every cell not done; returns {cell_id: status}."""
    layout = init_study_dir(study, root)
    name = executor or study.executor.get("name", "local")
    db = StatusDB(layout.status_db)
    try:
        cells = study.cells()
        todo = [c for c in cells if not (db.is_done(c.id, options_hash(c.eval))
                                          and (layout.cell_dir(c.id) / "summary.json").is_file())]
        log(f"study {study.name}: {len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run "
            f"({name} executor) in {layout.root}")
    finally:
        db.close()
    if todo:
        if name == "ray":
            from .ray_executor import run_cells_ray

            run_cells_ray(study, layout, todo, address=address or study.executor.get("address"),
                          resources=study.executor, log=log)
        else:
            run_cells_local(study, layout, todo, log=log)
    # Variants whose cells were all done before still need their json (a fresh report after a copy, say).
    for v in study.variants():
        if not layout.variant_json(v.id).is_file():
            try:
                prepare_variant(study, v, layout, log)
            except PrunescaleError:
                pass
    if report:
        write_study_report(layout, log)
    db = StatusDB(layout.status_db)
    try:
        rows = db.all()
    finally:
        db.close()
    return {c.id: (rows.get(c.id) or {}).get("status", "todo") for c in study.cells()}


def run_cells_local(study: Study, layout: Layout, cells: list[Cell], log=print) -> None:
    """One process: cells grouped by variant so each model is prepared and loaded once."""
    by_variant: dict[str, list[Cell]] = {}
    for c in cells:
        by_variant.setdefault(c.variant.id, []).append(c)
    total, n = len(cells), 0
    for vid, group in by_variant.items():
        cache: dict = {}
        try:
            info = prepare_variant(study, group[0].variant, layout, log)
        except Exception as e:   # noqa: BLE001 - a variant that cannot be built fails its cells, not the study
            _fail_cells(layout, group, e, log)
            continue
        for cell in group:
            n += 1
            run_cell(layout, cell, info, cache, lambda msg: log(f"({n}/{total}) {msg}"))
        cache.clear()


def run_cell(layout: Layout, cell: Cell, info: dict, cache: dict, log=print) -> str:
    """Evaluate (and analyse) one cell; record done or failed. Returns the status."""
    db = StatusDB(layout.status_db)
    h = options_hash(cell.eval)
    cdir = layout.cell_dir(cell.id)
    try:
        db.start(cell.id, h)
        cdir.mkdir(parents=True, exist_ok=True)
        write_json(cdir / "cell.json", {"id": cell.id, "variant_id": cell.variant.id, "task": cell.task,
                                        "task_label": cell.label or cell.task, "kind": cell.kind, "eval": cell.eval})
        log(f"[{cell.id}] evaluating {cell.variant.variant} on {cell.label or cell.task}")
        try:
            evaluate_cell(layout, cell, info, cache)
            db.finish(cell.id)
            row = db.get(cell.id)
            log(f"[{cell.id}] done in {row['seconds']:.1f} s")
            return "done"
        except KeyboardInterrupt:
            raise
        except Exception as e:   # noqa: BLE001 - recorded, the study goes on
            msg = _one_line(e)
            (cdir / "error.txt").write_text(traceback.format_exc())
            db.finish(cell.id, msg)
            log(f"[{cell.id}] FAILED: {msg}")
            return "failed"
    finally:
        db.close()


def evaluate_cell(layout: Layout, cell: Cell, info: dict, cache: dict) -> None:
    from ..analysis.store_records import analyze_run
    from ..generate import BACKENDS, get_profile
    from ..models.loading import load_model
    from ..models.surgery import param_count
    from ..scaling.evaluate import EvalConfig, evaluate
    from ..tasks import get_task

    opts = dict(cell.eval)
    if opts.get("backend", "hf") != "hf":
        raise PrunescaleError("study cells run the in-process hf backend; serve each model and use "
                              "`prunescale eval --backend openai` for server runs")
    cdir = layout.cell_dir(cell.id)
    # The store's identity is the variant id, not a path, so a moved study directory still resumes.
    cfg = EvalConfig(model=cell.variant.id, tasks=[cell.task], out=str(cdir),
                     **{k: v for k, v in opts.items() if k not in ("backend", "base_urls")})
    cfg.validate()
    task = get_task(cell.task)
    key = (info["path"], cfg.dtype, cfg.device)
    if key not in cache:
        cache.clear()
        cache[key] = load_model(info["path"], dtype=cfg.dtype, device=cfg.device,
                                trust_remote_code=cfg.trust_remote_code)
    loaded = cache[key]
    if info.get("params") is None:   # a hub model: count what was loaded
        import torch

        info["params"] = param_count(loaded.model)
        info["size_bytes"] = info["params"] * torch.finfo(loaded.model.dtype).bits // 8
        write_json(layout.variant_json(cell.variant.id), info)
    profile = get_profile(cfg.profile, loaded.model.config, loaded.tokenizer, name_hint=cell.variant.model)
    backend = BACKENDS.get("hf")(loaded.model, loaded.tokenizer, profile)
    manifest = {"model": {"spec": cell.variant.model, "variant": cell.variant.variant, "path": info["path"]},
                "profile": vars(profile)}
    (cdir / "config.yaml").write_text(yaml.safe_dump({"model": info["path"], "tasks": cell.task, **opts,
                                                      "out": str(cdir)}, sort_keys=False))
    evaluate(cfg, backend, {cell.task: task}, profile.name, extra_manifest=manifest, progress=sys.stderr.isatty())
    analyze_run(cdir, model=cell.variant.variant)


def _fail_cells(layout: Layout, cells: list[Cell], e: BaseException, log) -> None:
    msg = _one_line(e)
    db = StatusDB(layout.status_db)
    try:
        for c in cells:
            db.fail(c.id, f"model variant {c.variant.variant}: {msg}", options_hash(c.eval))
            log(f"[{c.id}] FAILED: {msg}")
    finally:
        db.close()


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}" if not isinstance(e, PrunescaleError) else text[0]


def write_study_report(layout: Layout, log=print) -> Path | None:
    try:
        from ..report import write_report
    except ImportError:
        return None
    path = write_report(layout.root)
    log(f"report: {path}")
    return path


def status_rows(study: Study, root: str | Path) -> list[dict]:
    """Per cell: id, variant, task, status (todo / running / interrupted / done / failed), seconds, error."""
    layout = Layout(root)
    rows = {}
    if layout.status_db.is_file():
        db = StatusDB(layout.status_db)
        try:
            rows = db.all()
            out = []
            for c in study.cells():
                r = rows.get(c.id)
                out.append({"cell": c.id, "variant": c.variant.variant, "task": c.task,
                             "status": db.display_status(r, options_hash(c.eval)),
                             "seconds": None if not r or r["seconds"] is None else round(r["seconds"], 1),
                             "error": (r or {}).get("error") or ""})
            return out
        finally:
            db.close()
    return [{"cell": c.id, "variant": c.variant.variant, "task": c.task, "status": "todo", "seconds": None,
             "error": ""} for c in study.cells()]


def load_study_dir(root: str | Path) -> Study:
    layout = Layout(root)
    if not layout.study_yaml.is_file():
        raise PrunescaleError(f"{root} is not a study directory (no study.yaml)")
    return parse_study(yaml.safe_load(layout.study_yaml.read_text()), where=str(layout.study_yaml))

