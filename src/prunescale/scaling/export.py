"""Export a run's generations: JSONL in the lm-eval sample-log shape, or CSV."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from typing import TextIO

from ..budgets import from_store
from .store import COLUMNS, Store


def export_rows(path, fmt: str, stream: TextIO, every: bool = False) -> None:
    """Every generation of each task's current problems (``every``: also those of problems since dropped)."""
    store = Store(path)
    try:
        rows = store.rows(every=every)
    finally:
        store.close()
    if fmt == "csv":
        w = csv.DictWriter(stream, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        return
    # One record per (task, budget, seed, problem) with all its samples, like lm-eval's --log_samples.
    groups = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["budget"], r["seed"], r["problem_id"])].append(r)
    for doc_id, ((task, budget, seed, pid), rs) in enumerate(groups.items()):
        rs.sort(key=lambda r: r["sample_idx"])
        stream.write(json.dumps({
            "doc_id": doc_id, "task": task, "problem_id": pid, "seed": seed,
            "budget": from_store(budget), "target": rs[0]["gold"],
            "resps": [[r["text"]] for r in rs], "filtered_resps": [r["extracted"] for r in rs],
            "extracted_answers": [r["extracted"] for r in rs], "exact_match": [r["correct"] for r in rs],
            "thinking_tokens": [r["thinking_tokens"] for r in rs], "forced": [bool(r["forced"]) for r in rs],
        }) + "\n")
