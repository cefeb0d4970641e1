"""One study cell: evaluate a model variant on a task entry, analyse it, record done or failed.

Shared by the local and the Ray executor (a Ray task runs exactly this in its worker).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from ..contract.run_dir import RunDir
from ..contract.status import StatusDB, options_hash
from ..contract.study_dir import CellInfo, VariantInfo
from ..contract.study_dir import StudyDir
from ..errors import PrunescaleError
from .spec import Cell

if TYPE_CHECKING:
    from ..generate.options import BackendOptions


def run_cell(layout: StudyDir, cell: Cell, info: dict, cache: dict, log=print) -> str:
    """Evaluate (and analyse) one cell; record done or failed. Returns the status."""
    h = options_hash(cell.eval)
    cdir = layout.cell_dir(cell.id)
    with StatusDB(layout.status_db) as db:
        db.start(cell.id, h)
        cdir.mkdir(parents=True, exist_ok=True)
        CellInfo(cell.id, cell.variant.id, cell.task, cell.label or cell.task, cell.kind,
                 cell.eval).write(RunDir(cdir).cell_json)
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
            msg = one_line(e)
            RunDir(cdir).error_txt.write_text(traceback.format_exc())
            db.finish(cell.id, msg)
            log(f"[{cell.id}] FAILED: {msg}")
            return "failed"


def evaluate_cell(layout: StudyDir, cell: Cell, info: dict, cache: dict) -> None:
    """``prunescale eval``'s run (``scaling.runner.run_eval``) with the variant's cached backend, then analysis."""
    from ..analysis.store_records import analyze_run
    from ..scaling.evaluate import EvalConfig
    from ..scaling.runner import run_eval

    opts = dict(cell.eval)
    cdir = layout.cell_dir(cell.id)
    # The store's identity is the variant id, not a path, so a moved study directory still resumes; base_urls
    # reach only the backend: where a model is served is not part of the run.
    cfg = EvalConfig(model=cell.variant.id, tasks=[cell.task], out=str(cdir),
                     **{k: v for k, v in opts.items() if k != "base_urls"})

    def backend():
        built = variant_backend(cfg.backend_options(model=info["path"], base_urls=opts.get("base_urls") or ()),
                                cell.variant.model, cache)
        if info.get("params") is None and built.model is not None:   # a hub model: count what was loaded
            count_params(layout, cell.variant.id, info, built.model)
        return built

    model = {"spec": cell.variant.model, "variant": cell.variant.variant, "path": info["path"]}
    # A cell's config.yaml: the variant's directory, the task as the study names it, the cell's options.
    run_eval(cfg, {"model": info["path"], "tasks": cell.task, **opts, "out": str(cdir)}, backend=backend,
             model=model)
    analyze_run(cdir, model=cell.variant.variant)


def count_params(layout: StudyDir, variant_id: str, info: dict, model) -> None:
    """Record a variant's parameter count and size in its variant.json, from the loaded model."""
    import torch

    from ..models.surgery import param_count

    info["params"] = param_count(model)
    info["size_bytes"] = info["params"] * torch.finfo(model.dtype).bits // 8
    VariantInfo.from_dict(info).write(layout.variant_json(variant_id))


def variant_backend(options: BackendOptions, name_hint: str, cache: dict):
    """The variant's backend (``Backend.from_config``; ``options.model`` is the variant's directory), built once
    and kept in ``cache`` under its options for the variant's next cells; other options close the previous one
    first (one engine / server at a time). With ``serve``, an OpenAI-compatible server of the variant is started
    first (``study.serving``)."""
    from dataclasses import replace

    from ..generate.base import build

    if options not in cache:
        close_cache(cache)
        run = options
        if options.serve:
            if options.backend != "openai":
                raise PrunescaleError(f"serve: needs backend: openai (not {options.backend!r})")
            from .serving import Server

            server = Server(options.serve, options.model)
            cache["server"] = server
            run = replace(run, base_urls=[server.start()])
        elif options.backend == "openai" and not options.base_urls:
            raise PrunescaleError("backend: openai in a study needs serve: COMMAND (with {model} and {port}) "
                                  "or base_urls")
        # the served model's name: what `vllm serve PATH` / `transformers serve PATH` call it
        run = replace(run, served_model=options.served_model or options.model)
        cache[options] = build(run, options.model, name_hint)
    return cache[options]


def close_cache(cache: dict) -> None:
    """Close what ``variant_backend`` keeps (an engine, a server) and empty the cache."""
    items = list(cache.items())
    cache.clear()
    for k, v in items:
        if k == "server":
            continue
        v.backend.close()
    for k, v in items:
        if k == "server":
            v.stop()


def fail_cells(layout: StudyDir, cells: list[Cell], e: BaseException, log) -> None:
    """Record the failure of cells whose model variant could not be built."""
    msg = one_line(e)
    with StatusDB(layout.status_db) as db:
        for c in cells:
            db.fail(c.id, f"model variant {c.variant.variant}: {msg}", options_hash(c.eval))
            log(f"[{c.id}] FAILED: {msg}")


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}" if not isinstance(e, PrunescaleError) else text[0]


