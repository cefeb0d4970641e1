"""A model's shape for planning, without loading its weights: depth, KV heads, head size, parameters.

From a local directory's config.json and safetensors headers (exact), or, for well-known hub ids that cannot
be fetched offline, from a built-in table of their published config.json values (``KNOWN``). Weight and KV
cache bytes follow from the shape (:meth:`ModelShape.weight_bytes`, :meth:`ModelShape.kv_bytes`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import PrunescaleError

DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2, "half": 2}

# Published config.json fields of the reference study's models (arXiv 2510.22228: Qwen3-8B, s1.1-7B = a
# Qwen2.5-7B fine-tune); parameters follow from them (llama-style blocks, see _params_from_config).
KNOWN = {
    "Qwen/Qwen3-8B": {"model_type": "qwen3", "num_hidden_layers": 36, "hidden_size": 4096, "intermediate_size": 12288,
                      "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
                      "tie_word_embeddings": False, "attention_bias": False},
    "simplescaling/s1.1-7B": {"model_type": "qwen2", "num_hidden_layers": 28, "hidden_size": 3584,
                              "intermediate_size": 18944, "num_attention_heads": 28, "num_key_value_heads": 4,
                              "vocab_size": 152064, "tie_word_embeddings": False, "attention_bias": True},
}
KNOWN["Qwen/Qwen2.5-7B-Instruct"] = KNOWN["simplescaling/s1.1-7B"]


@dataclass(frozen=True)
class ModelShape:
    layers: int
    kv_heads: int
    head_dim: int
    params: int                  # every parameter, embeddings included
    layer_params: int            # parameters of one decoder layer (the mean, where layers differ)
    source: str                  # where the numbers come from, for the plan's assumptions

    def without(self, n: int) -> ModelShape:
        """The shape after removing ``n`` decoder layers (a merge removes as many as a deletion)."""
        if not 0 <= n < self.layers:
            raise PrunescaleError(f"cannot remove {n} of the model's {self.layers} layers")
        return replace(self, layers=self.layers - n, params=self.params - n * self.layer_params)

    def weight_bytes(self, dtype: str) -> int:
        return self.params * dtype_bytes(dtype)

    def kv_bytes(self, tokens: int, dtype: str) -> int:
        """The KV cache of ``tokens`` positions in all (keys and values, every layer, every KV head)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * dtype_bytes(dtype) * tokens


def dtype_bytes(dtype: str) -> int:
    if dtype not in DTYPE_BYTES:
        raise PrunescaleError(f"unknown dtype {dtype!r} (choose from: float32, bfloat16, float16)")
    return DTYPE_BYTES[dtype]


def model_shape(spec: str) -> ModelShape:
    """The shape of a model spec: a local directory (or ``embedded:NAME``) read from disk, else the built-in
    table; a hub id outside the table is refused (nothing is downloaded)."""
    from .loading import resolve_path

    path = Path(resolve_path(spec))
    if (path / "config.json").is_file():
        return _local_shape(path, spec)
    if spec in KNOWN:
        cfg = KNOWN[spec]
        total, layer = _params_from_config(cfg)
        return ModelShape(cfg["num_hidden_layers"], cfg["num_key_value_heads"], _head_dim(cfg), total, layer,
                          f"{spec}: built-in table of its config.json (not downloaded)")
    raise PrunescaleError(f"model {spec!r}: no local config.json and not in the built-in table "
                          f"({', '.join(sorted(KNOWN))}); download its config.json and safetensors into a directory "
                          "and give that, or pass --tokens-per-s with a known model")


def _local_shape(path: Path, spec: str) -> ModelShape:
    cfg = json.loads((path / "config.json").read_text())
    cfg = cfg.get("text_config", cfg)   # multimodal wrappers keep the language model's fields here
    counted = _safetensors_params(path)
    if counted is None:   # config only: the llama-style estimate
        total, layer = _params_from_config(cfg)
        how = "config.json (llama-style parameter count)"
    else:
        total, in_layers = counted
        layer = in_layers // cfg["num_hidden_layers"]
        how = "config.json and safetensors headers"
    return ModelShape(cfg["num_hidden_layers"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"],
                      _head_dim(cfg), total, layer, f"{spec}: {how}")


def _head_dim(cfg: dict) -> int:
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def _params_from_config(cfg: dict) -> tuple[int, int]:
    """(all parameters, one layer's) of a llama-style decoder: q/k/v/o attention (biases on q, k, v where
    ``attention_bias``; Qwen3's q/k norms), a gated MLP, two norms per layer, embeddings, an untied head."""
    h, heads, kv, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], _head_dim(cfg)
    attn = h * heads * d + 2 * h * kv * d + heads * d * h
    if cfg.get("attention_bias"):
        attn += heads * d + 2 * kv * d
    if cfg.get("model_type") == "qwen3":
        attn += 2 * d
    layer = attn + 3 * h * cfg["intermediate_size"] + 2 * h
    embed = cfg["vocab_size"] * h * (1 if cfg.get("tie_word_embeddings") else 2)
    return embed + cfg["num_hidden_layers"] * layer + h, layer


_LAYER = re.compile(r"\.layers\.(\d+)\.")


def _safetensors_params(path: Path) -> tuple[int, int] | None:
    """(all parameters, those inside decoder layers) from the safetensors headers; None without any file."""
    from safetensors import safe_open

    files = sorted(path.glob("*.safetensors"))
    if not files:
        return None
    total = in_layers = 0
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for name in st.keys():
                n = 1
                for dim in st.get_slice(name).get_shape():
                    n *= dim
                total += n
                in_layers += n if _LAYER.search(name) else 0
    return total, in_layers
