"""Unstructured pruning: keep every layer, zero individual weights of the decoder layers' linear projections.

What the three methods (``magnitude-unstructured``, ``wanda``, ``sparsegpt``) share: the request
(:class:`SparsityRequest`: sparsity, N:M pattern, layer-wise allocation), the projections they prune (every
``nn.Linear`` inside a decoder layer: attention and MLP; never embeddings or ``lm_head``), masks by score
(per row, per matrix, or N:M), the layer-wise allocation (uniform, OWL, or a list from a file), the sequential
calibration pass (layer i is calibrated on the output of the already pruned layers 0..i-1, as Wanda's and
SparseGPT's code do), and the measured sparsity written to ``prunescale.json``.

OWL (Yin et al., 2024, "Outlier Weighed Layerwise sparsity"): layer i's outlier ratio D_i is the share of its
Wanda scores |W_ij| * ||X_j||_2 above M times their mean (on the dense model); the layer sparsities are
S_i = S - (2 * lambda * (D_i - min D) / (max D - min D) - lambda), so they span [S - lambda, S + lambda], layers
with more outliers keep more weights, and their mean is S exactly. Defaults M = 5, lambda = 0.08 (the OWL
paper's and its code's setting for LLaMA-7B).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..errors import PrunescaleError
from ..models.surgery import adapter_for
from .base import PruneMethod, PruneResult
from .scoring import _hidden_out

OWL_M = 5.0
OWL_LAMBDA = 0.08


@dataclass
class SparsityRequest:
    """How much to zero: ``sparsity`` (share of each pruned projection's weights), or an N:M ``pattern``
    (at most N nonzero weights in every M consecutive inputs of a row: 2:4 is 50%), and the layer-wise
    ``allocation``: uniform, owl, or a path to a JSON/YAML list of per-layer sparsities."""

    sparsity: float | None = None
    pattern: str | None = None
    allocation: str = "uniform"
    owl_m: float = OWL_M
    owl_lambda: float = OWL_LAMBDA

    @property
    def nm(self) -> tuple[int, int] | None:
        return parse_pattern(self.pattern) if self.pattern else None

    def target(self) -> float:
        """The mean sparsity asked for."""
        if self.nm:
            n, m = self.nm
            return (m - n) / m
        if self.allocation not in ("uniform", "owl") and self.sparsity is None:
            ratios = read_allocation(self.allocation)
            return sum(ratios) / len(ratios)
        return float(self.sparsity)

    def check(self, method: str) -> None:
        """One-line errors for a request that cannot be met, before any model is loaded."""
        if self.nm:
            n, m = self.nm
            if self.allocation != "uniform":
                raise PrunescaleError(f"--pattern {self.pattern} fixes every layer's sparsity; "
                                      f"--allocation {self.allocation} does not apply")
            if self.sparsity is not None and abs(self.sparsity - (m - n) / m) > 1e-9:
                raise PrunescaleError(f"--pattern {self.pattern} means sparsity {(m - n) / m:g}, not --sparsity "
                                      f"{self.sparsity:g} (leave --sparsity out)")
            return
        if self.allocation not in ("uniform", "owl"):
            ratios = read_allocation(self.allocation)
            if self.sparsity is not None and abs(self.sparsity - sum(ratios) / len(ratios)) > 5e-3:
                raise PrunescaleError(f"--allocation {self.allocation} averages {sum(ratios) / len(ratios):.4f}, "
                                      f"not --sparsity {self.sparsity:g} (leave --sparsity out)")
            return
        if self.sparsity is None:
            raise PrunescaleError(f"--method {method} needs --sparsity S (0 < S < 1) or --pattern N:M")
        if not 0 < self.sparsity < 1:
            raise PrunescaleError(f"--sparsity {self.sparsity} must be between 0 and 1")
        if self.allocation == "owl":
            if self.owl_m <= 0 or self.owl_lambda < 0:
                raise PrunescaleError(f"--owl-m {self.owl_m} must be > 0 and --owl-lambda {self.owl_lambda} >= 0")
            if not (0 <= self.sparsity - self.owl_lambda and self.sparsity + self.owl_lambda < 1):
                raise PrunescaleError(f"--owl-lambda {self.owl_lambda:g} puts layer sparsities outside [0, 1) "
                                      f"at --sparsity {self.sparsity:g}; use --owl-lambda <= "
                                      f"{min(self.sparsity, 1 - self.sparsity) - 1e-3:.3f}")


def parse_pattern(text: str) -> tuple[int, int]:
    """``"2:4"`` -> (2, 4): at most N nonzero weights in every group of M consecutive inputs."""
    try:
        n, m = (int(x) for x in str(text).split(":"))
    except ValueError:
        raise PrunescaleError(f"--pattern {text!r} is not N:M (e.g. 2:4)") from None
    if not 0 < n < m:
        raise PrunescaleError(f"--pattern {text!r} needs 0 < N < M")
    return n, m


def file_allocation(path: str, total: int) -> list[float]:
    """``--allocation FILE`` for a model of ``total`` layers: one sparsity per layer."""
    ratios = read_allocation(path)
    if len(ratios) != total:
        raise PrunescaleError(f"--allocation {path!r} lists {len(ratios)} sparsities; the model has {total} layers")
    return ratios


def read_allocation(path: str) -> list[float]:
    """Per-layer sparsities from a JSON or YAML list (``--allocation FILE``)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise PrunescaleError(f"--allocation {path!r} is not uniform, owl or an existing file")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))   # YAML is a superset of JSON
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PrunescaleError(f"--allocation {path!r} is not a JSON/YAML list: {str(e).splitlines()[0]}") from None
    if not isinstance(raw, list) or not raw or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                       for x in raw):
        raise PrunescaleError(f"--allocation {path!r} must hold a list of numbers, one sparsity per layer")
    bad = [x for x in raw if not 0 <= x < 1]
    if bad:
        raise PrunescaleError(f"--allocation {path!r}: layer sparsity {bad[0]} is not in [0, 1)")
    return [float(x) for x in raw]


