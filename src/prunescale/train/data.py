"""Reasoning traces for recovery fine-tuning: question, thinking, answer (or a raw completion).

Sources: ``organism`` (the organism generator's worked solutions), ``jsonl:PATH`` or a plain path (field names
configurable), ``hf:NAME[:split]`` (s1K-style datasets from the hub; needs ``prunescale[hf]``), and
``self:RUN_DIR`` (a model's own correct generations in a prunescale results store: self-distillation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PrunescaleError
from ..fileio import read_jsonl_rows
from ..sources import Source, parse_source

# s1K / s1K-1.1 field names, tried in order when the user gives none.
QUESTION_FIELDS = ("question", "problem", "prompt")
THINKING_FIELDS = ("deepseek_thinking_trajectory", "thinking_trajectories", "thinking", "reasoning")
ANSWER_FIELDS = ("deepseek_attempt", "attempt", "answer", "solution")


@dataclass
class Trace:
    question: str
    thinking: str = ""
    answer: str = ""
    completion: str | None = None     # raw assistant text after the generation prompt (self-distillation)


def load_traces(spec: str, *, samples: int | None = None, seed: int = 0, question_field: str | None = None,
                thinking_field: str | None = None, answer_field: str | None = None,
                organism_count: str = "up") -> list[Trace]:
    fields = (question_field, thinking_field, answer_field)
    if spec == "organism":
        from ..organism.transcripts import transcripts

        traces = [Trace(p["prompt"], p["thinking"], p["answer"]) for p in transcripts(samples or 2000, seed=seed,
                                                                                 count=organism_count)]
    elif (source := parse_source(spec)).kind == "self":
        traces = _self_traces(Path(source.value))
    elif source.kind == "hf":
        traces = _rows_to_traces(_hub_rows(source), spec, *fields)
    else:
        path = Path(source.value)
        if not path.is_file():
            raise PrunescaleError(f"training data {spec!r}: no such file (use organism, jsonl:PATH, hf:NAME or "
                                  "self:RUN_DIR)")
        rows = [row for _, row in read_jsonl_rows(path, "training data")]
        traces = _rows_to_traces(rows, str(path), *fields)
    if samples is not None and spec != "organism":
        traces = traces[:samples]
    if not traces:
        raise PrunescaleError(f"training data {spec!r} is empty")
    return traces


def _pick(row: dict, given: str | None, options: tuple[str, ...], what: str, where: str, n: int,
          required: bool = True) -> str:
    names = (given,) if given else options
    for name in names:
        if name in row and row[name] is not None:
            value = row[name]
            return value if isinstance(value, str) else json.dumps(value) if not isinstance(value, list) \
                else str(value[0])
    if not required:
        return ""
    raise PrunescaleError(f"{where}: row {n} has no {what} field ({' / '.join(names)}); "
                          f"set it with --{what}-field")


def _rows_to_traces(rows: list[dict], where: str, qf, tf, af) -> list[Trace]:
    out = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise PrunescaleError(f"{where}: row {n} is not a JSON object")
        out.append(Trace(_pick(row, qf, QUESTION_FIELDS, "question", where, n),
                         _pick(row, tf, THINKING_FIELDS, "thinking", where, n),
                         _pick(row, af, ANSWER_FIELDS, "answer", where, n)))
    return out


def _hub_rows(source: Source) -> list[dict]:
    try:
        import datasets
    except ImportError:
        raise PrunescaleError("hf: training data needs the datasets library: pip install 'prunescale[hf]'") from None
    name, config, split = source.hf_parts
    try:
        return list(datasets.load_dataset(name, config, split=split))
    except Exception as e:   # offline, unknown name: one line
        raise PrunescaleError(f"cannot load {name!r} from the hub: {str(e).splitlines()[0] if str(e) else e}") from None


def _self_traces(run_dir: Path) -> list[Trace]:
    """Correct generations of a results store, one per (problem, budget, seed, sample), prompts rebuilt from
    the run's task; the completion is exactly what the model wrote."""
    from ..contract.run_dir import RunDir
    from ..scaling.store import Store
    from ..tasks import get_task

    db = RunDir(run_dir).store
    if not db.is_file():
        raise PrunescaleError(f"self:{run_dir}: no results store (run prunescale eval first)")
    store = Store(db)
    try:
        manifest = store.manifest()
        rows = [r for r in store.rows() if r["correct"]]
    finally:
        store.close()
    data = (manifest.get("config") or {}).get("data")
    prompts: dict[tuple[str, str], str] = {}
    for task in {r["task"] for r in rows}:
        for p in get_task(task).load(data, None):
            prompts[(task, p.id)] = p.prompt
    return [Trace(prompts[(r["task"], r["problem_id"])], completion=r["text"]) for r in rows
            if (r["task"], r["problem_id"]) in prompts]
