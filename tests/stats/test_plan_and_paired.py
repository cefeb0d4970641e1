"""`prunescale plan` on the shared s1.1 log, power by simulation, and one paired comparison worked by hand."""

from __future__ import annotations

import pytest

from prunescale.analysis.lmeval import read_lmeval_jsonl
from prunescale.cli.main import main
from prunescale.scaling.paired import compare
from prunescale.scaling.planning import PowerPlan, beta_accuracies, classes_by_text, k_curves
from prunescale.stats import mcnemar_exact

from ..conftest import SHARED_DATA

LOG = SHARED_DATA / "s1.1-7B_aime24_lmeval_samples.jsonl"


@pytest.mark.skipif(not LOG.is_file(), reason="shared data not present")
def test_curves_of_the_s1_log_every_k_with_intervals(capsys):
    problems = {}
    for r in read_lmeval_jsonl(LOG):
        problems.setdefault(r.problem_id, []).append(r)
    n = min(len(v) for v in problems.values())
    rows = k_curves({p: (classes_by_text([r.extracted_answer for r in rs]), [bool(r.correct) for r in rs])
                     for p, rs in problems.items()})
    assert [r["k"] for r in rows] == list(range(1, n + 1))
    assert rows[0]["maj@k"] == rows[0]["pass@k"]   # maj@1 == pass@1, exactly
    for r in rows:
        for m in ("pass@k", "maj@k"):
            lo, hi = r[f"{m}_ci95"]
            assert lo - 1e-12 <= r[m] <= hi + 1e-12
    assert main(["plan", "curves", "--lmeval-jsonl", str(LOG)]) == 0
    assert "maj@k_first" in capsys.readouterr().out


def _rows(correct_by_problem, budget=64, seed=0):
    return [{"task": "t", "problem_id": str(p), "budget": budget, "seed": seed, "sample_idx": i, "extracted": str(c),
             "correct": c} for p, cs in enumerate(correct_by_problem) for i, c in enumerate(cs)]


def test_one_greedy_sample_uses_mcnemar():
    base = _rows([[1]] * 10 + [[0]] * 2)
    var = _rows([[0]] * 7 + [[1]] * 3 + [[1]] + [[0]])   # 7 lost, 1 gained
    (rec,) = compare(base, var)
    assert rec["test"] == "mcnemar-exact" and rec["p"] == mcnemar_exact(7, 1)
    assert rec["diff"] == pytest.approx((4 - 10) / 12) and rec["lo"] <= rec["diff"] <= rec["hi"]


def test_several_samples_use_the_sign_flip_test_and_give_pass_and_maj_at_k():
    base = _rows([[1, 1, 1, 0]] * 8)
    var = _rows([[1, 0, 0, 0]] * 8)
    recs = compare(base, var)
    acc = next(r for r in recs if r["metric"] == "accuracy")
    assert acc["test"] == "sign-flip-exact" and acc["p"] == pytest.approx(2 / 2 ** 8)
    assert acc["diff"] == pytest.approx(-0.5) and acc["lo"] == pytest.approx(-0.5)
    assert {(r["metric"], r["k"]) for r in recs} >= {("pass@k", 1), ("maj@k", 4), ("pass@k", 4)}


def test_power_grows_with_problems_and_the_needed_count_reaches_the_target():
    plan = PowerPlan(beta_accuracies(0.6, 0.25, seed=1), drop=0.15, sims=200)
    assert plan.power(20, 4) < plan.power(200, 4)
    need = plan.problems_needed(4)
    assert plan.power(need, 4) >= 0.8 and plan.power(max(2, need - need // 4), 4) < 0.8
    assert plan.problems_for_width(0.1, 4) > plan.problems_for_width(0.2, 4)
