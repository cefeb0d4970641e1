"""Metrics of a run from its stored generations: accuracy per task and budget, pass@k / maj@k / cov@k."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path

from .metrics import answer_classes, cov_at_k, maj_from_classes, pass_at_k
from ..budgets import budget_label
from ..stats import bootstrap_mean_ci


def ks_for(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks if ks[-1] == n else ks + [n]


def summarize(rows: list[dict], tasks: dict, cfg) -> dict:
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["budget"])].append(r)
    out: dict = {"tasks": {}, "samples": cfg.samples, "seeds": cfg.seeds, "temperature": cfg.temperature,
                 "answer_tokens": cfg.answer_tokens}
    for (task, budget), rs in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        t = out["tasks"].setdefault(task, {"long_chain": getattr(tasks.get(task), "long_chain", None), "budgets": {}})
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
    groups = [sorted(v, key=lambda r: r["sample_idx"]) for v in per_problem_seed.values()]
    classes = [answer_classes([r["extracted"] for r in g], same, key) for g in groups]   # once for every k
    pass_k, maj_k, cov_k = {}, {}, {}
    for k in ks_for(n):
        pass_k[str(k)] = statistics.fmean(pass_at_k(len(g), sum(r["correct"] for r in g), k) for g in groups)
        maj_k[str(k)] = statistics.fmean(
            maj_from_classes(c, [bool(r["correct"]) for r in g], k) for c, g in zip(classes, groups))
        cov_k[str(k)] = statistics.fmean(cov_at_k([r["correct"] for r in g], k) for g in groups)
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
        "pass@k": pass_k, "maj@k": maj_k, "cov@k": cov_k,
    }


def write_summary(summary: dict, path: Path) -> None:
    from ..fileio import write_json_atomic

    write_json_atomic(summary, Path(path))
