"""A training checkpoint's model as a model directory, like the one `organism train` writes at its end."""

from __future__ import annotations

import os

from ..errors import PrunescaleError
from .checkpoint import read_checkpoint
from .model import ModelSpec, build_model
from .tokenizer import build_tokenizer
from .train import save


def read_for_export(path: str | os.PathLike) -> dict:
    """The checkpoint at ``path`` (a one-line error if it is not one), read before anything is written."""
    try:
        return read_checkpoint(path)
    except PrunescaleError as e:   # the same one line, without the training flag's name
        raise PrunescaleError(str(e).replace("--resume-from ", "", 1)) from None


def export_checkpoint(ck: dict, out_dir: str | os.PathLike) -> int:
    """Save a checkpoint's model (:func:`read_for_export`) and the tokenizer to ``out_dir``; returns its step."""
    tokenizer = build_tokenizer()
    model = build_model(ModelSpec(**ck["config"]["model"]), tokenizer)
    model.load_state_dict(ck["model"])
    save(model, tokenizer, out_dir, count=ck["config"].get("count", "up"))
    return ck["step"]