# what is pruned ------------------------------------------------------------------------------------------------
def projections(layer: nn.Module) -> dict[str, nn.Linear]:
    """A decoder layer's linear projections (attention and MLP) by name."""
    return {name: m for name, m in layer.named_modules() if isinstance(m, nn.Linear)}


def measure(model: nn.Module) -> dict:
    """Measured sparsity: zero weights of the decoder layers' projections, per layer and overall."""
    zeros, totals = [], []
    for layer in adapter_for(model).layers(model):
        ws = [m.weight for m in projections(layer).values()]
        zeros.append(sum(int((w == 0).sum()) for w in ws))
        totals.append(sum(w.numel() for w in ws))
    return {"per_layer": [z / t if t else 0.0 for z, t in zip(zeros, totals)],
            "overall": sum(zeros) / max(sum(totals), 1), "zeros": sum(zeros), "weights": sum(totals)}


# masks ---------------------------------------------------------------------------------------------------------
def row_mask(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """True where a weight is pruned: the round(cols * s) lowest scores of each output row (Wanda's rule)."""
    k = round(score.shape[1] * sparsity)
    mask = torch.zeros_like(score, dtype=torch.bool)
    if k:
        mask.scatter_(1, torch.topk(score, k, dim=1, largest=False).indices, True)
    return mask


def matrix_mask(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """True where a weight is pruned: the round(numel * s) lowest scores of the whole matrix."""
    k = round(score.numel() * sparsity)
    mask = torch.zeros(score.numel(), dtype=torch.bool, device=score.device)
    if k:
        mask[torch.topk(score.flatten(), k, largest=False).indices] = True
    return mask.view_as(score)


def nm_mask(score: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """True where a weight is pruned: in each row, every group of m consecutive inputs keeps its n highest."""
    rows, cols = score.shape
    if cols % m:
        raise PrunescaleError(f"--pattern {n}:{m} needs input sizes divisible by {m}; a projection has {cols}")
    groups = score.reshape(rows, cols // m, m)
    mask = torch.zeros_like(groups, dtype=torch.bool)
    mask.scatter_(2, torch.argsort(groups, dim=2, stable=True)[:, :, :m - n], True)
    return mask.reshape(rows, cols)


# allocation ----------------------------------------------------------------------------------------------------
def owl_ratios(outlier_ratios: list[float], sparsity: float, lam: float) -> list[float]:
    """OWL's layer sparsities from per-layer outlier ratios (module docstring); their mean is ``sparsity``."""
    d = torch.tensor(outlier_ratios, dtype=torch.float64)
    spread = d.max() - d.min()
    if spread == 0:
        return [sparsity] * len(outlier_ratios)
    density = (d - d.min()) / spread * (2 * lam)
    density = density - density.mean() + (1 - sparsity)
    return [float(1 - x) for x in density]


def outlier_ratio(scores: list[torch.Tensor], m: float) -> float:
    """Share of a layer's scores (all its projections together) above ``m`` times their mean."""
    flat = torch.cat([s.flatten().double() for s in scores])
    return float((flat > m * flat.mean()).sum()) / flat.numel()


# calibration ---------------------------------------------------------------------------------------------------
class LayerInputs:
    """Each calibration batch's input to the current decoder layer, advanced one layer at a time.

    One pass of the dense model captures layer 0's input and every layer's call kwargs (mask, rotary); then
    :meth:`run` feeds the current inputs through one layer (with hooks on its projections seeing only real,
    unpadded tokens) and :meth:`advance` replaces them by that layer's output, after it has been pruned."""

    def __init__(self, model: nn.Module, batches: list[dict]):
        self.layers = adapter_for(model).layers(model)
        device = next(model.parameters()).device
        self.hidden, self.kwargs, self.masks = [], [], []
        calls: dict[int, tuple] = {}

        def pre(i, args, kwargs):
            calls[i] = ((args[0] if args else kwargs["hidden_states"]).detach(),
                        {k: v for k, v in kwargs.items() if k != "hidden_states"})

        handles = [layer.register_forward_pre_hook(lambda mod, a, k, i=i: pre(i, a, k), with_kwargs=True)
                   for i, layer in enumerate(self.layers)]
        try:
            with torch.no_grad():
                for b in batches:
                    ids, mask = b["input_ids"].to(device), b["attention_mask"].to(device)
                    model.base_model(input_ids=ids, attention_mask=mask, use_cache=False)
                    self.hidden.append(calls[0][0])
                    self.kwargs.append({i: calls[i][1] for i in range(len(self.layers))})
                    self.masks.append(mask.bool())
                    calls.clear()
        finally:
            for h in handles:
                h.remove()

    @torch.no_grad()
    def run(self, i: int, on_input) -> list[torch.Tensor]:
        """Run layer ``i`` on every batch; ``on_input(name, x)`` gets each projection's real-token inputs
        as a [tokens, in_features] fp32 matrix. Returns the layer's outputs."""
        layer, state = self.layers[i], {}
        handles = [mod.register_forward_hook(
            lambda m, a, o, name=name: on_input(name, a[0][state["mask"]].float()))
            for name, mod in projections(layer).items()]
        outs = []
        try:
            for h, kw, mask in zip(self.hidden, self.kwargs, self.masks):
                state["mask"] = mask
                outs.append(_hidden_out(layer(h, **kw[i])))
        finally:
            for hd in handles:
                hd.remove()
        return outs

    def advance(self, i: int) -> None:
        """Layer ``i`` (now pruned) turns the stored inputs into layer ``i + 1``'s."""
        self.hidden = self.run(i, lambda name, x: None)


def input_norms(inputs: LayerInputs, i: int) -> dict[str, torch.Tensor]:
    """||X_j||_2 over calibration tokens of every input channel j of layer ``i``'s projections."""
    sq: dict[str, torch.Tensor] = {}

    def add(name, x):
        sq[name] = sq.get(name, 0) + (x * x).sum(dim=0)

    inputs.run(i, add)
    return {k: v.sqrt() for k, v in sq.items()}


@torch.no_grad()
def dense_outlier_ratios(model: nn.Module, batches: list[dict], m: float) -> list[float]:
    """OWL's per-layer outlier ratios of Wanda scores on the dense model (one pass through every layer)."""
    inputs = LayerInputs(model, batches)
    out = []
    for i, layer in enumerate(inputs.layers):
        norms = input_norms(inputs, i)
        scores = [mod.weight.detach().abs().float() * norms[name][None, :] for name, mod in projections(layer).items()]
        out.append(outlier_ratio(scores, m))
        inputs.advance(i)
    return out


# the methods' base ---------------------------------------------------------------------------------------------
class UnstructuredMethod(PruneMethod):
    """Base of the unstructured methods: ``sparsify`` zeros weights layer by layer; no layer is removed.

    A subclass implements :meth:`prune_layer` (zero layer ``i``'s projections at ``sparsity`` or N:M)."""

    unstructured = True
    needs_activations: ClassVar[bool] = True     # magnitude needs calibration only for OWL

    def plan(self, model, n, calibration=None) -> PruneResult:
        raise PrunescaleError(f"{self.name} keeps every layer and zeros weights: use prunescale prune "
                              f"--method {self.name} --sparsity S")

    def apply(self, model, n, calibration=None) -> PruneResult:
        return self.plan(model, n, calibration)

    def needs_calibration_for(self, request: SparsityRequest) -> bool:
        return self.needs_activations or request.allocation == "owl"

    @torch.no_grad()
    def sparsify(self, model: nn.Module, request: SparsityRequest, calibration=None) -> PruneResult:
        """Zero weights of every decoder layer's projections in place; returns what was asked and measured."""
        layers = adapter_for(model).layers(model)
        total = len(layers)
        batches = calibration.batches if calibration is not None else []
        target = request.target()
        outliers = None
        if request.nm:
            ratios = [target] * total
        elif request.allocation == "uniform":
            ratios = [target] * total
        elif request.allocation == "owl":
            outliers = dense_outlier_ratios(model, batches, request.owl_m)
            ratios = owl_ratios(outliers, target, request.owl_lambda)
        else:
            ratios = file_allocation(request.allocation, total)
        before = measure(model)["zeros"]
        inputs = LayerInputs(model, batches) if self.needs_activations else None
        for i, layer in enumerate(layers):
            self.prune_layer(i, layer, ratios[i], request.nm, inputs)
            if inputs is not None and i + 1 < total:
                inputs.advance(i)
        measured = measure(model)
        details = {"sparsity": target, "pattern": request.pattern, "allocation": request.allocation,
                   "layer_sparsity_target": ratios, "measured_layer_sparsity": measured["per_layer"],
                   "measured_sparsity": measured["overall"], "zeroed_params": measured["zeros"] - before,
                   "projection_params": measured["weights"]}
        if outliers is not None:
            details.update(owl_m=request.owl_m, owl_lambda=request.owl_lambda, owl_outlier_ratios=outliers)
        keep = list(range(total))
        return PruneResult(removed=[], kept=keep, details=details)

    def prune_layer(self, i: int, layer: nn.Module, sparsity: float, nm: tuple[int, int] | None,
                    inputs: LayerInputs | None) -> None:
        raise NotImplementedError


def score_mask(score: torch.Tensor, sparsity: float, nm: tuple[int, int] | None, per_row: bool) -> torch.Tensor:
    """The pruning mask of one projection from its scores: N:M, per output row, or per matrix."""
    if nm:
        return nm_mask(score, *nm)
    return row_mask(score, sparsity) if per_row else matrix_mask(score, sparsity)


def save_allocation(path: str | Path, ratios: list[float]) -> None:
    """Write per-layer sparsities as ``--allocation FILE`` reads them (tests, users re-running OWL's choice)."""
    Path(path).write_text(json.dumps(ratios) + "\n", encoding="utf-8")
