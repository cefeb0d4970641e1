"""Misgrade counts of a grader: the adversarial pairs of issues 11 and 21, the shared data, the s1.1 log.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/misgrade_counts.py [--before SRC] [--limit N] [--pairs-only]

``--before SRC``: also count with the package in another source tree (a scratch checkout of an older commit,
``git worktree add /tmp/g21base b24985a`` then ``--before /tmp/g21base/src``), each grader in its own process.
Cases: ``PAIRS``, (gold, response, expected verdict) graded through extraction like a run's answers (a bare
answer is boxed first), reported as wrong accepts / wrong rejects; every gold of aime24 / math500 / gsm8k
answered as itself, boxed in a sentence and rewritten (``x = G``, unicode minus, ``\\text{G}``, ``$G$``, units,
degrees, ``\\$``, ``\\{G\\}``), all expected correct; the s1.1 log's responses against the harness's own
``exact_matches``. Model text is only ever graded, never run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

R, T, Y, N = r"\boxed{%s}", True, True, False
# (gold, response, expected). A response without "\boxed" and without "nswer" is boxed as it stands.
PAIRS = [
    # issue 11: forms of the same answer, and near misses
    ("-5", "−5", Y), ("5", "x = 5", Y), ("0.5", r"\frac12", Y), ("30", "30°", Y), ("30", r"30^\circ", Y),
    ("18", r"\$18", Y), ("5", r"5\text{ cm}", Y), ("Evelyn", r"\mbox{Evelyn}", Y), ("1,2", r"\{1,2\}", Y),
    ("123456790", "123456789", N), ("100000000", "100000001", N), ("0", "1e-7", N),
    # issue 21, standard answer formats (lm-eval's minerva_math, "Answer: The answer is", repeated lead-ins)
    ("7", "Final Answer: The final answer is $7$. I hope it is correct.", Y),
    (r"\frac{3}{4}", r"Final Answer: The final answer is $\frac{3}{4}$. I hope it is correct.", Y),
    ("12", "Final Answer: The final answer is 12. I hope it is correct.", Y),
    ("3.5", "Final Answer: The final answer is 3.5. I hope it is correct.", Y),
    ("(2,-1)", "Final Answer: The final answer is $(2,-1)$. I hope it is correct.", Y),
    ("7", "Final Answer: The final answer is $8$. I hope it is correct.", N),
    ("7", "Answer: The answer is 7", Y), (r"\sqrt{3}", r"Answer: The answer is $\sqrt{3}$.", Y),
    ("70", "Answer: The answer is 7", N), ("5", "Final Answer:Final answer: $5$", Y),
    ("x^2+1", "Final Answer: Final answer: $x^2+1$", Y), ("7", "**Final Answer:** $7$", Y),
    (r"\frac{1}{2}", r"**Final Answer**: $\frac{1}{2}$", Y), (r"\frac{1}{2}", r"The final answer is $\frac{1}{2}$.", Y),
    ("9", "Answer: $9$ (the other root is negative)", Y), ("6", "Answer: $9$ (not 6)", N),
    # integers compare exactly, whatever their spelling
    ("1000000000.0", "1000000001", N), ("123456789011.0", "123456789012", N), ("1e18", "999999999999999999", N),
    ("150000000000000000001", r"1.5\times10^{20}", N), ("25000000001", "2.5e10", N),
    ("1000000000001", "10^{12}", N), ("999999999", "1.0e9", N), ("100.0", "100.00000001", N),
    ("1000000000", "1000000000.5", N), ("4.0e15", "4000000000000001", N), ("2^{40}", "1099511627777", N),
    ("27.0", "27", Y), ("27", "27.0", Y), ("1e18", "1000000000000000000", Y),
    ("150000000000000000000", r"1.5\times10^{20}", Y), (r"1.5 \times 10^{20}", "150000000000000000000", Y),
    ("300000", r"3\cdot10^{5}", Y), ("1000000000.0", "10^9", Y), ("2.50", r"\frac52", Y), ("2^{40}", "1099511627776", Y),
    # approximations are not the exact value (unless the gold is itself a decimal: its stated precision decides)
    (r"\sqrt{2}", "1.41421356", N), (r"\pi", "3.14159265", N), (r"\frac{\sqrt{3}}{2}", "0.8660254", N),
    ("e", "2.718281828", N), (r"\frac{1}{3}", "0.333333333", N), (r"2\sqrt{2}", "2.828427", N),
    (r"\ln 2", "0.693147", N), (r"\frac{\pi}{4}", "0.785398", N), (r"(\sqrt{2}, 1)", "(1.41421356, 1)", N),
    (r"3\sqrt{5}", "6.7082", N),
    ("1.41421356", r"\sqrt{2}", Y), ("1.41", r"\sqrt{2}", Y), ("3.14", r"\pi", Y), ("0.25", r"\frac{1}{4}", Y),
    ("2^{-2}", "0.25", Y), (r"\frac{1}{8}", "0.125", Y), (r"\frac{\pi}{2}", r"0.5\pi", Y),
    ("1.42", r"\sqrt{2}", N), ("3.15", r"\pi", N),
    # units are part of an answer when both sides have one
    (r"3\text{m}", r"3\text{cm}", N), (r"5\text{ cm}", r"5\text{ m}", N), (r"12\text{ inches}", r"12\text{ feet}", N),
    (r"\$18", r"18\text{ cents}", N), (r"4\text{ cm}^2", r"4\text{ cm}", N), (r"10\text{ km}", "10 miles", N),
    (r"30^\circ", r"30\text{ minutes}", N), (r"12^\circ\text{C}", r"12^\circ\text{F}", N),
    ("12", r"12^{\circ}\text{C}", Y), ("12", r"12^{\circ} C", Y), (r"3\text{ m}", "3 meters", Y),
    (r"864 \mbox{ inches}^2", r"864\text{ square inches}", Y), (r"90^\circ", r"90\text{ degrees}", Y),
    (r"90^\circ", "90", Y), (r"5.4 \text{ cents}", "5.4", Y), (r"\$18.90", r"18.90\text{ dollars}", Y),
    (r"15\mbox{ cm}^2", r"15\text{ cm}^2", Y), ("20", r"20\text{ mph}", Y), (r"3\text{m}", r"3\text{ m}", Y),
    (r"\frac{270}7\text{ degrees}", r"\frac{270}{7}^\circ", Y), ("5", "5 apples", Y), ("5", "6 apples", N),
    # percent, both readings: X% is X and X/100 against a side without %; two percents compare as numbers
    ("0.1", r"10\%", Y), (r"10\%", "0.1", Y), (r"\frac12", r"50\%", Y), (r"50\%", r"\frac12", Y),
    (r"10\%", "10", Y), ("10", r"10\%", Y), (r"25\%", r"\frac{1}{4}", Y), ("0.375", r"37.5\%", Y),
    (r"12.5\%", r"\frac18", Y), ("40", "40 percent", Y), (r"40\%", r"40\text{ percent}", Y),
    (r"10\%", "1", N), ("0.1", r"1\%", N), (r"10\%", r"0.1\%", N), (r"50\%", r"\frac13", N), (r"20\%", "0.02", N),
    ("0.2", r"2\%", N),
]


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


def response(answer: str) -> str:
    return answer if ("\\boxed" in answer or "nswer" in answer) else f"The answer is \\boxed{{{answer}}}."


def count(limit: int | None, pairs_only: bool) -> dict:
    """{case: [wrong accepts, wrong rejects, n]} for the grader of the package on sys.path."""
    from prunescale.tasks.extract import extract_math, math_equal

    def verdict(resp: str, gold: str) -> bool:
        e = extract_math(resp)
        return e is not None and math_equal(e, gold)

    out = {"adversarial pairs": [0, 0, len(PAIRS)]}
    for gold, answer, want in PAIRS:
        if verdict(response(answer), gold) != want:
            out["adversarial pairs"][0 if not want else 1] += 1
    if pairs_only:
        return out
    for name, gs in golds(limit).items():
        out[f"{name} as itself"] = [0, sum(not math_equal(g, g) for g in gs), len(gs)]
        out[f"{name} boxed in a sentence"] = [0, sum(not verdict(response(g), g) for g in gs), len(gs)]
        pairs = [p for g in gs for p in rewrites(g)[1:]]
        out[f"{name} rewritten"] = [0, sum(not math_equal(p, g) for p, g in pairs), len(pairs)]
    log = [json.loads(x) for x in (DATA / "s1.1-7B_aime24_lmeval_samples.jsonl").open()]
    rows = [(r, d["target"], bool(m)) for d in log for r, m in zip(d["resps"][0], d["exact_matches"])]
    got = [verdict(r, t) for r, t, _ in rows]
    out["s1.1 log vs harness"] = [sum(g and not m for g, (_, _, m) in zip(got, rows)),
                                  sum(m and not g for g, (_, _, m) in zip(got, rows)), len(rows)]
    return out


def run_in(src: str, args: argparse.Namespace) -> dict:
    """``count`` with the package of source tree ``src``, in a fresh interpreter."""
    cmd = [sys.executable, __file__, "--json"] + (["--limit", str(args.limit)] if args.limit else []) \
        + (["--pairs-only"] if args.pairs_only else [])
    env = {**os.environ, "PYTHONPATH": src}
    return json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", help="source tree of the grader to compare with (its src/ directory)")
    ap.add_argument("--limit", type=int, default=None, help="first N golds of each data file")
    ap.add_argument("--pairs-only", action="store_true", help="only the adversarial pairs")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps(count(args.limit, args.pairs_only)))
        return
    t = time.perf_counter()
    after = run_in(str(ROOT / "src"), args)
    t_after = time.perf_counter() - t
    before = run_in(args.before, args) if args.before else None
    head = f"{'case':32} {'n':>6}" + (f" {'before (acc/rej)':>17}" if before else "") + f" {'now (acc/rej)':>14}"
    print(head)
    for case, (acc, rej, n) in after.items():
        old = f" {before[case][0]:>8d} / {before[case][1]:<6d}" if before else ""
        print(f"{case:32} {n:6d}{old} {acc:>5d} / {rej:<6d}")
    print(f"(wrong accepts / wrong rejects; now: {t_after:.1f} s)")


if __name__ == "__main__":
    main()
