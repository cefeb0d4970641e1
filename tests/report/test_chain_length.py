"""The chain-length view: accuracy kept against chain length, from a real study with two fixed-length tasks."""

from __future__ import annotations

import json

import pytest

from prunescale.cli.main import main
from prunescale.report.collect import collect
from prunescale.report.figures.chain_length import chain_length_figure

STUDY = """\
name: lengths
models: [embedded:organism]
methods: [reverse]
remove: [1]
prune: {calibration: organism, calibration_samples: 8}
tasks:
  - {task: "organism-chain:k=2", label: k2, budgets: [64], temperature: 0, limit: 6}
  - {task: "organism-chain:k=4", label: k4, budgets: [64], temperature: 0, limit: 6}
  - {task: "organism-chain:k=4", label: k4-sampled, budgets: [64], temperature: 1.0, limit: 6}
  - {task: organism-facts, label: facts, kind: knowledge, budgets: [16], temperature: 0, limit: 6}
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("lengths")
    (root / "s.yaml").write_text(STUDY)
    assert main(["study", "run", str(root / "s.yaml"), "--out", str(root / "run")]) == 0
    return root / "run"


def test_summary_and_report_data_carry_the_chain_length(study):
    summary = json.loads((study / "cells" / "organism__base__k2" / "summary.json").read_text())
    assert summary["tasks"]["organism-chain:k=2"]["chain_length"] == 2
    facts = json.loads((study / "cells" / "organism__base__facts" / "summary.json").read_text())
    assert "chain_length" not in facts["tasks"]["organism-facts"]
    data = collect(study)
    lengths = {t["label"]: t["chain_length"] for t in data["tasks"]}
    assert lengths == {"k2": 2, "k4": 4, "k4-sampled": 4, "facts": None}


def test_kept_is_pruned_over_base_per_length_greedy_preferred(study):
    data = collect(study)
    p = chain_length_figure(data, "organism")
    assert not p.absent
    cells = {(c["variant_id"], c["task_label"]): c for c in data["cells"]}
    rows = {(r[0], r[1]): r for r in p.rows}
    assert {k for _, k in rows} == {2, 4}
    for k, label in ((2, "k2"), (4, "k4")):   # k4 (greedy) rather than k4-sampled
        base = cells[("organism__base", label)]["budgets"]["64"]["accuracy"]
        pruned = cells[("organism__reverse-1", label)]["budgets"]["64"]["accuracy"]
        row = rows[("reverse-1", k)]
        assert row[2] == label and row[4] == pytest.approx(round(pruned, 3))
        assert row[6] == (pytest.approx(round(pruned / base, 3)) if base else None)


def test_absent_with_one_length(study):
    data = collect(study)
    data["tasks"] = [t for t in data["tasks"] if t["label"] in ("k2", "facts")]
    p = chain_length_figure(data, "organism")
    assert p.absent and "fewer than two" in p.reason
