"""Every pruned variant of a study scored once against its unpruned model: ``STUDY_DIR/fragility/<id>.json``.

Resumable: a variant with its file is skipped, so a second run costs nothing. The parent of each model is loaded
once and its traces shared by all that model's variants. A failure is logged and leaves no file; it never fails
the study (the predictors are an early warning, not a result the cells depend on).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..contract.study_dir import StudyDir, VariantInfo
from ..fileio import write_json_atomic
from .run import FragilitySettings, ParentRun, read_record

# "auto" scores models up to this size: the organism's variants cost about a second each on a CPU core, a
# 135M-parameter model's several seconds and its parent's traces half a minute (more than a demo should pay).
SMALL_PARAMS = 50_000_000


def todo(layout: StudyDir, small_only: bool = False) -> dict[str, list[VariantInfo]]:
    """Pruned variants whose model directory exists and whose predictors are not written yet, by parent spec;
    with ``small_only``, only those of an unpruned model of at most SMALL_PARAMS parameters."""
    variants = layout.variants()
    out: dict[str, list[VariantInfo]] = {}
    for v in variants.values():
        if not v.method or not v.path or layout.fragility_json(v.id).is_file():
            continue
        if small_only and not _small(variants.get(v.base_id)):
            continue
        if (Path(v.path) / "config.json").is_file():
            out.setdefault(v.model, []).append(v)
    return out


def _small(base: VariantInfo | None) -> bool:
    return base is not None and base.params is not None and base.params <= SMALL_PARAMS


def write_study_fragility(layout: StudyDir, settings: FragilitySettings | None = None, device: str | None = None,
                          dtype: str | None = None, small_only: bool = False, log=print) -> dict[str, str]:
    """Score every pruned variant not scored yet; returns {variant id: "done" | the error}."""
    settings = settings or FragilitySettings()
    status: dict[str, str] = {}
    for parent, variants in todo(layout, small_only).items():
        start = time.perf_counter()
        try:
            run = ParentRun(parent, settings, device=device, dtype=dtype)
        except Exception as e:   # noqa: BLE001 - an early warning that cannot be computed is said, not fatal
            for v in variants:
                status[v.id] = _line(e)
            log(f"fragility: cannot score against {parent}: {_line(e)}")
            continue
        for v in variants:
            try:
                record = run.score(v.path, read_record(v.path))
                record["variant_id"] = v.id
                write_json_atomic(record, layout.fragility_json(v.id))
                status[v.id] = "done"
            except Exception as e:   # noqa: BLE001
                status[v.id] = _line(e)
                log(f"fragility: {v.id}: {_line(e)}")
        log(f"fragility: {sum(status[v.id] == 'done' for v in variants)}/{len(variants)} variants of {parent} "
            f"scored in {time.perf_counter() - start:.1f} s")
    return status


def _line(e: Exception) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:300]
