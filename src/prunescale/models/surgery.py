"""Depth surgery: keep a subset of decoder layers and leave model and config consistent.

One small adapter per architecture family, found by ``config.model_type``, with a generic fallback. After
:func:`keep_layers` the kept layers are renumbered (``layer_idx`` on every submodule, so the KV cache
indexes them correctly), per-layer config fields are sliced to the kept layers, and ``save_pretrained``
writes contiguous ``layers.0..k-1`` names that vLLM loads as a smaller model of the same architecture.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import torch
from torch import nn

from ..errors import PrunescaleError
from ..registry import Registry

ADAPTERS: Registry["Adapter"] = Registry("architecture adapter", package="prunescale.models", group="prunescale.adapters")

# Where decoder stacks live, in the order we look for them.
_LAYER_PATHS = ("model.layers", "model.language_model.layers", "language_model.model.layers",
                "transformer.h", "gpt_neox.layers", "model.decoder.layers", "layers")
_NORM_PATHS = ("model.norm", "model.language_model.norm", "language_model.model.norm",
               "transformer.ln_f", "gpt_neox.final_layer_norm", "model.decoder.final_layer_norm", "norm")


def _get(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class Adapter:
    """Generic behaviour; subclasses override only what their family does differently."""

    name = "generic"

    def layers_path(self, model: nn.Module) -> str:
        for path in _LAYER_PATHS:
            if isinstance(_get(model, path), nn.ModuleList):
                return path
        raise PrunescaleError(f"cannot find the decoder layers of {type(model).__name__}")

    def layers(self, model: nn.Module) -> nn.ModuleList:
        return _get(model, self.layers_path(model))

    def final_norm(self, model: nn.Module) -> nn.Module | None:
        for path in _NORM_PATHS:
            mod = _get(model, path)
            if isinstance(mod, nn.Module):
                return mod
        return None

    def config(self, model: nn.Module):
        cfg = model.config
        return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg

    def fix_config(self, cfg, keep: Sequence[int], n_before: int) -> None:
        """Make layer-describing config fields agree with the kept layers (original indices ``keep``)."""
        cfg.num_hidden_layers = len(keep)
        for key, value in list(vars(cfg).items()):
            # Per-layer lists (layer_types, no_rope_layers, ...) are sliced, never regenerated, so each kept
            # layer keeps its own attention type.
            if isinstance(value, (list, tuple)) and len(value) == n_before and "layer" in key:
                setattr(cfg, key, type(value)(value[i] for i in keep))
        # Lists of layer *indices* (e.g. Qwen MoE's mlp_only_layers) are renumbered.
        for key in ("mlp_only_layers",):
            if isinstance(getattr(cfg, key, None), list):
                pos = {old: new for new, old in enumerate(keep)}
                setattr(cfg, key, [pos[i] for i in getattr(cfg, key) if i in pos])

    def merge_targets(self, layer: nn.Module) -> list[str]:
        """Parameter names of a layer's attention and MLP projections (what LaCo's RDSC merges)."""
        names = []
        for mod_name, mod in layer.named_modules():
            if isinstance(mod, nn.Linear):
                prefix = f"{mod_name}." if mod_name else ""
                names += [prefix + p for p, _ in mod.named_parameters(recurse=False)]
        return names


@ADAPTERS.register("llama")
class LlamaAdapter(Adapter):
    pass


@ADAPTERS.register("mistral")
class MistralAdapter(Adapter):
    pass


@ADAPTERS.register("phi3")
class Phi3Adapter(Adapter):
    pass


class _WindowedQwen(Adapter):
    def fix_config(self, cfg, keep, n_before):
        # Layers at original index >= max_window_layers use sliding-window attention (when enabled).
        if getattr(cfg, "max_window_layers", None) is not None:
            cfg.max_window_layers = sum(1 for i in keep if i < cfg.max_window_layers)
        super().fix_config(cfg, keep, n_before)


@ADAPTERS.register("qwen2")
class Qwen2Adapter(_WindowedQwen):
    pass


@ADAPTERS.register("qwen3")
class Qwen3Adapter(_WindowedQwen):
    pass


@ADAPTERS.register("qwen3_moe")
class Qwen3MoeAdapter(_WindowedQwen):
    pass


@ADAPTERS.register("gemma2")
class Gemma2Adapter(Adapter):
    pass


@ADAPTERS.register("gemma3_text")
class Gemma3TextAdapter(Adapter):
    pass


@ADAPTERS.register("gemma3")
class Gemma3Adapter(Adapter):
    pass


def adapter_for(model: nn.Module) -> Adapter:
    model_type = getattr(model.config, "model_type", "")
    return ADAPTERS.get(model_type)() if model_type in ADAPTERS else Adapter()


def num_layers(model: nn.Module) -> int:
    return len(adapter_for(model).layers(model))


def keep_layers(model: nn.Module, keep: Sequence[int]) -> nn.Module:
    """Keep only decoder layers ``keep`` (original indices, any order given), in place; returns ``model``."""
    adapter = adapter_for(model)
    path = adapter.layers_path(model)
    layers = _get(model, path)
    n = len(layers)
    keep = sorted(set(int(i) for i in keep))
    if not keep:
        raise PrunescaleError("cannot remove every decoder layer")
    bad = [i for i in keep if not 0 <= i < n]
    if bad:
        raise PrunescaleError(f"layer index {bad[0]} out of range (model has {n} layers: 0..{n - 1})")
    new = nn.ModuleList([layers[i] for i in keep])
    parent_path, _, attr = path.rpartition(".")
    setattr(_get(model, parent_path) if parent_path else model, attr, new)
    renumber(new)
    adapter.fix_config(adapter.config(model), keep, n)
    return model


@contextmanager
def without_layers(model: nn.Module, drop: Sequence[int]):
    """Run a block with decoder layers ``drop`` removed by :func:`keep_layers`, then put them back: the same
    layer objects, their ``layer_idx`` and the config as they were (a leave-one-out score without a copy)."""
    adapter = adapter_for(model)
    path = adapter.layers_path(model)
    layers = _get(model, path)
    cfg = adapter.config(model)
    saved = dict(vars(cfg))
    drop = set(drop)
    keep_layers(model, [i for i in range(len(layers)) if i not in drop])
    try:
        yield model
    finally:
        parent_path, _, attr = path.rpartition(".")
        setattr(_get(model, parent_path) if parent_path else model, attr, layers)
        renumber(layers)
        cfg.__dict__.update(saved)


def renumber(layers: nn.ModuleList) -> None:
    """Set ``layer_idx`` on every submodule that has one to its layer's new position."""
    for new_idx, layer in enumerate(layers):
        for mod in layer.modules():
            if isinstance(getattr(mod, "layer_idx", None), int):
                mod.layer_idx = new_idx


def param_count(model: nn.Module) -> int:
    # Tied embeddings are counted once.
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


@torch.no_grad()
def merge_rdsc(base: nn.Module, others: Sequence[nn.Module], names: Sequence[str], rule: str = "rdsc") -> None:
    """Merge ``others`` into ``base`` in place (LaCo's Reserving-Differences-while-Seeking-Common).

    ``rdsc``: theta = theta_base + sum_k (theta_k - theta_base), the LaCo paper's rule.
    ``reference``: the public reference code's in-place loop, which subtracts the already-updated base, so the
    result is the last merged layer's weights; kept only to reproduce their numbers.
    """
    if rule not in ("rdsc", "reference"):
        raise PrunescaleError(f"unknown LaCo merge rule {rule!r} (choose from: rdsc, reference)")
    base_params = dict(base.named_parameters())
    other_params = [dict(o.named_parameters()) for o in others]
    for name in names:
        theta = base_params[name]
        if rule == "rdsc":
            orig = theta.detach().float().clone()
            acc = orig.clone()
            for op in other_params:
                acc += op[name].detach().float() - orig
            theta.copy_(acc.to(theta.dtype))
        else:
            for op in other_params:
                theta.add_(op[name].detach() - theta)
