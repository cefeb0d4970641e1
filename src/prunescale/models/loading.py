"""Load a causal LM and its tokenizer from a hub id, a local directory or ``embedded:NAME``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import PrunescaleError
from . import embedded

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    spec: str          # what the user passed
    path: str          # the directory or hub id actually loaded


def pick_device(device: str | None) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise PrunescaleError(f"unknown device {device!r} (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PrunescaleError(f"device {device!r} requested but CUDA is not available")
    return dev


def dtype_name(dtype: str | None, cuda: bool) -> str:
    """The dtype rule every backend follows: float32 on CPU, bfloat16 on CUDA, unless the user says otherwise
    (returned as given: an engine may know names torch does not)."""
    if dtype in (None, "", "auto"):
        return "bfloat16" if cuda else "float32"
    return dtype


def pick_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """:func:`dtype_name` on ``device``, as a torch dtype."""
    name = dtype_name(dtype, device.type == "cuda")
    if name not in _DTYPES:
        raise PrunescaleError(f"unknown dtype {dtype!r} (choose from: float32, bfloat16, float16, auto)")
    return _DTYPES[name]


def resolve_path(spec: str) -> str:
    """Map a model spec to something ``from_pretrained`` accepts."""
    if not spec:
        raise PrunescaleError("no model given (--model: a hub id, a local directory or embedded:NAME)")
    if spec.startswith(embedded.PREFIX):
        return str(embedded.resolve(spec))
    p = Path(spec).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise PrunescaleError(f"model directory {spec!r} has no config.json")
        return str(p)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise PrunescaleError(f"model {spec!r} not found: no such directory")
    return spec  # a hub id


def load_config(path: str, trust_remote_code: bool = False):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)


def load_tokenizer(path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)


def load_tokenizer_config(spec: str, path: str | None = None, *, trust_remote_code: bool = False):
    """``(path, tokenizer, config)`` of ``spec`` (or of ``path``, already resolved), without the weights: what a
    backend that runs the model elsewhere (an engine, a server) needs to render prompts and pick a profile."""
    path = str(path or resolve_path(spec))
    return path, load_tokenizer(path, trust_remote_code), load_config(path, trust_remote_code)


def load_model(
    spec: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    tokenizer: bool = True,
) -> LoadedModel:
    """Load ``spec`` as a causal LM in eval mode. Problems become one-line :class:`PrunescaleError`."""
    from transformers import AutoModelForCausalLM

    path = resolve_path(spec)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dtype, dev)
    try:
        config = load_config(path, trust_remote_code)
    except (OSError, ValueError) as e:
        raise PrunescaleError(f"cannot load model {spec!r}: {_first_line(e)}") from None
    if not _is_causal_lm(config, trust_remote_code):
        raise PrunescaleError(
            f"model {spec!r} ({config.model_type}) is not a causal language model supported by transformers"
        )
    quiet = logging.getLogger("transformers.modeling_utils")
    level = quiet.level
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch_dtype, trust_remote_code=trust_remote_code
        )
        tok = load_tokenizer(path, trust_remote_code) if tokenizer else None
    except (OSError, ValueError) as e:
        raise PrunescaleError(f"cannot load model {spec!r}: {_first_line(e)}") from None
    finally:
        quiet.setLevel(level)
    from .surgery import adapter_for

    try:
        adapter_for(model).layers_path(model)
    except PrunescaleError:
        raise PrunescaleError(f"model {spec!r} ({config.model_type}) is not a decoder-only causal LM "
                              "with a stack of decoder layers") from None
    model.to(dev)
    model.eval()
    if tok is not None and tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return LoadedModel(model=model, tokenizer=tok, spec=spec, path=path)


def _is_causal_lm(config, trust_remote_code: bool) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return True
    auto_map = getattr(config, "auto_map", None) or {}
    return trust_remote_code and "AutoModelForCausalLM" in auto_map


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
