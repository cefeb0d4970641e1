"""Run every metric over a set of records and aggregate per model / task / budget and per problem."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Sequence

from .diversity import sample_diversity
from .judge import ReflectionJudge
from .length import length_info
from .loops import THRESHOLDS, detect_loops
from .records import Record, as_records
from .reflection import count_reflection
from .selfbleu import sentence_self_bleu
from .text import clean_markers, sentence_spans
from ..stats import mean as _mean, mean_in_order, pearson

KEYS = ("model", "task", "budget")
# Response metrics compared between right and wrong answers.
RESPONSE_METRICS = (
    "self_bleu", "looping", "repeated_share", "tail_compression", "verification", "backtracking", "subgoal",
    "thinking_words", "thinking_tokens", "budget_used", "forced", "answer_found",
    "judge_verification", "judge_backtracking", "judge_subgoal",
)
DIVERSITY_METRICS = ("cross_self_bleu", "distinct_1", "distinct_2", "distinct_3", "distinct_4")


def analyze_response(
    rec: Record,
    judge: ReflectionJudge | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> dict:
    """Every per-response metric of one record, as a flat row (plus ``loop_spans`` and ``cycles``)."""
    text = rec.response
    length = length_info(text, rec.thinking_tokens, rec.forced, count_tokens, rec.thinking_end)
    loops = detect_loops(text, ends=[length.thinking_end] if length.thinking_end is not None else [])
    scores = sentence_self_bleu(text)
    refl = count_reflection(text)
    row = {k: getattr(rec, k) for k in KEYS}
    row.update(
        problem_id=rec.problem_id, sample=rec.sample, seed=rec.seed, correct=rec.correct, extracted_answer=rec.extracted_answer,
        chars=len(text), n_sentences=len(sentence_spans(clean_markers(text))),
        self_bleu=mean_in_order(scores) if scores else None,
        looping=loops.looping, loop_reasons=",".join(loops.reasons), repeated_share=loops.repeated_share,
        tail_compression=loops.tail_compression, compression=loops.compression, n_cycles=len(loops.cycles),
        verification=refl.verification, backtracking=refl.backtracking, subgoal=refl.subgoal,
        verification_raw=refl.raw["verification"], backtracking_raw=refl.raw["backtracking"],
        subgoal_raw=refl.raw["subgoal"],
        thinking_words=length.thinking_words, thinking_tokens=length.thinking_tokens,
        budget_used=length.thinking_tokens / rec.budget if length.thinking_tokens is not None and rec.budget else None,
        forced=length.forced, answer_found=length.answer_found, final_answer=length.final_answer,
    )
    if judge is not None:
        row.update({f"judge_{k}": v for k, v in judge.count(text).items()})
    row["loop_spans"] = [list(s) for s in loops.loop_spans]
    row["cycles"] = [vars(c) for c in loops.cycles]
    row["reflection_matches"] = refl.matches
    return row


def analyze_records(
    records: Iterable[Record | dict],
    judge: ReflectionJudge | None = None,
    count_tokens: Callable[[str], int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Per-response rows, per-problem diversity and per-group aggregates with right-vs-wrong comparisons."""
    recs = as_records(records)
    rows = []
    for i, r in enumerate(recs):
        rows.append(analyze_response(r, judge, count_tokens))
        if progress:
            progress(i + 1, len(recs))
    by_problem: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(recs):
        by_problem[(*r.group_key(), r.problem_id)].append(i)
    problems = []
    for key, idx in by_problem.items():
        p = dict(zip(KEYS, key[:3]), problem_id=key[3])
        p.update(sample_diversity([recs[i].response for i in idx]))
        p["accuracy"] = _mean([rows[i]["correct"] for i in idx])
        p["loop_rate"] = _mean([rows[i]["looping"] for i in idx])
        problems.append(p)
    groups = []
    for key in dict.fromkeys(r.group_key() for r in recs):
        g_rows = [row for row in rows if tuple(row[k] for k in KEYS) == key]
        g_probs = [p for p in problems if tuple(p[k] for k in KEYS) == key]
        groups.append(_aggregate(dict(zip(KEYS, key)), g_rows, g_probs))
    return {"thresholds": {"loops": THRESHOLDS}, "responses": rows, "problems": problems, "groups": groups}


def _aggregate(labels: dict, rows: list[dict], problems: list[dict]) -> dict:
    g = dict(labels, n_responses=len(rows), n_problems=len(problems))
    g["accuracy"] = _mean([r["correct"] for r in rows])
    for m in RESPONSE_METRICS:
        if any(r.get(m) is not None for r in rows):
            g[m] = _mean([r.get(m) for r in rows])
    g["loop_rate"] = g.pop("looping")
    g["forced_share"] = g.pop("forced", None)
    for m in DIVERSITY_METRICS:
        g[m] = _mean([p[m] for p in problems])
    g["by_correctness"] = {
        m: compare_by_correctness([r.get(m) for r in rows], [r["correct"] for r in rows])
        for m in RESPONSE_METRICS
        if any(r.get(m) is not None for r in rows)
    }
    return g


def compare_by_correctness(values: Sequence, correct: Sequence) -> dict:
    """Mean of a metric among right and among wrong answers, and their point-biserial correlation."""
    pairs = [(float(v), bool(c)) for v, c in zip(values, correct) if v is not None and c is not None]
    right = [v for v, c in pairs if c]
    wrong = [v for v, c in pairs if not c]
    return {
        "n_correct": len(right), "n_wrong": len(wrong),
        "mean_correct": _mean(right), "mean_wrong": _mean(wrong),
        "point_biserial": pearson([v for v, _ in pairs], [float(c) for _, c in pairs]),
    }
