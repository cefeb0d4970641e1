"""Data sources as users write them: ``hf:DATASET[:CONFIG][:SPLIT]``, ``jsonl:PATH``, ``file:PATH``,
``self[:PATH]``, or a bare name / path (calibration text, task data, fine-tuning data)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PrunescaleError

SPLITS = ("train", "test", "validation", "dev")


@dataclass(frozen=True)
class Source:
    """A data source as users write it: ``hf:DATASET[:CONFIG][:SPLIT]``, ``jsonl:PATH``, ``file:PATH``,
    ``self[:PATH]``, or a bare name / path (kind ``""``)."""

    kind: str
    value: str

    @property
    def hf_parts(self) -> tuple[str, str | None, str]:
        """(dataset, config or None, split) of an ``hf:`` source. Split defaults to train; with one part after
        the name, it is the split when it names one (train, test, validation, dev, maybe sliced: ``train[:500]``),
        else the config (``hf:wikitext:wikitext-2-raw-v1``)."""
        base, bracket, sliced = self.value.partition("[")   # a slice may hold colons: train[:500]
        name, *rest = base.split(":", 2)
        if bracket:
            rest = rest or [""]
            rest[-1] += bracket + sliced
        if len(rest) == 2:
            return name, rest[0] or None, rest[1] or "train"
        if rest and rest[0].split("[")[0] in SPLITS:
            return name, None, rest[0]
        return name, (rest[0] or None) if rest else None, "train"


SOURCE_KINDS = ("hf", "jsonl", "file", "self")


def parse_source(spec: str) -> Source:
    """Split ``kind:value`` for the known kinds; anything else is kind ``""`` with the whole text as value."""
    kind, sep, value = spec.partition(":")
    if sep and kind in SOURCE_KINDS:
        if kind != "self" and not value:
            raise PrunescaleError(f"{spec!r} names no {'dataset' if kind == 'hf' else 'file'} after {kind}:")
        return Source(kind, value)
    return Source("", spec)
