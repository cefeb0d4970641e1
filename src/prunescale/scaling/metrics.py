"""Parallel-scaling metrics: unbiased pass@k, maj@k over answer classes, cov@k, bootstrap intervals."""

from __future__ import annotations

import random
from typing import Callable, Sequence

from ..errors import PrunescaleError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k), in the numerically stable product form."""
    if k > n:
        raise PrunescaleError(f"k={k} is larger than the number of samples n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def cov_at_k(correct: Sequence[bool], k: int) -> float:
    """1 if any of the first k samples is correct."""
    if k > len(correct):
        raise PrunescaleError(f"k={k} is larger than the number of samples n={len(correct)}")
    return float(any(correct[:k]))


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int,
             same: Callable[[str, str], bool] = lambda a, b: a == b) -> float:
    """Majority vote over the first k samples, answers grouped into equivalence classes by ``same``.

    Samples without an answer do not vote. Ties go to the class whose first member came first (the order the
    samples were drawn), so the result is deterministic. Returns 1.0 if the winning class is correct.
    """
    if k > len(answers):
        raise PrunescaleError(f"k={k} is larger than the number of samples n={len(answers)}")
    classes: list[list[int]] = []
    for i in range(k):
        a = answers[i]
        if a is None:
            continue
        for cls in classes:
            if same(answers[cls[0]], a):
                cls.append(i)
                break
        else:
            classes.append([i])
    if not classes:
        return 0.0
    best = max(classes, key=lambda cls: (len(cls), -cls[0]))
    return float(correct[best[0]])


def bootstrap_ci(values: Sequence[float], seed: int = 0, rounds: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over ``values`` (e.g. per-problem accuracies)."""
    if not values:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    lo = means[int((1 - level) / 2 * rounds)]
    hi = means[min(rounds - 1, int((1 + level) / 2 * rounds))]
    return (lo, hi)
