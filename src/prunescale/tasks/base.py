"""Tasks: a registry of benchmarks, each loading problems and grading answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PrunescaleError
from ..registry import Registry

TASKS: Registry["Task"] = Registry("task")


@dataclass
class Problem:
    id: str
    prompt: str                  # the user message, with the task's answer-format instruction
    answer: str                  # gold answer (multiple choice: the gold letter after shuffling)
    choices: list[str] | None = None
    meta: dict = field(default_factory=dict)


class Task:
    name = ""
    long_chain = True            # long reasoning (True) or knowledge / shallow (False)

    def __init__(self, **options):
        self.options = options

    def load(self, data: str | None = None, limit: int | None = None) -> list[Problem]:
        raise NotImplementedError

    def extract(self, response: str) -> str | None:
        raise NotImplementedError

    def is_correct(self, extracted: str | None, problem: Problem) -> bool:
        return extracted is not None and self.same_answer(extracted, problem.answer)

    def same_answer(self, a: str, b: str) -> bool:
        return a.strip() == b.strip()


def get_task(spec: str) -> Task:
    """``name``, ``name:key=value,key=value`` or ``jsonl:PATH``."""
    if spec.startswith("jsonl:"):
        return TASKS.get("jsonl")(path=spec[len("jsonl:"):])
    name, _, rest = spec.partition(":")
    options = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise PrunescaleError(f"task option {part!r} in {spec!r} is not key=value")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return TASKS.get(name)(**options)


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a JSONL file; a missing field is a one-line error naming the file, line and field."""
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise PrunescaleError(f"cannot read data file {str(path)!r}: {e.strerror}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise PrunescaleError(f"{path}: line {n} is not valid JSON") from None
        for key in required:
            if key not in row:
                raise PrunescaleError(f"{path}: line {n} has no field {key!r}")
        rows.append(row)
    return rows
