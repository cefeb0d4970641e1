"""Parallel-scaling metrics of a run: unbiased pass@k, unbiased maj@k (expected vote over k-subsets) and the
first-k vote over answer classes, cov@k (intervals: ``prunescale.stats``)."""

from __future__ import annotations

import math
import time
from typing import Callable, Sequence

from ..errors import PrunescaleError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k) / C(n, k), in the numerically stable product form."""
    if k > n:
        raise PrunescaleError(f"k={k} is larger than the number of samples n={n}")
    if n - c < k:
        return 1.0
    if k == 1:
        return c / n   # the product below equals this; exact, so that maj@1 == pass@1 holds to the bit
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def cov_at_k(correct: Sequence[bool], k: int) -> float:
    """1 if any of the first k samples is correct."""
    if k > len(correct):
        raise PrunescaleError(f"k={k} is larger than the number of samples n={len(correct)}")
    return float(any(correct[:k]))


def answer_classes(answers: Sequence[str | None], same: Callable[[str, str], bool] = lambda a, b: a == b,
                   key: Callable[[str], str] = str, budget_s: float | None = 30.0) -> list[int | None]:
    """The equivalence class of each answer (None: no answer), assigned in sample order.

    Answers with equal ``key`` share a class without calling ``same`` (``key`` must be sound: equal keys imply
    equal answers); a new key is compared with ``same`` against the first member of each earlier class, each
    pair of keys at most once. After ``budget_s`` seconds spent in ``same`` for these answers, the rest are
    grouped by equal ``key`` only, so one problem whose answers time out costs at most about ``budget_s`` plus
    one comparison. Classes of the first k answers do not depend on later ones: one call serves every k.
    """
    deadline = None if budget_s is None else time.monotonic() + budget_s
    firsts: list[int] = []                 # first sample of each class
    by_key: dict[str, int] = {}
    out: list[int | None] = []
    for i, a in enumerate(answers):
        if a is None:
            out.append(None)
            continue
        k = key(a)
        if k not in by_key:
            in_time = lambda: deadline is None or time.monotonic() < deadline  # noqa: E731
            by_key[k] = next((c for c, f in enumerate(firsts) if in_time() and same(answers[f], a)), len(firsts))
            if by_key[k] == len(firsts):
                firsts.append(i)
        out.append(by_key[k])
    return out


def maj_from_classes(classes: Sequence[int | None], correct: Sequence[bool], k: int) -> float:
    """maj@k_first: majority vote over the first k samples (as tools that vote once report it); ties go to the
    class whose first member came first."""
    if k > len(classes):
        raise PrunescaleError(f"k={k} is larger than the number of samples n={len(classes)}")
    votes: dict[int, list[int]] = {}
    for i in range(k):
        if classes[i] is not None:
            votes.setdefault(classes[i], []).append(i)
    if not votes:
        return 0.0
    best = max(votes.values(), key=lambda members: (len(members), -members[0]))
    return float(correct[best[0]])


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int,
             same: Callable[[str, str], bool] = lambda a, b: a == b, key: Callable[[str], str] = str,
             budget_s: float | None = 30.0) -> float:
    """Majority vote over the first k samples, answers grouped into equivalence classes (``answer_classes``).

    Samples without an answer do not vote. Ties go to the class whose first member came first (the order the
    samples were drawn), so the result is deterministic while the time budget is not reached. Returns 1.0 if
    the winning class is correct.
    """
    if k > len(answers):
        raise PrunescaleError(f"k={k} is larger than the number of samples n={len(answers)}")
    return maj_from_classes(answer_classes(answers[:k], same, key, budget_s), correct, k)


def maj_at_k_expected(classes: Sequence[int | None], correct: Sequence[bool], ks: Sequence[int],
                      exact_max_n: int = 512, rounds: int = 4000, seed: int = 0) -> dict[int, tuple[float, float]]:
    """Unbiased maj@k: the expected majority-vote score over all k-subsets of the n samples, per k: (value, its
    Monte Carlo standard error, 0.0 when exact).

    Samples without an answer (class None) do not vote; a subset with no vote scores 0. Ties are split evenly
    (a uniformly random tie-break, in expectation). A class scores the share of its members graded correct
    (1 or 0 when grading agrees with the classes). So maj@1 is the share of correct samples, i.e. pass@1.
    Exact for n <= ``exact_max_n`` (hypergeometric counting over class multiplicities, about n^3 steps), else
    ``rounds`` seeded random subsets.
    """
    import numpy as np

    n = len(classes)
    if any(k > n or k < 1 for k in ks):
        raise PrunescaleError(f"k must be in 1..{n} (the number of samples), got {sorted(ks)}")
    sizes: dict[int, int] = {}
    right: dict[int, int] = {}
    for c, ok in zip(classes, correct):
        if c is not None:
            sizes[c] = sizes.get(c, 0) + 1
            right[c] = right.get(c, 0) + bool(ok)
    if n > exact_max_n:
        return _maj_monte_carlo(classes, sizes, right, ks, rounds, seed)
    out = {k: 0.0 for k in ks}
    pool = n - sum(sizes.values())   # samples with no answer
    for c, m_c in sizes.items():
        if not right[c]:
            continue
        share = right[c] / m_c
        for j in range(1, m_c + 1):   # c drawn j times; every other class at most j, ties counted
            free = pool + sum(m for o, m in sizes.items() if o != c and m < j)   # can never reach j
            capped = [m for o, m in sizes.items() if o != c and m >= j]
            table = np.zeros((n + 1, len(capped) + 1))   # [drawn from the others, others tied at j]
            table[:free + 1, 0] = [math.comb(free, s) for s in range(free + 1)]
            for m in capped:
                new = np.zeros_like(table)
                for x in range(j):
                    new[x:] += math.comb(m, x) * table[:n + 1 - x]
                new[j:, 1:] += math.comb(m, j) * table[:n + 1 - j, :-1]
                table = new
            ways = table @ (1.0 / np.arange(1, len(capped) + 2))   # a t-way tie with c gives c 1/(t+1)
            for k in ks:
                if k >= j:
                    out[k] += share * math.comb(m_c, j) * float(ways[k - j]) / math.comb(n, k)
    if 1 in out:   # exactly the share of correct answers (the sum above may differ in the last bit)
        out[1] = sum(right.values()) / n
    return {k: (v, 0.0) for k, v in out.items()}


def _maj_monte_carlo(classes, sizes, right, ks, rounds, seed) -> dict[int, tuple[float, float]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = {c: i for i, c in enumerate(sizes)}
    lab = np.array([ids[c] if c is not None else len(ids) for c in classes])
    share = np.array([right[c] / sizes[c] for c in sizes] + [0.0])
    out = {}
    for k in ks:
        scores = np.empty(rounds)
        for r in range(rounds):
            counts = np.bincount(lab[rng.choice(len(lab), k, replace=False)], minlength=len(ids) + 1)[:-1]
            top = counts.max()
            scores[r] = 0.0 if top == 0 else share[:-1][counts == top].mean()
        out[k] = (float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(rounds)))
    return out
