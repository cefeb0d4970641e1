"""Per-problem values of one (task, budget) of a run: accuracy, pass@k, maj@k (unbiased) and maj@k_first, per
(seed, problem). The run summary averages them; paired comparisons difference them problem by problem."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Callable

from .metrics import answer_classes, maj_at_k_expected, maj_from_classes, pass_at_k


def ks_for(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks if ks[-1] == n else ks + [n]


def problem_values(rows: list[dict], same: Callable[[str, str], bool] | None = None,
                   key: Callable[[str], str] = str, ks: list[int] | None = None) -> dict[tuple, dict]:
    """(seed, problem_id) -> {"accuracy", "pass@k", "maj@k", "maj@k_mc_se", "maj@k_first"} of ``rows`` (one task
    and budget), each @k a {k: value} over ``ks`` (default: :func:`ks_for` of the fewest samples of a problem).
    ``same`` None groups answers by ``key`` alone (no grader calls)."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["seed"], str(r["problem_id"]))].append(r)
    if not groups:
        return {}
    ks = ks or ks_for(min(len(g) for g in groups.values()))
    out = {}
    for gk, g in groups.items():
        g.sort(key=lambda r: r["sample_idx"])
        correct = [bool(r["correct"]) for r in g]
        classes = answer_classes([r["extracted"] for r in g], same or (lambda a, b: False), key)
        maj = maj_at_k_expected(classes, correct, ks)
        out[gk] = {
            "accuracy": statistics.fmean(correct),
            "pass@k": {k: pass_at_k(len(g), sum(correct), k) for k in ks},
            "maj@k": {k: v for k, (v, _) in maj.items()},
            "maj@k_mc_se": {k: se for k, (_, se) in maj.items()},
            "maj@k_first": {k: maj_from_classes(classes, correct, k) for k in ks},
        }
    return out


def by_problem(values: dict[tuple, dict], metric: str, k: int | None = None) -> dict[str, dict[int, float]]:
    """problem_id -> {seed: value} of one metric (``k`` for the @k ones)."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for (seed, pid), v in values.items():
        out[pid][seed] = v[metric] if k is None else v[metric][k]
    return dict(out)
