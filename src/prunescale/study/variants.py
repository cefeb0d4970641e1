"""Model variants of a study: the unpruned baseline, each (method, n) pruned once and cached by its spec, and
recovered (fine-tuned) models built from a cached pruned one."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..contract.run_dir import model_record
from ..contract.study_dir import StudyDir, VariantInfo
from ..errors import PrunescaleError
from .spec import Study, Variant


def prune_spec(study: Study, v: Variant):
    from ..prune.run import PruneSpec

    opts = {**study.prune, **study.model_entry(v.model).get("prune", {})}
    per_method = opts.pop("options", None) or {}     # {laco: {threshold: 0.5}, ...}
    method_opts = per_method.get(v.method, {}) if isinstance(per_method, dict) else {}
    if v.sparsity is not None:
        return PruneSpec(model=v.model, method=v.method, sparsity=v.sparsity, options=dict(method_opts), **opts)
    for key in ("pattern", "allocation", "owl_m", "owl_lambda"):   # unstructured-only options
        opts.pop(key, None)
    return PruneSpec(model=v.model, method=v.method, remove=v.n_removed, options=dict(method_opts), **opts)


def prepare_variant(study: Study, v: Variant, layout: StudyDir, log=print) -> dict:
    """Make sure the variant's model exists (prune / fine-tune it once) and write variants/<id>.json."""
    from ..models.loading import resolve_path

    if v.method is None:
        path, record = resolve_path(v.model), None
    elif v.recovery is None:
        path = layout.model_dir(v.id)
        record = _cached_prune(study, v, path, log)
    else:
        parent = next(p for p in study.variants() if p.id == v.parent_id)
        parent_info = prepare_variant(study, parent, layout, log)
        path = layout.model_dir(v.id)
        record = _cached_finetune(study, v, parent_info["path"], path, log)
    info = {
        "id": v.id, "model": v.model, "model_label": v.model_label, "variant": v.variant, "method": v.method,
        "n_removed": v.n_removed, "recovery": v.recovery, "path": str(path),
        "layers": None, "params": None, "size_bytes": None,
        "removed_layers": [], "merges": [], "score_name": None, "scores": None, "prune_seconds": None,
    }
    pruning = (record or {}).get("parent_record", record) if v.recovery else record
    if pruning:
        info.update(layers=pruning.get("layers_after"), removed_layers=pruning.get("removed_layers", []),
                    merges=pruning.get("merges", []), score_name=pruning.get("score_name"),
                    scores=pruning.get("scores"), prune_seconds=pruning.get("wall_time_s"))
        info.update(removed_share(pruning))
    elif v.method is None:
        info.update(params_removed=0, params_removed_share=0.0)
    if record and v.recovery:
        ft = dict(record.get("finetune") or {})
        ft.pop("loss_history", None)
        info["finetune"] = ft
    params, size = weights_stats(path)
    info.update(params=params, size_bytes=size)
    if info["layers"] is None and Path(str(path), "config.json").is_file():
        info["layers"] = json.loads(Path(str(path), "config.json").read_text()).get("num_hidden_layers")
    VariantInfo.from_dict(info).write(layout.variant_json(v.id))
    return info


def removed_share(record: dict) -> dict:
    """Parameters a pruning removed, on one axis for both kinds: removed layers' parameters, or zeroed weights
    (an unstructured method keeps them as zeros in a dense tensor), over the unpruned model's parameters."""
    before = record.get("params_before") or 0
    removed = (before - (record.get("params_after") or before)) + (record.get("zeroed_params") or 0)
    return {"sparsity": record.get("sparsity"), "pattern": record.get("pattern"),
            "allocation": record.get("allocation"), "measured_sparsity": record.get("measured_sparsity"),
            "params_removed": removed, "params_removed_share": removed / before if before else None}


def _cached_prune(study: Study, v: Variant, path: Path, log) -> dict:
    from ..prune.run import PruneSpec, prune

    spec = prune_spec(study, v)
    want = _norm(asdict(spec))
    record_path = model_record(path)
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        if _norm({**asdict(PruneSpec(model="", method="")), **(record.get("spec") or {})}) != want:
            raise PrunescaleError(f"{path} was pruned with other options than the study asks for; "
                                  "delete it (or use a new study directory) to prune again")
        return record
    log(f"pruning {v.model} with {v.method}, " + (f"sparsity {v.sparsity:g}" if v.sparsity is not None else
        f"removing {v.n_removed} layer(s)") + f" -> {path}")
    return prune(spec, path, overwrite=True)


def _cached_finetune(study: Study, v: Variant, parent_path: str, path: Path, log) -> dict:
    from ..train.recover import FinetuneJob, run_finetune

    record_path = model_record(path)
    if record_path.is_file():
        return json.loads(record_path.read_text())
    log(f"fine-tuning {parent_path} ({v.recovery}) -> {path}")
    job = FinetuneJob.from_options(str(parent_path), str(path), study.recipe(v), where="study finetune")
    job.overwrite = True
    return run_finetune(job, log=log)


def weights_stats(path) -> tuple[int | None, int | None]:
    """Parameter count and bytes from the safetensors headers of a local model directory (no loading)."""
    from safetensors import safe_open

    files = sorted(Path(str(path)).glob("*.safetensors")) if Path(str(path)).is_dir() else []
    if not files:
        return None, None
    params = size = 0
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():
                sl = st.get_slice(name)
                n = 1
                for d in sl.get_shape():
                    n *= d
                params += n
                size += n * _itemsize(sl.get_dtype())
    return params, size


def _itemsize(dtype: str) -> int:
    return {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "I8": 1, "U8": 1,
            "F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1}.get(dtype, 4)


def _norm(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
