"""Write an analysis as ``analysis.json`` (everything, with loop spans) and ``analysis.csv`` (flat rows).

CSV rows have a ``level``: ``response`` rows hold one response's values (booleans as 1/0); ``problem`` and
``group`` rows hold the mean of each column over their responses, so ``correct`` there is the accuracy,
``looping`` the loop rate and ``forced`` the forced share; ``n`` counts their responses.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..contract.run_dir import RunDir
from ..fileio import write_atomic
from ..stats import mean
from .summary import DIVERSITY_METRICS, KEYS

CSV_COLUMNS = [
    "level", *KEYS, "problem_id", "sample", "seed", "n", "correct", "extracted_answer", "final_answer", "chars",
    "n_sentences", "self_bleu", "looping", "loop_reasons", "repeated_share", "tail_compression", "compression",
    "n_cycles", "verification", "backtracking", "subgoal", "verification_raw", "backtracking_raw", "subgoal_raw",
    "judge_verification", "judge_backtracking", "judge_subgoal", "thinking_words", "thinking_tokens",
    "budget_used", "forced", "answer_found", *DIVERSITY_METRICS,
]
_TEXT = {"level", *KEYS, "problem_id", "sample", "seed", "n", "extracted_answer", "final_answer", "loop_reasons"}
_MEANS = [c for c in CSV_COLUMNS if c not in _TEXT]




def csv_rows(analysis: dict) -> list[dict]:
    """Response rows, then per-problem and per-group rows of means."""
    responses = analysis["responses"]
    out = [dict(_flat(r), level="response", n=1) for r in responses]
    for p in analysis["problems"]:
        mine = [r for r in responses if _same(r, p) and r["problem_id"] == p["problem_id"]]
        out.append(dict(_means(mine), **{k: p[k] for k in (*KEYS, "problem_id", *DIVERSITY_METRICS)},
                        level="problem", n=len(mine)))
    for g in analysis["groups"]:
        mine = [r for r in responses if _same(r, g)]
        out.append(dict(_means(mine), **{k: g[k] for k in (*KEYS, *DIVERSITY_METRICS)}, level="group", n=len(mine)))
    return out


def write_analysis(analysis: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write analysis.json and analysis.csv into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(csv_rows(analysis))
    json_path, csv_path = RunDir(out_dir).analysis_json, RunDir(out_dir).analysis_csv
    write_atomic(json_path, json.dumps(analysis, indent=1, ensure_ascii=False) + "\n")
    write_atomic(csv_path, buf.getvalue())
    return json_path, csv_path


def summary_tables(analysis: dict) -> tuple[list[str], list[list], list[str], list[list]]:
    """A one-row-per-group overview, and right-vs-wrong means of the main metrics per group."""
    h1 = ["model", "task", "budget", "n", "acc", "loop", "selfBLEU", "xBLEU", "dist4", "verif", "backtr",
          "subgoal", "forced", "answer"]
    t1, t2 = [], []
    for g in analysis["groups"]:
        t1.append([g["model"], g["task"], g["budget"], g["n_responses"], g["accuracy"], g["loop_rate"],
                   g.get("self_bleu"), g["cross_self_bleu"], g["distinct_4"], g.get("verification"),
                   g.get("backtracking"), g.get("subgoal"), g.get("forced_share"), g.get("answer_found")])
        for m, c in g["by_correctness"].items():
            if m in ("self_bleu", "looping", "repeated_share", "backtracking", "thinking_words", "thinking_tokens",
                     "forced", "judge_backtracking"):
                t2.append([g["model"], g["task"], g["budget"], m, c["mean_correct"], c["mean_wrong"],
                           c["point_biserial"]])
    h2 = ["model", "task", "budget", "metric", "right", "wrong", "r"]
    return h1, t1, h2, t2


def _same(row: dict, other: dict) -> bool:
    return all(row[k] == other[k] for k in KEYS)


def _flat(r: dict) -> dict:
    return {k: (int(v) if isinstance(v, bool) else v) for k, v in r.items() if k in CSV_COLUMNS}


def _means(rows: list[dict]) -> dict:
    out = {}
    for c in _MEANS:
        out[c] = mean([r.get(c) for r in rows])
    return out

