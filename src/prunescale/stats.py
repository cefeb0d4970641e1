"""Statistics every stage shares, in plain Python (no scipy): means, Pearson/Spearman, bootstrap intervals.

Two percentile bootstraps live here and they differ on purpose: ``bootstrap_mean_ci`` (the mean of per-problem
accuracies; picks order statistics, 1000 rounds) and ``bootstrap_rank_corr_ci`` (Spearman's rho over (x, y)
pairs; interpolates like numpy, 2000 rounds, skips resamples where rho is undefined). Both are seeded, so a report
shows the same interval on every run. Spearman's rho is the Pearson correlation of the ranks, ties getting their
average rank (scipy's ``spearmanr``).
"""

from __future__ import annotations

import math
import random
from typing import Sequence


def mean(xs: Sequence) -> float | None:
    """Arithmetic mean of the values that are not None (``sum`` / count); None when none are left."""
    vals = [float(x) for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def mean_in_order(xs: Sequence[float]) -> float:
    """Mean by a plain left-to-right sum, as the study's loop does, so totals agree bit for bit on any Python
    (``sum`` of floats is compensated from Python 3.12 on)."""
    total = 0.0
    for x in xs:
        total += x
    return total / len(xs)


def pearson(x: Sequence[float], y: Sequence[float], min_n: int = 3) -> float | None:
    """Pearson's r; None with fewer than ``min_n`` pairs or a constant side."""
    n = len(x)
    if n < min_n or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return None  # a constant metric or one-sided correctness: no correlation to speak of
    return sxy / math.sqrt(sxx * syy)


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (average ranks for ties, clamped to [-1, 1]); None with fewer than two pairs or a constant
    side."""
    r = pearson(ranks(x), ranks(y), min_n=2)
    return None if r is None else max(-1.0, min(1.0, r))


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_mean_ci(values: Sequence[float], seed: int = 0, rounds: int = 1000,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over ``values`` (e.g. per-problem accuracies); NaNs when empty."""
    if not values:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    lo = means[int((1 - level) / 2 * rounds)]
    hi = means[min(rounds - 1, int((1 + level) / 2 * rounds))]
    return (lo, hi)


def bootstrap_rank_corr_ci(x: Sequence[float], y: Sequence[float], n_boot: int = 2000, level: float = 0.95,
                           seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of Spearman's rho over resampled (x, y) pairs; None when no resample
    defines it."""
    n = len(x)
    if n < 2:
        return None
    rng = random.Random(seed)
    stats = []
    for _ in range(n_boot):
        idx = [rng.randrange(n) for _ in range(n)]
        r = spearman([x[i] for i in idx], [y[i] for i in idx])
        if r is not None:
            stats.append(r)
    if not stats:
        return None
    stats.sort()
    tail = (1 - level) / 2
    return quantile(stats, tail), quantile(stats, 1 - tail)


def rank_correlation(x: Sequence, y: Sequence, n_boot: int = 2000, seed: int = 0) -> dict:
    """{n, rho, lo, hi} of paired values (pairs with a missing or non-finite side dropped; no interval below 3)."""
    pairs = [(a, b) for a, b in zip(x, y) if _finite(a) and _finite(b)]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    ci = bootstrap_rank_corr_ci(xs, ys, n_boot, seed=seed) if len(pairs) >= 3 else None
    return {"n": len(pairs), "rho": spearman(xs, ys), "lo": ci[0] if ci else None, "hi": ci[1] if ci else None}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
