"""pass@k / maj@k / cov@k against hand values and against the real lm-eval sample log's own numbers."""

import json
from math import comb

import pytest

from prunescale.errors import PrunescaleError
from prunescale.scaling.metrics import cov_at_k, maj_at_k, pass_at_k
from prunescale.stats import bootstrap_mean_ci as bootstrap_ci


def test_pass_at_k_is_the_unbiased_estimator():
    for n, c, k in [(8, 3, 1), (8, 3, 2), (16, 1, 4), (16, 0, 8), (5, 5, 3)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    with pytest.raises(PrunescaleError, match="larger than the number of samples"):
        pass_at_k(4, 1, 8)


def test_maj_at_k_votes_over_classes():
    same = lambda a, b: float(a) == float(b)  # noqa: E731
    assert maj_at_k(["0.5", "1/2x", "0.50", "3"], [True, False, True, False], 4, same=lambda a, b: a == b) == 1.0
    assert maj_at_k(["2", "2.0", "3", "3", "3"], [True, True, False, False, False], 5, same=same) == 0.0
    assert maj_at_k(["2", "2.0", "3", "3", "3"], [True, True, False, False, False], 4, same=same) == 1.0  # tie: first
    assert maj_at_k([None, None], [False, False], 2) == 0.0


def test_against_the_lmeval_log(shared_data):
    from prunescale.tasks import get_task

    task = get_task("aime24")
    for line in (shared_data / "s1.1-7B_aime24_lmeval_samples.jsonl").open():
        d = json.loads(line)
        answers, correct = d["extracted_answers"], [bool(x) for x in d["exact_matches"]]
        for k in (2, 4, 8):
            assert pass_at_k(8, sum(correct), k) == pytest.approx(d[f"pass@{k}"])
            assert cov_at_k(correct, k) == d[f"cov@{k}"]
            assert maj_at_k(answers, correct, k, task.same_answer) == d[f"maj@{k}"]


def test_bootstrap_interval_brackets_the_mean():
    vals = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    lo, hi = bootstrap_ci(vals, seed=1)
    assert lo <= sum(vals) / len(vals) <= hi and lo < hi
    assert bootstrap_ci(vals, seed=1) == (lo, hi)
