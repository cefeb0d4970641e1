"""A training checkpoint's model as a model directory, like the one `organism train` writes at its end."""

from __future__ import annotations

import os

from .model import ModelSpec, build_model
from .tokenizer import build_tokenizer
from .train import save


def export_checkpoint(ck: dict, out_dir: str | os.PathLike) -> int:
    """Save a checkpoint's model (:func:`checkpoint.read_checkpoint`) and the tokenizer to ``out_dir``; returns
    its step."""
    tokenizer = build_tokenizer()
    model = build_model(ModelSpec(**ck["config"]["model"]), tokenizer)
    model.load_state_dict(ck["model"])
    save(model, tokenizer, out_dir, count=ck["config"].get("count", "up"))
    return ck["step"]
