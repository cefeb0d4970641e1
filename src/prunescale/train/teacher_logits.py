"""The teacher's next-token logits for KD: computed on the fly each step, or once and cached on disk.

The cache holds, per training example, the teacher's logits at the positions that predict an assistant token
(its top-k as fp16 values and int32 indices; without top-k the whole vocabulary as fp16), in one file under
``$PRUNESCALE_CACHE/kd_logits`` keyed by the teacher's fingerprint, the data (a hash of every example's tokens
and mask) and k. ``--kd-cache-mb`` bounds it: a cache that would be larger is not written and the logits are
computed on the fly instead (with a message). A cached run skips the teacher's forward passes; with several
epochs or a second run on the same data that is most of the teacher's cost.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from ..errors import PrunescaleError
from ..fileio import write_atomic
from .kd import shifted, teacher_targets

FORMAT = 1   # bump when what a cache file holds changes


def cache_root() -> Path:
    """``$PRUNESCALE_CACHE/kd_logits`` (default ``~/.cache/prunescale/kd_logits``)."""
    from ..models.embedded import cache_dir

    return cache_dir() / "kd_logits"


def row_key(input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> str:
    """One example as the collator made it, padding left out: its tokens and which of them are trained on."""
    keep = attention_mask.bool()
    h = hashlib.sha256(input_ids[keep].cpu().numpy().astype("int64").tobytes())
    h.update(labels[keep].ne(-100).cpu().numpy().tobytes())
    return h.hexdigest()[:32]


class TeacherLogits:
    """The KD targets of a batch: ``for_batch`` returns (values, indices or None) aligned with the student's
    assistant positions (:func:`.kd.shifted`'s order)."""

    def __init__(self, model, top_k: int, rows: dict | None = None):
        self.model, self.top_k, self.rows = model, top_k, rows

    @property
    def cached(self) -> bool:
        return self.rows is not None

    @torch.no_grad()
    def compute(self, input_ids, attention_mask, labels) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.model.eval()
        device = next(self.model.parameters()).device
        logits = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                            use_cache=False).logits
        return teacher_targets(shifted(logits, labels.to(device))[0].float(), self.top_k)

    def for_batch(self, input_ids, attention_mask, labels) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.rows is None:
            return self.compute(input_ids, attention_mask, labels)
        parts = [self.rows[row_key(i, m, lab)] for i, m, lab in zip(input_ids, attention_mask, labels)]
        values = torch.cat([p[0] for p in parts]).float()
        indices = None if parts[0][1] is None else torch.cat([p[1] for p in parts]).long()
        return values, indices


def teacher_logits(teacher, teacher_tok, batches: list[dict], *, top_k: int, cache_mb: float,
                   log=print) -> TeacherLogits:
    """On-the-fly targets, or cached ones (read, or computed now and written) when they fit ``cache_mb``.
    ``batches``: the training examples as the trainer's collator batches them."""
    from ..prune.trace_calibration import model_fingerprint

    on_the_fly = TeacherLogits(teacher, top_k)
    if cache_mb <= 0:
        log("KD: teacher logits on the fly (--kd-cache-mb 0)")
        return on_the_fly
    vocab = teacher.get_output_embeddings().weight.shape[0]
    k = top_k if top_k and top_k < vocab else vocab
    positions = sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches)
    size_mb = positions * k * (2 + (4 if k < vocab else 0)) / 2**20
    if size_mb > cache_mb:
        log(f"KD: the teacher logits cache would take {size_mb:.1f} MB > --kd-cache-mb {cache_mb:g}: "
            "computing them on the fly")
        return on_the_fly
    keys = [row_key(*row) for b in batches for row in zip(b["input_ids"], b["attention_mask"], b["labels"])]
    key = {"format": FORMAT, "teacher": model_fingerprint(teacher, teacher_tok), "top_k": k if k < vocab else 0,
           "data": hashlib.sha256("\n".join(keys).encode()).hexdigest()}
    path = cache_root() / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]}.pt"
    rows = _read(path, key)
    if rows is not None:
        log(f"KD: teacher logits from the cache {path}")
        return TeacherLogits(teacher, top_k, rows)
    rows = {}
    for b in batches:
        values, indices = on_the_fly.compute(b["input_ids"], b["attention_mask"], b["labels"])
        counts = (b["labels"][:, 1:] != -100).sum(1).tolist()
        start = 0
        for row, n in zip(zip(b["input_ids"], b["attention_mask"], b["labels"]), counts):
            rows[row_key(*row)] = (values[start:start + n].half().cpu(),
                                   None if indices is None else indices[start:start + n].int().cpu())
            start += n
    buf = io.BytesIO()
    torch.save({"key": key, "rows": rows}, buf)
    try:
        write_atomic(path, buf.getvalue())
        log(f"KD: teacher logits cached in {path} ({path.stat().st_size / 2**20:.1f} MB)")
    except PrunescaleError as e:   # an unwritable cache costs the next run the teacher's passes, not this run
        log(f"KD: teacher logits not cached: {e}")
    return TeacherLogits(teacher, top_k, rows)


def _read(path: Path, key: dict) -> dict | None:
    try:
        record = torch.load(path, weights_only=True)
        return record["rows"] if record.get("key") == key else None
    except (OSError, RuntimeError, KeyError, TypeError, EOFError, ValueError):   # absent or damaged: compute again
        return None
