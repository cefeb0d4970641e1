"""Each statistic of the paired comparisons against an independent computation (scipy, brute force, by hand)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from prunescale.scaling.metrics import maj_at_k_expected, pass_at_k
from prunescale.stats import binom_half_two_sided, holm, mcnemar_exact, nested_bootstrap_ci, sign_flip_test

scipy_stats = pytest.importorskip("scipy.stats")


def brute_maj(classes, correct, k):
    """Mean over every k-subset of the majority vote, ties split evenly, a class scoring its share correct."""
    share = {c: np.mean([ok for cc, ok in zip(classes, correct) if cc == c]) for c in set(classes) - {None}}
    total = 0.0
    for subset in itertools.combinations(range(len(classes)), k):
        counts = {}
        for i in subset:
            if classes[i] is not None:
                counts[classes[i]] = counts.get(classes[i], 0) + 1
        if counts:
            top = max(counts.values())
            winners = [c for c in counts if counts[c] == top]
            total += sum(share[c] for c in winners) / len(winners)
    return total / math.comb(len(classes), k)


@pytest.mark.parametrize("seed", range(12))
def test_unbiased_maj_matches_enumeration_of_subsets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 11))
    classes = [None if x == 0 else int(x) for x in rng.integers(0, 4, n)]
    good = int(rng.integers(1, 4))
    correct = [c == good for c in classes]
    got = maj_at_k_expected(classes, correct, range(1, n + 1))
    for k in range(1, n + 1):
        assert got[k][0] == pytest.approx(brute_maj(classes, correct, k), abs=1e-12), (classes, k)
        assert got[k][1] == 0.0
    assert got[1][0] == pass_at_k(n, sum(correct), 1)   # maj@1 == pass@1, to the bit


def test_monte_carlo_maj_is_within_its_standard_error():
    classes = [0] * 5 + [1] * 4 + [2] * 3 + [None] * 2
    correct = [True] * 5 + [False] * 9
    exact = maj_at_k_expected(classes, correct, [3, 7])
    est = maj_at_k_expected(classes, correct, [3, 7], exact_max_n=1, rounds=4000, seed=1)
    for k in (3, 7):
        assert abs(est[k][0] - exact[k][0]) < 4 * est[k][1] and est[k][1] > 0


@pytest.mark.parametrize("x,n", [(0, 0), (0, 5), (2, 10), (7, 10), (13, 40), (20, 40)])
def test_exact_binomial_matches_scipy(x, n):
    want = 1.0 if n == 0 else scipy_stats.binomtest(x, n, 0.5).pvalue
    assert binom_half_two_sided(x, n) == pytest.approx(want, rel=1e-12)


def test_mcnemar_exact_matches_scipy_binomtest_on_discordant_pairs():
    base = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1])
    pruned = np.array([0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0])
    b, c = int(np.sum((base == 1) & (pruned == 0))), int(np.sum((base == 0) & (pruned == 1)))
    assert (b, c) == (8, 1)
    assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(c, b + c, 0.5).pvalue, rel=1e-12)


def _scipy_sign_flip(d, n_resamples=np.inf):
    res = scipy_stats.permutation_test((np.asarray(d, float),), np.mean, permutation_type="samples",
                                       alternative="two-sided", n_resamples=n_resamples)
    return res.pvalue


def test_sign_flip_exact_on_a_lattice_matches_scipy():
    # per-problem accuracy differences over 4 samples: multiples of 1/4, 14 problems (scipy enumerates 2^14)
    d = [-0.25, -0.5, 0.0, -0.75, 0.25, -0.25, -1.0, 0.0, -0.5, 0.25, -0.25, -0.5, 0.5, -0.25]
    p, how = sign_flip_test(d)
    assert how == "exact"
    assert p == pytest.approx(_scipy_sign_flip(d), rel=1e-9)


def test_sign_flip_exact_by_enumeration_matches_scipy():
    d = [-0.31, 0.12, -0.47, -0.05, 0.2, -0.33, -0.29, 0.01, -0.6]
    p, how = sign_flip_test(d)
    assert how == "exact" and p == pytest.approx(_scipy_sign_flip(d), rel=1e-9)


def test_sign_flip_monte_carlo_is_seeded_and_close_to_exact():
    rng = np.random.default_rng(3)
    d = list(rng.normal(-0.05, 0.3, 40) + 1e-4 * np.pi)   # off any lattice, too many to enumerate
    p1, how = sign_flip_test(d, rounds=20000, seed=0)
    assert how == "monte-carlo" and p1 == sign_flip_test(d, rounds=20000, seed=0)[0]
    assert abs(p1 - _scipy_sign_flip(d, 200000)) < 0.01


def test_bootstrap_interval_covers_a_known_mean():
    """Synthetic paired differences with true mean -0.2: the 95% interval covers it in about 95% of datasets."""
    rng = np.random.default_rng(0)
    covered = 0
    for rep in range(200):
        d = rng.normal(-0.2, 0.3, size=(40, 3))
        lo, hi = nested_bootstrap_ci(d, rounds=1000, seed=rep)
        covered += lo <= -0.2 <= hi
    assert 0.88 <= covered / 200 <= 0.99
    d = rng.normal(-0.2, 0.3, 60)
    ours = nested_bootstrap_ci(d, rounds=4000, seed=0)
    ref = scipy_stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    assert ours == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), abs=0.02)
    assert ours == nested_bootstrap_ci(d, rounds=4000, seed=0)   # fixed seed: same interval every time


def test_holm_against_a_hand_worked_example():
    # sorted p: 0.01, 0.02, 0.03, 0.04 (m = 4): 0.04, 0.06, 0.06 (max with 0.06 from 2 x 0.03), 0.06 (1 x 0.04 -> 0.06)
    assert holm([0.03, 0.01, None, 0.04, 0.02]) == pytest.approx([0.06, 0.04, None, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []
