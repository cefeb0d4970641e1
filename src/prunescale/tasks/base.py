"""Tasks: a registry of benchmarks, each loading problems and grading answers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PrunescaleError
from ..fileio import read_jsonl_rows
from ..sources import parse_source
from ..registry import Registry

TASKS: Registry["Task"] = Registry("task", package="prunescale.tasks", group="prunescale.tasks")


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
    chain_length: int | None = None   # steps every problem needs, where the task fixes it (organism-chain:k=K)
    loglik = False               # offers log-likelihood multiple choice (``prunescale knowledge``): mc_items
    in_lm_eval = False           # lm-evaluation-harness knows a task of this name (``knowledge --engine lm-eval``)
    uses_data = True             # load() reads a local file given as --data
    hub_size: int | None = None  # problems in its hub dataset: `study plan` counts them without downloading

    def __init__(self, **options):
        self.options = options

    def load(self, data: str | None = None, limit: int | None = None) -> list[Problem]:
        raise NotImplementedError

    def use_fields(self, question: str | None = None, answer: str | None = None, id: str | None = None) -> None:
        """Field names of the task's JSONL rows (--question-field...); only tasks that read JSONL take them."""
        if question or answer or id:
            raise PrunescaleError(f"task {self.name!r} does not take --question-field, --answer-field or "
                                  "--id-field (they apply to jsonl:PATH and math tasks given --data)")

    def extract(self, response: str) -> str | None:
        raise NotImplementedError

    def mc_items(self, tokenizer, data: str | None = None, limit: int | None = None) -> list:
        """Log-likelihood multiple-choice items (``tasks.loglik.MCItem``) of this task."""
        raise PrunescaleError(f"task {self.name!r} has no log-likelihood mode")

    def is_correct(self, extracted: str | None, problem: Problem) -> bool:
        return extracted is not None and self.same_answer(extracted, problem.answer)

    def judge(self, extracted: str | None, problem: Problem) -> tuple[bool, str | None]:
        """(correct, note): the note says why an answer was graded wrong without a verdict (e.g. "timeout")."""
        return self.is_correct(extracted, problem), None

    def same_answer(self, a: str, b: str) -> bool:
        return a.strip() == b.strip()


def canonical_spec(spec: str) -> str:
    """The name a task is stored under: ``jsonl:`` paths made absolute, so one file is one task."""
    if spec == "jsonl:":
        raise PrunescaleError("task 'jsonl:' names no file (use jsonl:PATH)")
    source = parse_source(spec)
    if source.kind == "jsonl":
        return "jsonl:" + str(Path(source.value).expanduser().resolve())
    return spec


_OPTION = re.compile(r"[A-Za-z_][\w-]*=")


def split_task_list(text: str) -> list[str]:
    """Task specs from a comma-separated list. A piece that is ``key=value`` continues the options of the task
    before it, so options and lists mix: ``organism-chain:k=8,seed=3,organism-facts`` is two tasks."""
    out: list[str] = []
    for piece in (p.strip() for p in str(text).split(",")):
        if not piece:
            continue
        if out and _OPTION.match(piece) and not out[-1].startswith("jsonl:"):
            out[-1] += ("," if ":" in out[-1] else ":") + piece
        else:
            out.append(piece)
    return out


def get_task(spec: str) -> Task:
    """``name``, ``name:key=value,key=value`` or ``jsonl:PATH``."""
    if parse_source(spec).kind == "jsonl":
        return TASKS.get("jsonl")(path=canonical_spec(spec)[len("jsonl:"):])
    name, _, rest = spec.partition(":")
    options = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            raise PrunescaleError(f"task option {part!r} in {spec!r} is not key=value")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return TASKS.get(name)(**options)


def int_option(task: Task, key: str, default: int, low: int, high: int | None = None) -> int:
    """An integer task option in [low, high], or a one-line error naming it."""
    value = task.options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise PrunescaleError(f"task {task.name!r}: option {key}={value!r} is not an integer in {span}")
    return value


def check_options(task: Task, known: tuple[str, ...]) -> None:
    unknown = sorted(set(task.options) - set(known))
    if unknown:
        raise PrunescaleError(f"task {task.name!r} has no option {unknown[0]!r} "
                              f"(options: {', '.join(known) or 'none'})")


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a JSONL file, each a JSON object with the ``required`` fields set (not null); one-line errors
    name the file, line and field. An empty file is an error."""
    return require(jsonl_lines(path), required, path)


def jsonl_lines(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, row) of each non-blank line; every row a JSON object, at least one."""
    return read_jsonl_rows(path, "data file")


def require(lines: list[tuple[int, dict]], keys: tuple[str, ...], path) -> list[dict]:
    """The rows, once each is checked to have every field in ``keys`` set (not null)."""
    for n, row in lines:
        for key in keys:
            if key not in row:
                raise PrunescaleError(f"{path}: line {n} has no field {key!r} (its fields: "
                                      f"{', '.join(map(str, row)) or 'none'})")
            if row[key] is None:
                raise PrunescaleError(f"{path}: line {n} field {key!r} is null")
    return [row for _, row in lines]


def pick_field(first: dict, given: str | None, accepted: tuple[str, ...], what: str, path) -> str:
    """The field holding ``what`` (question, answer, id): the one given, else the first accepted name the first
    row has; the error lists the names accepted and the ones the file has."""
    names = (given,) if given else accepted
    for name in names:
        if name in first:
            return name
    how = f"given by --{what}-field" if given else f"accepted: {', '.join(accepted)}"
    raise PrunescaleError(f"{path}: the first row has no {what} field ({how}; the file has: "
                          f"{', '.join(map(str, first)) or 'none'}); set one with --{what}-field")


def unique_ids(problems: list[Problem], where) -> list[Problem]:
    """Problem ids key the results store: a repeated one would silently merge two problems."""
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise PrunescaleError(f"{where}: problem id {p.id!r} appears twice (set a unique one with --id-field)")
        seen.add(p.id)
    return problems
