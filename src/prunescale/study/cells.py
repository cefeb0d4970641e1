"""One study cell: evaluate a model variant on a task entry, analyse it, record done or failed.

Shared by the local and the Ray executor (a Ray task runs exactly this in its worker).
"""

from __future__ import annotations

import sys
import traceback

import yaml

from ..contract.run_dir import RunDir
from ..contract.status import StatusDB, options_hash
from ..contract.study_dir import CellInfo, VariantInfo
from ..contract.study_dir import StudyDir as Layout   # the name the eval code below uses
from ..errors import PrunescaleError
from .spec import Cell


def run_cell(layout: Layout, cell: Cell, info: dict, cache: dict, log=print) -> str:
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


def evaluate_cell(layout: Layout, cell: Cell, info: dict, cache: dict) -> None:
    from ..analysis.store_records import analyze_run
    from ..models.surgery import param_count
    from ..scaling.evaluate import EvalConfig, build_tasks, evaluate, load_problems

    opts = dict(cell.eval)
    cdir = layout.cell_dir(cell.id)
    # The store's identity is the variant id, not a path, so a moved study directory still resumes.
    cfg = EvalConfig(model=cell.variant.id, tasks=[cell.task], out=str(cdir),
                     **{k: v for k, v in opts.items() if k != "base_urls"})
    cfg.validate()
    tasks = build_tasks(cfg)   # as `prunescale eval` builds them: jsonl: paths absolute, field options applied
    problems = load_problems(cfg, tasks)
    built = variant_backend(cfg, info["path"], cell.variant.model, cache, opts.get("base_urls") or [])
    backend, profile = built.backend, built.profile
    if info.get("params") is None and built.model is not None:   # a hub model: count what was loaded
        import torch

        info["params"] = param_count(built.model)
        info["size_bytes"] = info["params"] * torch.finfo(built.model.dtype).bits // 8
        VariantInfo.from_dict(info).write(layout.variant_json(cell.variant.id))
    manifest = {"model": {"spec": cell.variant.model, "variant": cell.variant.variant, "path": info["path"]},
                "profile": vars(profile)}
    (cdir / "config.yaml").write_text(yaml.safe_dump({"model": info["path"], "tasks": cell.task, **opts,
                                                      "out": str(cdir)}, sort_keys=False))
    evaluate(cfg, backend, tasks, profile.name, extra_manifest=manifest, progress=sys.stderr.isatty(),
             problems=problems)
    analyze_run(cdir, model=cell.variant.variant)


def variant_backend(cfg, path: str, name_hint: str, cache: dict, base_urls: list[str]):
    """The variant's backend (``Backend.from_config``), built once and kept in ``cache`` for its next cells;
    a different variant or backend closes the previous one first (one engine / server at a time). With
    ``serve``, an OpenAI-compatible server of the variant is started first (``study.serving``)."""
    from dataclasses import replace

    from ..generate.base import build

    key = (path, cfg.backend, cfg.dtype, cfg.device, cfg.serve, tuple(base_urls), cfg.tensor_parallel_size,
           cfg.gpu_memory_utilization, cfg.max_model_len, cfg.enforce_eager, cfg.trust_remote_code, cfg.profile,
           cfg.think_start, cfg.think_end, cfg.served_model)
    if key not in cache:
        close_cache(cache)
        server = None
        if cfg.serve:
            if cfg.backend != "openai":
                raise PrunescaleError(f"serve: needs backend: openai (not {cfg.backend!r})")
            from .serving import Server

            server = Server(cfg.serve, path)
            cache["server"] = server
            base_urls = [server.start()]
        elif cfg.backend == "openai" and not base_urls:
            raise PrunescaleError("backend: openai in a study needs serve: COMMAND (with {model} and {port}) "
                                  "or base_urls")
        # the served model's name: what `vllm serve PATH` / `transformers serve PATH` call it
        run_cfg = replace(cfg, base_urls=list(base_urls), served_model=cfg.served_model or path)
        cache[key] = build(run_cfg, path, name_hint)
    return cache[key]


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


def fail_cells(layout: Layout, cells: list[Cell], e: BaseException, log) -> None:
    """Record the failure of cells whose model variant could not be built."""
    msg = one_line(e)
    with StatusDB(layout.status_db) as db:
        for c in cells:
            db.fail(c.id, f"model variant {c.variant.variant}: {msg}", options_hash(c.eval))
            log(f"[{c.id}] FAILED: {msg}")


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}" if not isinstance(e, PrunescaleError) else text[0]


