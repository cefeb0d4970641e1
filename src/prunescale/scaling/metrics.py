"""Parallel-scaling metrics of a run: unbiased pass@k, maj@k over answer classes, cov@k (intervals: ``prunescale.stats``)."""

from __future__ import annotations

import time
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
    """Majority vote over the first k samples; ties go to the class whose first member came first."""
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
