"""Paired comparisons of a variant's run against its base's, problem by problem (docs/statistics.md).

Per (task, metric): the difference variant - base of the mean over problems, a 95% nested bootstrap interval
(problems, then seeds), and an exact test: McNemar for one sample per problem and one seed, else a sign-flip
test on the per-problem differences (averaged over seeds). Only problems and seeds present in both runs count.
Metrics: accuracy at each common budget, the AUC of accuracy against log2 budget (normalised by the budget
range, capped budgets only), and pass@k / maj@k (unbiased) at the largest common budget.
"""

from __future__ import annotations

import math
import statistics

from .problems import by_problem, ks_for, problem_values
from ..budgets import NO_BUDGET, budget_label
from ..stats import mcnemar_exact, nested_bootstrap_ci, sign_flip_test

COLUMNS = ["task", "problem_id", "budget", "seed", "sample_idx", "extracted", "correct"]
SEED = 0   # every resampling of a comparison uses this seed: the same numbers on every run


def compare(base_rows: list[dict], rows: list[dict], key=str) -> list[dict]:
    """Every comparison of ``rows`` (one task of the variant's store) against ``base_rows`` (the same task of the
    base's); answers are grouped for maj@k by ``key`` (no grader calls)."""
    budgets = sorted({r["budget"] for r in rows} & {r["budget"] for r in base_rows},
                     key=lambda b: math.inf if b == NO_BUDGET else b)
    if not budgets:
        return []
    split = lambda rs, b: [r for r in rs if r["budget"] == b]   # noqa: E731
    out, acc = [], {}
    for b in budgets:
        va, vb = split(base_rows, b), split(rows, b)
        top = b == budgets[-1]
        n = min(_min_samples(va), _min_samples(vb))
        ks = ks_for(n) if top and n > 1 else [1]
        pa, pb = problem_values(va, None, key, ks), problem_values(vb, None, key, ks)
        acc[b] = (by_problem(pa, "accuracy"), by_problem(pb, "accuracy"))
        single = n == 1 and len({s for s, _ in pa}) == 1
        out.append(_pair("accuracy", b, None, *acc[b], binary=single))
        if top and n > 1:
            for metric in ("pass@k", "maj@k"):
                for k in ks:
                    out.append(_pair(metric, b, k, by_problem(pa, metric, k), by_problem(pb, metric, k)))
    capped = [b for b in budgets if b != NO_BUDGET and b > 0]
    if len(capped) >= 2:
        out.append(_pair("auc", None, None, _auc({b: acc[b][0] for b in capped}),
                         _auc({b: acc[b][1] for b in capped})))
    return out


def _min_samples(rows: list[dict]) -> int:
    counts: dict = {}
    for r in rows:
        counts[(r["seed"], r["problem_id"])] = counts.get((r["seed"], r["problem_id"]), 0) + 1
    return min(counts.values()) if counts else 0


def _auc(acc_by_budget: dict[int, dict[str, dict[int, float]]]) -> dict[str, dict[int, float]]:
    """Per problem and seed: the trapezoid area under accuracy against log2(budget), over log2(max / min)."""
    bs = sorted(acc_by_budget)
    xs = [math.log2(b) for b in bs]
    span = xs[-1] - xs[0]
    out: dict[str, dict[int, float]] = {}
    for pid, seeds in acc_by_budget[bs[0]].items():
        for s in seeds:
            ys = [acc_by_budget[b].get(pid, {}).get(s) for b in bs]
            if None not in ys:
                area = sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(bs) - 1))
                out.setdefault(pid, {})[s] = area / span
    return out


def _pair(metric: str, budget, k, base: dict, var: dict, binary: bool = False) -> dict:
    problems = sorted(set(base) & set(var))
    seeds = sorted(set.intersection(*[set(base[p]) & set(var[p]) for p in problems])) if problems else []
    rec = {"metric": metric, "budget": None if budget is None else budget_label(budget), "k": k,
           "n_problems": len(problems), "n_seeds": len(seeds)}
    if not problems or not seeds:
        return {**rec, "base": None, "variant": None, "diff": None, "lo": None, "hi": None, "p": None, "test": None}
    a = [[base[p][s] for s in seeds] for p in problems]
    b = [[var[p][s] for s in seeds] for p in problems]
    d = [[y - x for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
    lo, hi = nested_bootstrap_ci(d, seed=SEED)
    if binary:   # one greedy sample per problem: 0/1 outcomes, McNemar on the discordant problems
        only_base = sum(1 for ra, rb in zip(a, b) if ra[0] > rb[0])
        only_var = sum(1 for ra, rb in zip(a, b) if rb[0] > ra[0])
        p, test = mcnemar_exact(only_base, only_var), "mcnemar-exact"
    else:
        p, how = sign_flip_test([statistics.fmean(r) for r in d], seed=SEED)
        test = f"sign-flip-{how}"
    mean = lambda m: statistics.fmean(x for r in m for x in r)   # noqa: E731
    return {**rec, "base": mean(a), "variant": mean(b), "diff": mean(d), "lo": lo, "hi": hi, "p": p, "test": test}
