"""One study cell: evaluate a model variant on a task entry, analyse it, record done or failed.

Shared by the local and the Ray executor (a Ray task runs exactly this in its worker).
"""

from __future__ import annotations

import sys
import traceback

import yaml

from ..errors import PrunescaleError
from .layout import CellInfo, Layout, VariantInfo
from .spec import Cell
from .status import StatusDB, options_hash


def run_cell(layout: Layout, cell: Cell, info: dict, cache: dict, log=print) -> str:
    """Evaluate (and analyse) one cell; record done or failed. Returns the status."""
    h = options_hash(cell.eval)
    cdir = layout.cell_dir(cell.id)
    with StatusDB(layout.status_db) as db:
        db.start(cell.id, h)
        cdir.mkdir(parents=True, exist_ok=True)
        CellInfo(cell.id, cell.variant.id, cell.task, cell.label or cell.task, cell.kind,
                 cell.eval).write(cdir / "cell.json")
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
            (cdir / "error.txt").write_text(traceback.format_exc())
            db.finish(cell.id, msg)
            log(f"[{cell.id}] FAILED: {msg}")
            return "failed"


def evaluate_cell(layout: Layout, cell: Cell, info: dict, cache: dict) -> None:
    from ..analysis.store_records import analyze_run
    from ..generate import BACKENDS, get_profile
    from ..models.loading import load_model
    from ..models.surgery import param_count
    from ..scaling.evaluate import EvalConfig, build_tasks, evaluate, load_problems

    opts = dict(cell.eval)
    if opts.get("backend", "hf") != "hf":
        raise PrunescaleError("study cells run the in-process hf backend; serve each model and use "
                              "`prunescale eval --backend openai` for server runs")
    cdir = layout.cell_dir(cell.id)
    # The store's identity is the variant id, not a path, so a moved study directory still resumes.
    cfg = EvalConfig(model=cell.variant.id, tasks=[cell.task], out=str(cdir),
                     **{k: v for k, v in opts.items() if k not in ("backend", "base_urls")})
    cfg.validate()
    tasks = build_tasks(cfg)   # as `prunescale eval` builds them: jsonl: paths absolute, field options applied
    problems = load_problems(cfg, tasks)
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
        VariantInfo.from_dict(info).write(layout.variant_json(cell.variant.id))
    profile = get_profile(cfg.profile, loaded.model.config, loaded.tokenizer, name_hint=cell.variant.model,
                          think_start=cfg.think_start, think_end=cfg.think_end)
    backend = BACKENDS.get("hf")(loaded.model, loaded.tokenizer, profile)
    manifest = {"model": {"spec": cell.variant.model, "variant": cell.variant.variant, "path": info["path"]},
                "profile": vars(profile)}
    (cdir / "config.yaml").write_text(yaml.safe_dump({"model": info["path"], "tasks": cell.task, **opts,
                                                      "out": str(cdir)}, sort_keys=False))
    evaluate(cfg, backend, tasks, profile.name, extra_manifest=manifest, progress=sys.stderr.isatty(),
             problems=problems)
    analyze_run(cdir, model=cell.variant.variant)


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


