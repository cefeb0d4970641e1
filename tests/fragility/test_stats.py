"""Spearman's rho and its bootstrap interval, against values worked out by hand (scipy's conventions)."""

from __future__ import annotations

import math

import pytest

from prunescale.stats import bootstrap_rank_corr_ci as bootstrap_ci, rank_correlation, ranks, spearman


def test_ranks_share_the_average_rank_on_ties():
    assert ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_known_values():
    assert spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks of y: 1, 2, 3.5, 5, 3.5 -> cov 8, var 10 and 9.5: 8 / sqrt(95) (scipy.stats.spearmanr: 0.82078...)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    # d = (0, 2, -1, -1): 1 - 6 * 6 / (4 * 15) = 0.4
    assert spearman([1, 2, 3, 4], [1, 4, 2, 3]) == pytest.approx(0.4)
    assert spearman([1, 1, 1], [1, 2, 3]) is None   # a constant side: undefined, not 0


def test_bootstrap_interval_is_seeded_and_brackets_rho():
    x = [0.1, 0.4, 0.2, 0.9, 0.7, 0.3, 0.8, 0.5]
    y = [0.0, 0.5, 0.1, 0.7, 0.9, 0.2, 0.6, 0.4]
    lo, hi = bootstrap_ci(x, y, seed=3)
    assert bootstrap_ci(x, y, seed=3) == (lo, hi)
    assert -1 <= lo <= spearman(x, y) <= hi <= 1 and hi - lo > 0.05
    # a perfectly monotone relation stays perfect in every resample that defines rho
    assert bootstrap_ci([1, 2, 3, 4, 5], [3, 4, 8, 9, 10]) == (pytest.approx(1.0), pytest.approx(1.0))


def test_rank_correlation_drops_missing_pairs():
    out = rank_correlation([1, 2, None, 4, 5, float("nan")], [1, 2, 3, 4, 5, 6])
    assert out["n"] == 4 and out["rho"] == pytest.approx(1.0) and out["lo"] == pytest.approx(1.0)
    assert rank_correlation([1, 2], [2, 1]) == {"n": 2, "rho": pytest.approx(-1.0), "lo": None, "hi": None}
