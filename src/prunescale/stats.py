"""Statistics every stage shares (stdlib and numpy, no scipy): means, Pearson/Spearman, bootstrap intervals, and
the paired tests of a pruned model against its base (nested bootstrap, McNemar exact, sign-flip, Holm).

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


# paired comparisons ---------------------------------------------------------------------------------------------
# Intervals and tests for "is B worse than A on the same problems". numpy keeps the resampling fast enough to run
# for every (variant, task, metric) of a study; every draw comes from a generator seeded by the caller.


def nested_bootstrap_ci(values, rounds: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (problems x seeds, or one value per problem): resample
    problems with replacement, then, with several seeds, the seeds of each drawn problem; NaNs when empty."""
    import numpy as np

    d = np.asarray(values, dtype=float)
    if d.size == 0:
        return (float("nan"), float("nan"))
    d = d.reshape(len(d), -1)
    p, s = d.shape
    rng = np.random.default_rng(seed)
    ip = rng.integers(0, p, size=(rounds, p))
    if s == 1:
        means = d[ip, 0].mean(axis=1)
    else:
        means = d[ip[:, :, None], rng.integers(0, s, size=(rounds, p, s))].mean(axis=(1, 2))
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return (float(lo), float(hi))


def binom_half_two_sided(x: int, n: int) -> float:
    """Exact two-sided p of ``x`` successes in ``n`` fair coin flips: 2 P(X <= min(x, n - x)), at most 1."""
    if n == 0:
        return 1.0
    lo = min(x, n - x)
    tail = sum(math.comb(n, i) for i in range(lo + 1))
    return min(1.0, 2 * tail / 2 ** n)


def mcnemar_exact(b: int, c: int) -> float:
    """McNemar's exact test: ``b`` problems only the first model got right, ``c`` only the second; under no
    difference each discordant problem is a fair coin."""
    return binom_half_two_sided(min(b, c), b + c)


def _lattice(d, max_scale: int = 4096):
    """The smallest L with every d * L an integer (1e-7), or None: per-problem accuracies over S samples are
    multiples of 1/S, which makes the sign-flip distribution exactly computable."""
    import numpy as np

    for scale in range(1, max_scale + 1):
        v = d * scale
        if np.all(np.abs(v - np.round(v)) < 1e-7):
            return scale
    return None


def sign_flip_test(diffs, rounds: int = 20000, seed: int = 0, exact_max: int = 20) -> tuple[float, str]:
    """Two-sided paired permutation test of mean(diffs) = 0, flipping the sign of each problem's difference:
    (p, how). Exact when the differences lie on a 1/L lattice (a subset-sum distribution) or when at most
    ``exact_max`` are non-zero (every sign vector); otherwise a seeded Monte Carlo estimate, p = (1 + hits) /
    (1 + rounds)."""
    import numpy as np

    d = np.asarray([x for x in diffs if x is not None], dtype=float)
    d = d[np.abs(d) > 1e-12]
    if d.size == 0:
        return 1.0, "exact"
    t_obs = abs(d.sum())
    scale = _lattice(np.abs(d))
    if scale is not None and np.abs(d).sum() * scale * d.size < 5e7:   # the subset-sum table stays cheap
        a = np.round(np.abs(d) * scale).astype(int)
        total = int(a.sum())
        dist = np.zeros(total + 1)   # P(sum of the positive-signed |d|s = s), built one problem at a time
        dist[0] = 1.0
        for ai in a:
            shifted = np.zeros_like(dist)
            shifted[ai:] = dist[:total + 1 - ai]
            dist = (dist + shifted) / 2
        t = np.abs(2 * np.arange(total + 1) - total)
        return float(min(1.0, dist[t >= round(t_obs * scale) - 1e-9].sum())), "exact"
    if d.size <= exact_max:
        signs = 1 - 2 * ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1)
        return float(np.mean(np.abs(signs @ d) >= t_obs - 1e-12)), "exact"
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, rounds, 5000):   # in chunks: memory stays at 5000 x n
        signs = rng.choice((-1.0, 1.0), size=(min(5000, rounds - start), d.size))
        hits += int(np.sum(np.abs(signs @ d) >= t_obs - 1e-12))
    return (1 + hits) / (1 + rounds), "monte-carlo"


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of one family of p-values (None entries are not in the family): the i-th
    smallest of m is multiplied by m - i + 1, then made non-decreasing and capped at 1."""
    order = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    m, out, running = len(order), [None] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
