"""``--executor ray``: each cell is a Ray task pinned to the resources it asks for.

Models are prepared (pruned / fine-tuned, cached) by the driver first; tasks then load their variant and
evaluate into the same study directory, which must be on a filesystem every Ray node sees.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PrunescaleError
from ..contract.status import StatusDB
from ..contract.study_dir import StudyDir
from .cells import close_cache, fail_cells, one_line, run_cell
from .spec import Cell, Study, parse_study


def run_cells_ray(study: Study, layout: StudyDir, cells: list[Cell], address: str | None = None,
                  resources: dict | None = None, log=print) -> None:
    try:
        import ray
    except ImportError:
        raise PrunescaleError("--executor ray needs Ray: pip install 'prunescale[ray]'") from None
    from .variants import prepare_variant

    infos, runnable = {}, []
    for cell in cells:
        vid = cell.variant.id
        if vid not in infos:
            try:
                infos[vid] = prepare_variant(study, cell.variant, layout, log)
            except Exception as e:   # noqa: BLE001 - recorded per cell
                infos[vid] = e
        if isinstance(infos[vid], Exception):
            fail_cells(layout, [cell], infos[vid], log)
        else:
            runnable.append(cell)
    if not runnable:
        return
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": (resources or {}).get("local_cpus")}
        ray.init(include_dashboard=False, ignore_reinit_error=True, log_to_driver=True, **kwargs)
    try:
        root = str(Path(layout.root).resolve())
        study_dict = study.to_dict()
        refs = {}
        for cell in runnable:
            ask = {**_defaults(resources), **cell.resources}
            task = ray.remote(_ray_cell).options(num_cpus=ask["num_cpus"], num_gpus=ask["num_gpus"],
                                                 memory=ask.get("memory"))
            refs[task.remote(root, study_dict, cell.id, infos[cell.variant.id])] = cell.id
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            cid = refs[done[0]]
            try:
                status = ray.get(done[0])
            except Exception as e:   # noqa: BLE001 - a task that died (worker crash, OOM): record it
                with StatusDB(layout.status_db) as db:
                    db.finish(cid, f"ray task failed: {one_line(e)}")
                status = "failed"
            log(f"[{cid}] {status} (ray)")
    finally:
        if started:
            ray.shutdown()


def _defaults(resources: dict | None) -> dict:
    r = resources or {}
    return {"num_cpus": r.get("num_cpus", 1), "num_gpus": r.get("num_gpus", 0), "memory": r.get("memory")}


def _ray_cell(root: str, study_dict: dict, cell_id: str, info: dict) -> str:
    study = parse_study(study_dict)
    cell = next(c for c in study.cells() if c.id == cell_id)
    cache: dict = {}   # a cell that asks for num_gpus gets its own engine on its GPU, closed when it ends
    try:
        return run_cell(StudyDir(root), cell, info, cache, log=print)
    finally:
        close_cache(cache)
