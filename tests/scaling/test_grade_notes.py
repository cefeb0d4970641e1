"""An answer graded wrong without a verdict (the grader timed out) is stored with its reason and counted in the
summary, and the run goes on."""

from __future__ import annotations

import json
import sqlite3

from prunescale.cli.main import main

HANGS = r"\frac{9^{9^{9}}}{2}"   # math-verify would expand 9^(9^9): only the time limit stops it


def test_grader_timeout_is_recorded_on_the_row_and_in_the_summary(tmp_path, capsys, monkeypatch):
    # The organism answers in letters, which math-verify compares without expanding the gold; pin the extracted
    # answer to a number, so that expanding 9^(9^9) is what the grader must stop (the rest runs as a user's eval).
    from prunescale.tasks import math_tasks

    monkeypatch.setattr(math_tasks, "extract_math", lambda text: "8")
    data = tmp_path / "p.jsonl"
    rows = [{"id": "hangs", "problem": "start=ab steps=1", "answer": HANGS},
            {"id": "plain", "problem": "start=cd steps=1", "answer": "7"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(["eval", "--model", "embedded:organism", "--task", f"jsonl:{data}", "--budgets", "8",
                 "--temperature", "0", "--answer-tokens", "24", "--out", str(out)]) == 0
    with sqlite3.connect(out / "results.sqlite") as c:
        notes = dict(c.execute("SELECT problem_id, grade_note FROM generations"))
        correct = dict(c.execute("SELECT problem_id, correct FROM generations"))
    assert notes == {"hangs": "timeout", "plain": None} and correct == {"hangs": 0, "plain": 0}
    summary = json.loads((out / "summary.json").read_text())
    (cell,) = next(iter(summary["tasks"].values()))["budgets"].values()
    assert cell["grading_failures"] == {"timeout": 1} and cell["n_samples"] == 2


def test_a_store_from_before_grade_notes_opens_and_takes_them(tmp_path):
    from prunescale.scaling.store import SCHEMA, Store

    path = tmp_path / "results.sqlite"
    with sqlite3.connect(path) as c:
        c.executescript(SCHEMA.replace(" grade_note TEXT,", ""))
    store = Store(path)
    try:
        cols = [r[1] for r in store.db.execute("PRAGMA table_info(generations)")]
        assert cols[-1] == "grade_note"
    finally:
        store.close()
