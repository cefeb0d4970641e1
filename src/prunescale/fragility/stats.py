"""Rank correlation with a bootstrap interval, in plain Python (no scipy): how well a predictor ranks variants.

Spearman's rho is the Pearson correlation of the ranks, ties getting their average rank (scipy's ``spearmanr``).
The interval is the percentile bootstrap: resample the (x, y) pairs with replacement, recompute rho, take the
2.5th and 97.5th percentiles; resamples whose x or y is constant (rho undefined) are skipped. Seeded, so a report
shows the same interval on every run.
"""

from __future__ import annotations

import math
import random

from ..analysis.summary import pearson as _pearson


def ranks(values: list[float]) -> list[float]:
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


def pearson(x: list[float], y: list[float]) -> float | None:
    """Pearson's r (clamped to [-1, 1]); None when fewer than two pairs or either side is constant."""
    r = _pearson(x, y, min_n=2)
    return None if r is None else max(-1.0, min(1.0, r))


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho (average ranks for ties); None when undefined."""
    return pearson(ranks(x), ranks(y))


def bootstrap_ci(x: list[float], y: list[float], n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of Spearman's rho; None when no resample defines it."""
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
    return _quantile(stats, tail), _quantile(stats, 1 - tail)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def rank_correlation(x: list[float], y: list[float], n_boot: int = 2000, seed: int = 0) -> dict:
    """{n, rho, lo, hi} of paired values (pairs with a missing side dropped)."""
    pairs = [(a, b) for a, b in zip(x, y) if _finite(a) and _finite(b)]
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    ci = bootstrap_ci(xs, ys, n_boot, seed=seed) if len(pairs) >= 3 else None
    return {"n": len(pairs), "rho": spearman(xs, ys), "lo": ci[0] if ci else None, "hi": ci[1] if ci else None}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
