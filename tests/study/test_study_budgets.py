"""Uncapped budgets in a study: `none` (or null) in the file, and the headline of a study that used one."""

from __future__ import annotations

import pytest

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.study.headline import budget_rows, headline_rows
from prunescale.budgets import budget_key, budget_label, largest_budget
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

STUDY = {
    "name": "uncapped",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "eval": {"answer_tokens": 32, "temperature": 0, "limit": 3, "max_tokens": 64},
    "tasks": [{"task": "organism-facts", "label": "facts", "budgets": [8, "none"]},
              {"task": "organism-chain:k=4", "label": "chain", "budgets": [None]}],
}


def test_budget_order_and_labels_treat_none_as_largest():
    assert largest_budget({"8": {}, "none": {}, "64": {}}) == "none"
    assert largest_budget({"8": {}, "64": {}}) == "64"
    assert sorted(["none", "16", "-1", None, "4"], key=budget_key)[:2] == ["4", "16"]
    assert [budget_label(b) for b in (None, -1, "none", 32, "32")] == ["none", "none", "none", "32", "32"]


def test_study_file_accepts_none_and_null_like_eval_budgets():
    study = parse_study(STUDY)
    budgets = {c.label: c.eval["budgets"] for c in study.cells()}
    assert budgets == {"facts": [8, None], "chain": [None]}
    with pytest.raises(PrunescaleError, match="budget 'lots' of task 'organism-facts'"):
        parse_study({**STUDY, "tasks": [{"task": "organism-facts", "budgets": ["lots"]}]})
    with pytest.raises(PrunescaleError, match="budget 0 of eval"):
        parse_study({**STUDY, "eval": {"budgets": [0]}})


def test_uncapped_study_prints_its_headline(tmp_path, capsys):
    result = run_study(parse_study(STUDY), tmp_path, report=False, log=lambda *_: None)
    assert set(result.values()) == {"done"}
    header, rows = headline_rows(tmp_path)
    assert header[:4] == ["model", "variant", "params", "removed"] and sorted(header[4:]) == ["chain", "facts"]
    assert [r[1] for r in rows] == ["base", "reverse-1"]
    facts = header.index("facts")
    assert rows[0][facts] == "1.000" and "(" in rows[1][facts]   # the uncapped budget, with its change
    header, rows = budget_rows(tmp_path, "facts")
    assert header == ["variant", "8", "none"]
    assert main(["study", "table", str(tmp_path), "--task", "chain"]) == 0
    assert "none" in capsys.readouterr().out
