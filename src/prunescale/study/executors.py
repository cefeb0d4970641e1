"""Where a study's cells run, by name: ``EXECUTORS.get("local" | "ray").run(study, layout, cells, ...)``."""

from __future__ import annotations

from ..contract.study_dir import StudyDir
from ..registry import Registry
from .cells import close_cache, fail_cells, run_cell
from .spec import Cell, Study
from .variants import prepare_variant

EXECUTORS: Registry = Registry("executor", group="prunescale.executors")


@EXECUTORS.register("local")
class LocalExecutor:
    """One process: cells grouped by variant so each model is prepared and loaded once."""

    @staticmethod
    def run(study: Study, layout: StudyDir, cells: list[Cell], address: str | None = None, log=print) -> None:
        by_variant: dict[str, list[Cell]] = {}
        for c in cells:
            by_variant.setdefault(c.variant.id, []).append(c)
        total, n = len(cells), 0
        for group in by_variant.values():
            cache: dict = {}
            try:
                info = prepare_variant(study, group[0].variant, layout, log)
            except Exception as e:   # noqa: BLE001 - a variant that cannot be built fails its cells, not the study
                fail_cells(layout, group, e, log)
                continue
            try:
                for cell in group:
                    n += 1
                    run_cell(layout, cell, info, cache, lambda msg: log(f"({n}/{total}) {msg}"))
            finally:   # the variant's engine / server goes before the next variant loads (also on Ctrl-C)
                close_cache(cache)


@EXECUTORS.register("ray")
class RayExecutor:
    """Each cell a Ray task (ray_executor.py); ``address``: a cluster, else the study's, else a local Ray."""

    @staticmethod
    def run(study: Study, layout: StudyDir, cells: list[Cell], address: str | None = None, log=print) -> None:
        from .ray_executor import run_cells_ray   # Ray is optional: imported when asked for

        run_cells_ray(study, layout, cells, address=address or study.executor.get("address"),
                      resources=study.executor, log=log)
