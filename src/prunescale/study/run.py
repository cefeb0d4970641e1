"""Run a study: prepare every model variant once, evaluate every cell not yet done, analyse, report.

Each cell is an ordinary eval run directory, so a study killed at any point resumes where it stopped: cells
marked done are skipped, and a half-done cell's own store resumes. A failing cell is recorded with its error
and the others go on.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..contract.status import StatusDB, options_hash
from ..contract.study_dir import CellInfo, StudyDir
from ..errors import PrunescaleError
from ..fileio import check_out_dir
from .executors import EXECUTORS
from .spec import Study, parse_study
from .variants import prepare_variant


def init_study_dir(study: Study, root: str | Path) -> StudyDir:
    """Create the directory and write study.yaml; a directory of another study is refused."""
    layout = StudyDir(root)
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
    """Run every cell not done; returns {cell_id: status}. Its inputs are checked before anything is created
    (:func:`check_inputs`)."""
    name = check_inputs(study, root, executor)
    layout = init_study_dir(study, root)
    with StatusDB(layout.status_db) as db:
        cells = study.cells()
        todo = [c for c in cells if not (db.is_done(c.id, options_hash(c.eval))
                                          and layout.cell(c.id).summary_json.is_file())]
        log(f"study {study.name}: {len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run "
            f"({name} executor) in {layout.root}")
    if todo:
        EXECUTORS.get(name).run(study, layout, todo, address=address, log=log)
    # Variants whose cells were all done before still need their json (a fresh report after a copy, say).
    for v in study.variants():
        if not layout.variant_json(v.id).is_file():
            try:
                prepare_variant(study, v, layout, log)
            except PrunescaleError as e:   # its cells already record the failure; say it, go on to the report
                log(f"variant {v.id}: {e}")
    if study.fragility:
        write_fragility(study, layout, log)
    if report:
        write_study_report(layout, log)
    with StatusDB(layout.status_db) as db:
        rows = db.all()
    return {c.id: (rows.get(c.id) or {}).get("status", "todo") for c in study.cells()}


def check_inputs(study: Study, root: str | Path, executor: str | None = None) -> str:
    """What would make every cell fail, refused before the study directory is created: the directory (writable,
    not a file), the executor, each model (a local directory that is missing, an unknown embedded model), each
    cell's eval options (as ``prunescale eval`` checks them) and backend. Returns the executor's name."""
    from ..generate import BACKENDS
    from ..models import embedded
    from ..models.loading import resolve_path
    from ..scaling.evaluate import EvalConfig

    check_out_dir(root, "--out")
    name = executor or study.executor.get("name", "local")
    EXECUTORS.get(name)
    for m in study.models:
        spec = m["spec"]
        if spec.startswith(embedded.PREFIX):   # its name only: a converted one is built when its variant is
            if spec[len(embedded.PREFIX):] not in embedded.names():
                raise PrunescaleError(f"unknown embedded model {spec!r} (choose from: {', '.join(embedded.names())})")
        else:
            resolve_path(spec)
    seen = set()
    for cell in study.cells():
        opts = {k: v for k, v in cell.eval.items() if k != "base_urls"}
        key = (cell.task, repr(sorted(opts.items())))
        if key in seen:
            continue
        seen.add(key)
        try:
            cfg = EvalConfig(model=cell.variant.model, tasks=[cell.task], out=".", **opts)
            cfg.validate()
            BACKENDS.get(cfg.backend)
        except PrunescaleError as e:
            raise PrunescaleError(f"task {cell.label or cell.task!r}: {e}") from None
        except (TypeError, ValueError) as e:   # a value of the wrong type in the study file
            raise PrunescaleError(f"task {cell.label or cell.task!r}: bad eval option ({e})") from None
    return name


def write_fragility(study: Study, layout: StudyDir, log=print) -> None:
    """The early-warning predictors of every pruned variant not scored yet (``fragility/``; see the package)."""
    from ..fragility.study import write_study_fragility

    write_study_fragility(layout, device=study.eval.get("device"), dtype=study.eval.get("dtype"),
                          small_only=study.fragility == "auto", log=log)


def write_study_report(layout: StudyDir, log=print) -> Path | None:
    try:
        from ..report import write_report
    except ImportError:
        return None
    path = write_report(layout.root, planned=planned_cells(layout.root))
    log(f"report: {path}")
    return path


def status_rows(study: Study, root: str | Path) -> list[dict]:
    """Per cell: id, variant, task, status (todo / running / interrupted / done / failed), seconds, error."""
    layout = StudyDir(root)
    rows = {}
    if layout.status_db.is_file():
        with StatusDB(layout.status_db) as db:
            rows = db.all()
            out = []
            for c in study.cells():
                r = rows.get(c.id)
                out.append({"cell": c.id, "variant": c.variant.variant, "task": c.task,
                             "status": db.display_status(r, options_hash(c.eval)),
                             "seconds": None if not r or r["seconds"] is None else round(r["seconds"], 1),
                             "error": (r or {}).get("error") or ""})
            return out
    return [{"cell": c.id, "variant": c.variant.variant, "task": c.task, "status": "todo", "seconds": None,
             "error": ""} for c in study.cells()]


def load_study_dir(root: str | Path) -> Study:
    layout = StudyDir(root)
    if not layout.study_yaml.is_file():
        raise PrunescaleError(f"{root} is not a study directory (no study.yaml)")
    return parse_study(yaml.safe_load(layout.study_yaml.read_text()), where=str(layout.study_yaml))



def planned_cells(root: str | Path) -> list[CellInfo]:
    """Every cell the directory's study.yaml declares; none if it is missing or does not parse (an old or
    foreign study file only loses the cells the report lists as todo)."""
    path = StudyDir(root).study_yaml
    try:
        raw = yaml.safe_load(path.read_text(errors="replace"))
        if not raw or not isinstance(raw, dict):
            return []
        return [CellInfo(c.id, c.variant.id, c.task, c.label or c.task, c.kind) for c in parse_study(raw).cells()]
    except Exception:   # noqa: BLE001 - see the docstring
        return []
