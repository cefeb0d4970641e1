"""Read lm-evaluation-harness sample logs (``--log_samples`` JSONL) into analysis records.

One line per problem: ``doc_id``, ``resps`` (a list holding the list of the N generated texts),
per-response ``exact_matches`` and ``extracted_answers`` when the task computes them (else one
``exact_match`` for a single response), and the thinking budget in
``arguments.gen_args_0.arg_1.max_tokens_thinking`` (s1's fork of the harness).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import PrunescaleError
from .records import Record

# lm-eval names its logs samples_<task>_<timestamp>.jsonl
_SAMPLES_NAME = re.compile(r"samples_(.+?)_\d{4}-\d{2}-\d{2}T")


def read_lmeval_jsonl(path: str | Path, model: str | None = None, task: str | None = None) -> list[Record]:
    """All responses of the log as records; ``model`` / ``task`` label them (task defaults from the name)."""
    path = Path(path)
    if task is None:
        m = _SAMPLES_NAME.match(path.name)
        task = m.group(1) if m else None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PrunescaleError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PrunescaleError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    records = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise PrunescaleError(f"{where}: not valid JSON ({e.msg})") from None
        records += _records_of(doc, where, model, task)
    if not records:
        raise PrunescaleError(f"{path}: no samples")
    return records


def _records_of(doc, where: str, model: str | None, task: str | None) -> list[Record]:
    if not isinstance(doc, dict):
        raise PrunescaleError(f"{where}: expected a JSON object")
    if "doc_id" not in doc:
        raise PrunescaleError(f"{where}: missing 'doc_id'")
    resps = doc.get("resps")
    if not isinstance(resps, list) or not all(isinstance(r, list) for r in resps):
        raise PrunescaleError(f"{where}: 'resps' must be a list of lists of responses")
    texts = [t for r in resps for t in r]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PrunescaleError(f"{where}: 'resps' holds no response texts")
    correct = _per_response(doc, "exact_matches", "exact_match", len(texts))
    answers = _per_response(doc, "extracted_answers", None, len(texts))
    budget = _budget(doc)
    return [
        Record(
            problem_id=str(doc["doc_id"]), sample=i, response=t,
            correct=None if correct[i] is None else bool(correct[i]),
            budget=budget, model=model, task=task,
            extracted_answer=None if answers[i] is None else str(answers[i]),
        )
        for i, t in enumerate(texts)
    ]


def _per_response(doc: dict, many: str, single: str | None, n: int) -> list:
    values = doc.get(many)
    if isinstance(values, list) and len(values) == n:
        return values
    if single is not None and n == 1 and single in doc:
        return [doc[single]]
    return [None] * n


def _budget(doc: dict) -> int | None:
    try:
        value = doc["arguments"]["gen_args_0"]["arg_1"]["max_tokens_thinking"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
