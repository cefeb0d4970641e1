"""Metrics of a run from its stored generations: accuracy per task and budget, pass@k / maj@k / cov@k."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

from .metrics import cov_at_k
from .problems import by_problem, ks_for, problem_values
from ..budgets import budget_label
from ..stats import bootstrap_mean_ci, nested_bootstrap_ci

__all__ = ["ks_for", "summarize", "write_summary"]


def summarize(rows: list[dict], tasks: dict, cfg) -> dict:
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["budget"])].append(r)
    out: dict = {"tasks": {}, "samples": cfg.samples, "seeds": cfg.seeds, "temperature": cfg.temperature,
                 "answer_tokens": cfg.answer_tokens}
    for (task, budget), rs in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        t = out["tasks"].setdefault(task, {"long_chain": getattr(tasks.get(task), "long_chain", None), "budgets": {}})
        if getattr(tasks.get(task), "chain_length", None) is not None:
            t["chain_length"] = tasks[task].chain_length
        t["budgets"][budget_label(budget)] = _cell(rs, tasks.get(task), cfg.answer_tokens)
    return out


def _cell(rs: list[dict], task, answer_cap: int) -> dict:
    per_problem_seed = defaultdict(list)
    for r in rs:
        per_problem_seed[(r["seed"], r["problem_id"])].append(r)
    seeds = sorted({r["seed"] for r in rs})
    acc_by_seed = {s: statistics.fmean(r["correct"] for r in rs if r["seed"] == s) for s in seeds}
    # Per-problem accuracy (over seeds and samples) for the bootstrap over problems.
    per_problem = defaultdict(list)
    for r in rs:
        per_problem[r["problem_id"]].append(r["correct"])
    problem_acc = [statistics.fmean(v) for v in per_problem.values()]
    n = min(len(v) for v in per_problem_seed.values())
    same = task.same_answer if task is not None else (lambda a, b: a == b)
    key = getattr(task, "answer_key", str)   # a cheap sound grouping key, when the task has one
    values = problem_values(rs, same, key)    # answer classes once per problem, for every k
    groups = [sorted(v, key=lambda r: r["sample_idx"]) for v in per_problem_seed.values()]
    ks = ks_for(n)
    pass_k, maj_k, first_k, cov_k, cis, mc_se = {}, {}, {}, {}, {}, {}
    for k in ks:
        cov_k[str(k)] = statistics.fmean(cov_at_k([r["correct"] for r in g], k) for g in groups)
        for name, table in (("pass@k", pass_k), ("maj@k", maj_k), ("maj@k_first", first_k)):
            table[str(k)] = statistics.fmean(v[name][k] for v in values.values())
            if name != "maj@k_first":   # interval over problems (seeds nested), as for accuracy
                rows = [list(s.values()) for s in by_problem(values, name, k).values()]
                cis.setdefault(f"{name}_ci95", {})[str(k)] = list(nested_bootstrap_ci(_square(rows)))
        se = [v["maj@k_mc_se"][k] for v in values.values()]
        if any(se):   # maj@k estimated by sampling subsets (many samples): its standard error over the mean
            mc_se[str(k)] = sum(x * x for x in se) ** 0.5 / len(se)
    lo, hi = bootstrap_mean_ci(problem_acc, seed=0)
    return {
        "accuracy": statistics.fmean(r["correct"] for r in rs),
        "accuracy_by_seed": {str(s): a for s, a in acc_by_seed.items()},
        "accuracy_std": statistics.stdev(acc_by_seed.values()) if len(seeds) > 1 else 0.0,
        "ci95": [lo, hi],
        "n_problems": len(per_problem),
        "n_samples": len(rs),
        "thinking_tokens_mean": statistics.fmean(r["thinking_tokens"] for r in rs),
        "answer_tokens_mean": statistics.fmean(r["answer_tokens"] for r in rs),
        "forced_share": statistics.fmean(r["forced"] for r in rs),
        "answer_found_share": statistics.fmean(r["extracted"] is not None for r in rs),
        # answers cut at --answer-tokens before an answer could be read: these read as wrong, not as unknown
        "answer_cut_share": statistics.fmean(r["extracted"] is None and r["answer_tokens"] >= answer_cap
                                             for r in rs),
        # answers graded wrong without a verdict (grader timeout, worker died), by reason
        "grading_failures": dict(Counter(r["grade_note"] for r in rs if r.get("grade_note"))),
        "waits_mean": statistics.fmean(r["waits"] for r in rs),
        "seconds_per_sample": statistics.fmean(r["wall_s"] for r in rs),
        "pass@k": pass_k, "maj@k": maj_k, "maj@k_first": first_k, "cov@k": cov_k, **cis,
        **({"maj@k_mc_se": mc_se} if mc_se else {}),
    }


def _square(rows: list[list[float]]) -> list[list[float]]:
    """Problems x seeds for the nested bootstrap: a problem missing a seed repeats its own mean."""
    width = max(len(r) for r in rows)
    return [r + [statistics.fmean(r)] * (width - len(r)) for r in rows]


def write_summary(summary: dict, path: Path) -> None:
    from ..fileio import write_json_atomic

    write_json_atomic(summary, Path(path))
