"""Prune a model end to end and save it as a standard Hugging Face directory plus ``prunescale.json``."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..contract.run_dir import model_record
from ..errors import PrunescaleError
from ..fileio import atomic_dir, check_out_dir, library_versions
from ..models.loading import LoadedModel, load_model
from ..models.surgery import num_layers, param_count
from .base import METHODS, PruneResult, resolve_count
from .calibration import Calibration, load_calibration
from .sparsity import OWL_LAMBDA, OWL_M, SparsityRequest, file_allocation


@dataclass
class PruneSpec:
    """Everything that defines a pruning run (what ``--save-config`` writes)."""

    model: str
    method: str
    remove: int | None = None
    ratio: float | None = None
    layers: list[int] | None = None
    calibration: str | None = None      # None: the method's default_calibration (self; traces for chain)
    calibration_samples: int = 32
    max_seq_len: int = 128
    batch_size: int = 8
    seed: int = 0
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False
    options: dict[str, Any] = field(default_factory=dict)   # method options, e.g. LaCo's threshold
    # unstructured methods (wanda, sparsegpt, magnitude-unstructured): see prune/sparsity.py
    sparsity: float | None = None
    pattern: str | None = None          # N:M, e.g. 2:4
    allocation: str = "uniform"         # uniform | owl | FILE (JSON/YAML list of per-layer sparsities)
    owl_m: float = OWL_M
    owl_lambda: float = OWL_LAMBDA

    def __post_init__(self):
        if self.calibration is None:
            known = self.method in METHODS
            self.calibration = METHODS.get(self.method).default_calibration if known else "self"

    def sparsity_request(self) -> SparsityRequest:
        return SparsityRequest(self.sparsity, self.pattern, self.allocation, self.owl_m, self.owl_lambda)


_ANY_DEPTH = 1 << 30   # a depth no model reaches: checks what does not depend on it (0 layers, a ratio of 2, -1)


def check_out(out: str | os.PathLike, overwrite: bool) -> Path:
    """A pruned model's directory: new, or empty, or replaced with ``overwrite`` (written whole, then renamed)."""
    return check_out_dir(out, "--out", empty=True, overwrite=overwrite, replace=True)


def make_method(spec: PruneSpec):
    cls = METHODS.get(spec.method)
    check_amount(cls, spec)
    options = dict(spec.options)
    if spec.layers is not None:
        if spec.method != "selection":
            raise PrunescaleError(f"--layers names the layers for --method selection, not {spec.method!r}")
        options["layers"] = spec.layers
    return cls(seed=spec.seed, **options)


def check_amount(cls, spec: PruneSpec) -> None:
    """Layer methods take --remove/--ratio/--layers, unstructured ones --sparsity/--pattern/--allocation."""
    sparse_given = [f for f, v in (("--sparsity", spec.sparsity), ("--pattern", spec.pattern),
                                   ("--allocation", None if spec.allocation == "uniform" else spec.allocation))
                    if v is not None]
    if cls.unstructured:
        layer_given = [f for f, v in (("--remove", spec.remove), ("--ratio", spec.ratio), ("--layers", spec.layers))
                       if v is not None]
        if layer_given:
            raise PrunescaleError(f"{layer_given[0]} removes layers; --method {spec.method} keeps every layer "
                                  "(use --sparsity S or --pattern N:M)")
        spec.sparsity_request().check(spec.method)
    elif sparse_given:
        raise PrunescaleError(f"{sparse_given[0]} is for unstructured methods (magnitude-unstructured, sparsegpt, "
                              f"wanda), not --method {spec.method} (use --remove, --ratio or --layers)")


