"""One rule for task lists with options, on the command line and in study flags."""

from __future__ import annotations

import json

import pytest

from prunescale.cli.main import main
from prunescale.tasks.base import split_task_list


@pytest.mark.parametrize("text, specs", [
    ("organism-chain:k=8,seed=3", ["organism-chain:k=8,seed=3"]),
    ("organism-chain:k=8,seed=3,organism-facts", ["organism-chain:k=8,seed=3", "organism-facts"]),
    ("aime24,math500", ["aime24", "math500"]),
    ("gpqa_diamond,seed=3,mmlu", ["gpqa_diamond:seed=3", "mmlu"]),
    (" organism-facts , organism-chain:k=4 ", ["organism-facts", "organism-chain:k=4"]),
])
def test_split_task_list(text, specs):
    assert split_task_list(text) == specs


def test_readme_example_runs_as_one_task_with_two_options(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--model", "embedded:organism", "--task", "organism-chain:k=8,seed=3,organism-facts",
                 "--limit", "2", "--budgets", "8", "--temperature", "0", "--answer-tokens", "24",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary["tasks"]) == ["organism-chain:k=8,seed=3", "organism-facts"]


def test_answers_cut_at_the_answer_cap_are_named_in_one_warning(tmp_path, capsys):
    args = ["eval", "--model", "embedded:organism", "--task", "organism-facts", "--limit", "3", "--budgets", "8",
            "--temperature", "0"]
    assert main([*args, "--answer-tokens", "6", "--out", str(tmp_path / "cut")]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert err == ["prunescale: warning: 100% of answers (3 of 3) were cut at --answer-tokens 6 before an answer "
                   "could be read and count as wrong; raise --answer-tokens"]
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["tasks"]["organism-facts"]["budgets"]["8"]["answer_cut_share"] == 1.0
    assert main([*args, "--answer-tokens", "32", "--out", str(tmp_path / "whole")]) == 0
    assert "warning" not in capsys.readouterr().err
