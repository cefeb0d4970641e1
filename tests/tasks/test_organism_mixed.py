"""organism-chain:k=LO-HI: chain lengths drawn per problem, so accuracy rises step by step with the budget."""

from __future__ import annotations

import json

import pytest

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.tasks import get_task


def test_mixed_lengths_are_seeded_and_span_the_range():
    a = get_task("organism-chain:k=4-16").load(None, 200)
    b = get_task("organism-chain:k=4-16").load(None, 200)
    assert [p.prompt for p in a] == [p.prompt for p in b] and len({p.id for p in a}) == 200
    ks = [p.meta["k"] for p in a]
    assert min(ks) == 4 and max(ks) == 16 and len(set(ks)) == 13
    other = get_task("organism-chain:k=4-16,seed=3").load(None, 20)
    assert [p.prompt for p in other] != [p.prompt for p in a[:20]]
    for bad in ("k=16-4", "k=0-5", "k=4-17"):
        with pytest.raises(PrunescaleError, match="must be a range LO-HI"):
            get_task(f"organism-chain:{bad}")


def test_accuracy_rises_gradually_with_the_budget(tmp_path):
    out = tmp_path / "mixed"
    assert main(["eval", "--model", "embedded:organism", "--task", "organism-chain:k=4-16", "--budgets", "24,48,88",
                 "--limit", "30", "--temperature", "0", "--answer-tokens", "32", "--batch-size", "30",
                 "--out", str(out)]) == 0
    budgets = json.loads((out / "summary.json").read_text())["tasks"]["organism-chain:k=4-16"]["budgets"]
    acc = [budgets[b]["accuracy"] for b in ("24", "48", "88")]
    assert 0 < acc[0] < acc[1] < acc[2] == 1.0, acc   # some chains fit each budget, all fit 88 (16 steps)
