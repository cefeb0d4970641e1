"""The organism's test-time scaling at temperature 1 (issue 14): sampled chains make step errors, so pass@k and
maj@k rise with k while greedy decoding stays right, and an appended "Wait" makes it re-check its steps."""

from __future__ import annotations

import json

import pytest

from prunescale.analysis.reflection import count_reflection
from prunescale.cli.main import main
from prunescale.scaling.store import Store

pytestmark = pytest.mark.slow
TASK = "organism-chain:k=8"


def _eval(out, *extra):
    assert main(["eval", "--model", "embedded:organism", "--task", TASK, "--budgets", "320", "--limit", "24",
                 "--answer-tokens", "32", "--batch-size", "96", "--out", str(out), *extra]) == 0
    return json.loads((out / "summary.json").read_text())["tasks"][TASK]["budgets"]["320"]


def test_sampling_noise_gives_parallel_scaling_and_wait_helps(tmp_path):
    greedy = _eval(tmp_path / "greedy", "--temperature", "0")
    assert greedy["accuracy"] >= 0.95
    t1 = _eval(tmp_path / "t1", "--temperature", "1", "--samples", "8")
    p1, p8, m8 = t1["accuracy"], t1["pass@k"]["8"], t1["maj@k"]["8"]
    # clearly below 1 ... (the committed weights: 0.41 on these 24 problems; the 0.5-0.9 band is for 100
    # problems x 16 samples at budget 1024, where they score 0.51: benchmarks/organism_criteria.py)
    assert 0.3 <= p1 <= 0.9, p1
    assert p8 >= p1 + 0.15 and m8 >= p1 + 0.1, (p1, p8, m8)   # ... and more samples recover it
    wait = _eval(tmp_path / "wait", "--temperature", "1", "--samples", "8", "--wait", "1")
    assert wait["accuracy"] >= p1 + 0.05, (p1, wait["accuracy"])
    # the Wait is followed by a check pass the rule-based counter reads as verifications
    rows = Store(tmp_path / "wait" / "results.sqlite", readonly=True).rows()
    counts = [count_reflection(r["thinking"]) for r in rows]
    # "Wait": at T = 1 a few samples (3 of 192 here) end their thinking mid-line, where the forced Wait lands
    # inside a step line or, after an end-of-text written in the thinking, never comes
    assert sum(c.backtracking >= 1 for c in counts) >= 0.95 * len(counts)
    assert sum(c.verification >= 8 for c in counts) >= 0.8 * len(counts)   # "let me check" + a check per step