def prune_loaded(loaded: LoadedModel, spec: PruneSpec, calibration: Calibration | None = None
                 ) -> tuple[PruneResult, dict]:
    """Prune an already loaded model in place; returns the result and the ``prunescale.json`` record."""
    method = make_method(spec)
    if method.unstructured:
        return sparsify_loaded(loaded, spec, method, calibration)
    model = loaded.model
    total = num_layers(model)
    n = resolve_count(total, spec.remove, spec.ratio, spec.layers)
    params_before = param_count(model)
    start = time.perf_counter()
    if method.needs_calibration and calibration is None:
        calibration = get_calibration(loaded, spec)
    result = method.apply(model, n, calibration if method.needs_calibration else None)
    record = {
        "prunescale_version": __version__,
        "source_model": spec.model,
        "source_path": loaded.path,
        "method": spec.method,
        "options": method.options,
        "layers_before": total,
        "layers_after": num_layers(model),
        "removed_layers": result.removed,
        "kept_layers": result.kept,
        "merges": result.merges,
        "score_name": result.score_name,
        "scores": result.scores,
        "details": result.details,          # the method's own account (ppl / chain: each round's pick)
        "calibration": calibration.describe() | {"max_seq_len": spec.max_seq_len}
        if method.needs_calibration else None,
        "seed": spec.seed,
        "params_before": params_before,
        "params_after": param_count(model),
        "wall_time_s": round(time.perf_counter() - start, 3),
        "spec": asdict(spec),
        "versions": library_versions(),
    }
    return result, record


def sparsify_loaded(loaded: LoadedModel, spec: PruneSpec, method, calibration: Calibration | None = None
                    ) -> tuple[PruneResult, dict]:
    """Zero weights of every layer's projections (no layer removed); the record holds the measured sparsity."""
    model = loaded.model
    request = spec.sparsity_request()
    needs = method.needs_calibration_for(request)
    if request.allocation not in ("uniform", "owl"):   # its length, before the calibration's forward passes
        file_allocation(request.allocation, num_layers(model))
    params = param_count(model)
    start = time.perf_counter()
    if needs and calibration is None:
        calibration = get_calibration(loaded, spec)
    result = method.sparsify(model, request, calibration if needs else None)
    layers = num_layers(model)
    record = {
        "prunescale_version": __version__, "source_model": spec.model, "source_path": loaded.path,
        "method": spec.method, "options": method.settings, "layers_before": layers, "layers_after": layers,
        "removed_layers": [], "kept_layers": result.kept, "merges": [], "score_name": None, "scores": None,
        **result.details,
        "calibration": calibration.describe() | {"max_seq_len": spec.max_seq_len} if needs else None,
        "seed": spec.seed, "params_before": params, "params_after": params,
        "wall_time_s": round(time.perf_counter() - start, 3), "spec": asdict(spec), "versions": library_versions(),
    }
    return result, record


def get_calibration(loaded: LoadedModel, spec: PruneSpec) -> Calibration:
    return load_calibration(spec.calibration, loaded.model, loaded.tokenizer, samples=spec.calibration_samples,
                            max_seq_len=spec.max_seq_len, batch_size=spec.batch_size, seed=spec.seed)


def save_pruned(loaded: LoadedModel, record: dict, out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the model, tokenizer and record to a temp dir, then move it into place (never half-written)."""
    out = check_out(out, overwrite)
    with atomic_dir(out) as tmp:
        loaded.model.save_pretrained(tmp)
        if loaded.tokenizer is not None:
            loaded.tokenizer.save_pretrained(tmp)
        model_record(tmp).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return out


def prune(spec: PruneSpec, out: str | os.PathLike, overwrite: bool = False) -> dict:
    """Load, prune and save. Checks the output directory before any expensive work."""
    check_out(out, overwrite)
    method = make_method(spec)  # fail fast on an unknown method or option
    if not method.unstructured:   # how much to remove, as far as it is known before the model's depth
        resolve_count(_ANY_DEPTH, spec.remove, spec.ratio, spec.layers)
    loaded = load_model(spec.model, dtype=spec.dtype, device=spec.device, trust_remote_code=spec.trust_remote_code)
    _, record = prune_loaded(loaded, spec)
    save_pruned(loaded, record, out, overwrite)
    return record
