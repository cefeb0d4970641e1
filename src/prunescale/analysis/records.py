"""The analysis input: one plain record per generated response, whatever store it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import PrunescaleError


@dataclass
class Record:
    """One response. Only ``problem_id``, ``sample`` and ``response`` are required.

    ``model``, ``task`` and ``budget`` label the group it is aggregated in; ``thinking_tokens`` and
    ``forced`` come from the generation log when it has them (otherwise detected or left unknown);
    ``thinking_end`` is the character offset in ``response`` where thinking stops, for texts without
    chat-template markers to find it by.
    """

    problem_id: str
    sample: int
    response: str
    correct: bool | None = None
    thinking_tokens: int | None = None
    budget: int | None = None
    forced: bool | None = None
    model: str | None = None
    task: str | None = None
    extracted_answer: str | None = None
    thinking_end: int | None = None
    seed: int | None = None          # the run seed (a results store's rows are keyed by it)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "record") -> "Record":
        """Build from a dict with these field names (extra keys are ignored); ``where`` names it in errors."""
        names = {f.name for f in fields(cls)}
        for key in ("problem_id", "sample", "response"):
            if d.get(key) is None:
                raise PrunescaleError(f"{where}: missing {key!r}")
        if not isinstance(d["response"], str):
            raise PrunescaleError(f"{where}: 'response' must be text")
        values = {k: v for k, v in d.items() if k in names}
        values["problem_id"] = str(values["problem_id"])
        for key in ("sample", "thinking_tokens", "budget", "thinking_end", "seed"):
            if values.get(key) is not None:
                try:
                    values[key] = int(values[key])
                except (TypeError, ValueError):
                    raise PrunescaleError(f"{where}: {key!r} must be an integer, got {values[key]!r}") from None
        for key in ("correct", "forced"):
            if values.get(key) is not None:
                if values[key] not in (0, 1):  # True/False/0/1/1.0; a string like "false" is a mistake
                    raise PrunescaleError(f"{where}: {key!r} must be true/false, got {values[key]!r}")
                values[key] = bool(values[key])
        return cls(**values)

    def group_key(self) -> tuple:
        return (self.model, self.task, self.budget)

    def to_dict(self) -> dict:
        return asdict(self)


def as_records(items) -> list[Record]:
    """Records from Record objects or plain dicts."""
    return [x if isinstance(x, Record) else Record.from_dict(x, f"record {i}") for i, x in enumerate(items)]
