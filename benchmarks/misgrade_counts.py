"""Misgrade counts of the old grader (a git revision) and the current one on the shared data and the s1.1 log.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/misgrade_counts.py [--old-rev 9f6d5ac] [--limit N]

Cases: every gold of aime24 / math500 / gsm8k answered as itself, boxed in a sentence (through extraction) and
rewritten (``x = G``, unicode minus, ``\\text{G}``, ``$G$``, units, degrees, ``\\$``, ``\\{G\\}``; the gold side
rewritten too), all expected correct; the hand-made pairs of issue 11; the s1.1 log's responses, extracted and
graded, against the harness's own ``exact_matches``. The old grader runs sympy on trusted data only here.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAIRS = [("−5", "-5", True), ("x = 5", "5", True), (r"\frac12", "0.5", True), ("30°", "30", True),
         (r"30^\circ", "30", True), (r"\$18", "18", True), (r"5\text{ cm}", "5", True), (r"\mbox{Evelyn}", "Evelyn", True),
         (r"\{1,2\}", "1,2", True), ("123456789", "123456790", False), ("100000001", "100000000", False),
         ("1e-7", "0", False)]


def old_grader(rev: str):
    """The extract module of ``rev``, imported from ``git show`` as package ``old_grader``."""
    pkg = Path(tempfile.mkdtemp()) / "old_grader"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("extract", "symbolic"):
        src = subprocess.run(["git", "show", f"{rev}:src/prunescale/tasks/{name}.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        (pkg / f"{name}.py").write_text(src)
    sys.path.insert(0, str(pkg.parent))
    return importlib.import_module("old_grader.extract")


def golds(limit: int | None) -> dict[str, list[str]]:
    rows = {"aime24": [str(json.loads(x)["answer"]) for x in (DATA / "aime24.jsonl").open()],
            "math500": [json.loads(x)["answer"] for x in (DATA / "math500.jsonl").open()],
            "gsm8k": [json.loads(x)["answer"].split("####")[-1].strip().replace(",", "")
                      for x in (DATA / "gsm8k_test.jsonl").open()]}
    return {k: v[:limit] for k, v in rows.items()}


def rewrites(g: str) -> list[tuple[str, str]]:
    """(pred, gold) pairs that must grade correct."""
    out = [(g, g), (rf"\text{{{g}}}", g), (f"${g}$", g), (rf"\mbox{{{g}}}", g)]
    if "=" not in g:   # "x = G" is no way to write an equation
        out += [(f"x = {g}", g), (g, f"x = {g}")]
    if g.startswith("-"):
        out.append(("−" + g[1:], g))
    if g.replace(".", "", 1).lstrip("-").isdigit():
        out += [(rf"{g}\text{{ cm}}", g), (rf"\${g}", g), (rf"{g}^\circ", g), (f"{g}°", g)]
    if "," in g and "(" not in g and "[" not in g:
        out.append((rf"\{{{g}\}}", g))
    return out


def count(grader, extract, groups: dict[str, list[str]], log: list[dict]) -> dict[str, tuple[int, int]]:
    """{case: (misgrades, n)}."""
    out = {}
    for name, gs in groups.items():
        out[f"{name} as itself"] = (sum(not grader(g, g) for g in gs), len(gs))
        boxed = [extract(f"The answer is \\boxed{{{g}}}.") for g in gs]
        out[f"{name} boxed in a sentence"] = (sum(b is None or not grader(b, g) for b, g in zip(boxed, gs)), len(gs))
        pairs = [p for g in gs for p in rewrites(g)[1:]]
        out[f"{name} rewritten"] = (sum(not grader(p, g) for p, g in pairs), len(pairs))
    out["hand-made pairs"] = (sum(grader(p, g) != want for p, g, want in PAIRS), len(PAIRS))
    verdicts = [(extract(r), d["target"], m) for d in log for r, m in zip(d["resps"][0], d["exact_matches"])]
    out["s1.1 log vs harness"] = (sum((e is not None and grader(e, t)) != bool(m) for e, t, m in verdicts), len(verdicts))
    return out


def math_verify_alone(log: list[dict]) -> tuple[int, int]:
    """math-verify's own extraction and verification of whole responses (the field's standard checker)."""
    from math_verify import parse, verify

    rows = [(r, d["target"], m) for d in log for r, m in zip(d["resps"][0], d["exact_matches"])]
    return sum(bool(verify(parse(f"${t}$"), parse(r))) != bool(m) for r, t, m in rows), len(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old-rev", default="9f6d5ac")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    from prunescale.tasks.extract import extract_math, math_equal

    old = old_grader(args.old_rev)
    groups, log = golds(args.limit), [json.loads(x) for x in (DATA / "s1.1-7B_aime24_lmeval_samples.jsonl").open()]
    t = time.perf_counter()
    before = count(old.math_equal, old.extract_math, groups, log)
    t_old, t = time.perf_counter() - t, time.perf_counter()
    after = count(math_equal, extract_math, groups, log)
    t_new = time.perf_counter() - t
    print(f"{'case':34} {'n':>6} {'before':>7} {'after':>6}")
    for case, (bad, n) in before.items():
        print(f"{case:34} {n:6d} {bad:7d} {after[case][0]:6d}")
    bad, n = math_verify_alone(log)
    print(f"{'s1.1 log, math-verify alone':34} {n:6d} {'':7} {bad:6d}")
    print(f"time: before {t_old:.1f} s, after {t_new:.1f} s")


if __name__ == "__main__":
    main()
