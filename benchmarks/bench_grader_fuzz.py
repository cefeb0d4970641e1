"""Fuzz the grader: random and adversarial answers through extract_math + grade; no crash, no hang, bounded memory.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_grader_fuzz.py [--n 10000] [--timeout 2]

Prints total time, the slowest answer, the grader's failure counts and peak RSS of this process and of the worker.
"""

from __future__ import annotations

import argparse
import json
import random
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PAYLOADS = ["__import__('pathlib').Path('fuzz_pwned').write_text('y')", "__import__('os').system('touch fuzz_pwned')",
            "().__class__.__base__.__subclasses__()", "lambda: __import__('os')._exit(3)", "os._exit(3)",
            "(lambda x: x)(__import__('os'))", "exec('import os')", "eval('2')", "open('fuzz_pwned', 'w')",
            "__builtins__.__dict__['__import__']('os')", "getattr(__import__('os'), 'system')('true')"]
LATEX = [r"\frac", r"\sqrt", r"\left(", r"\right)", "^", "_", r"\begin{pmatrix}", r"\end{pmatrix}", r"\int", "&",
         r"\sum_{i=1}^{n}", r"\infty", r"\pi", r"\text{", r"\mbox{", r"\boxed{", "{", "}", r"\{", r"\}", r"\cdot", "\\",
         r"\cup", r"\in", r"\mathbb{R}", r"\operatorname{", r"\log", r"\sin", "=", ",", r"\$", "%", "°", "−", "x", "7"]
HUGE = [r"10^{10^{10^{10}}}", r"9^{9^{9}}", r"2^{2^{2^{2^{2^{2}}}}}", r"\frac{9^{9^{9}}}{7}", r"(x+1)^{10^{8}}",
        r"10^{-10^{10}}", r"1e999999", r"\sqrt[10^{10}]{2}", "9" * 5000, r"2^{10^{10}}", r"\binom{10^{10}}{10^{5}}"]


def _golds(rng: random.Random) -> list[str]:
    """Ten real golds: few enough that the grader's pair cache absorbs repeats of the same hanging answer."""
    path = DATA / "math500.jsonl"
    if path.exists():
        return rng.sample([json.loads(line)["answer"] for line in path.open()], 10)
    return ["5", r"\frac{1}{2}", r"\sqrt{2}", "(1,2)", r"\text{Evelyn}"]


def _one(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:   # random unicode
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x2FFF), rng.randrange(0x1F300, 0x1FAFF)]))
                       for _ in range(rng.randrange(0, 200)))
    if kind == 1:   # deep nesting
        d = rng.choice([10, 1000, 20000])
        opener = rng.choice([r"\boxed{", "{", r"\frac{", "(", r"\sqrt{", r"\left("])
        return opener * d + str(rng.randrange(100)) + rng.choice(["}", ")", r"\right)", ""]) * d
    if kind == 2:
        return rng.choice(HUGE)
    if kind == 3:
        return rng.choice(PAYLOADS)
    if kind == 4:   # long strings
        return rng.choice(["1", "a ", r"\boxed{", "}", "x+", "9"]) * rng.choice([1000, 30000, 160000])
    if kind == 5:   # unbalanced braces
        return "".join(rng.choice("{}()[]12x") for _ in range(rng.randrange(1, 60)))
    if kind == 6:   # LaTeX command soup
        return " ".join(rng.choice(LATEX) for _ in range(rng.randrange(1, 25)))
    return rng.choice([str(rng.randrange(-10**6, 10**6)), f"{rng.random():.6f}", rf"\frac{{{rng.randrange(1, 50)}}}{{7}}"])


def answers(n: int, seed: int = 0) -> list[str]:
    """``n`` responses: an adversarial answer alone, boxed in a sentence, or on an "Answer:" line."""
    rng = random.Random(seed)
    wraps = ["@", "The answer is \\boxed{@}.", "So.\nFinal Answer: @", "$\\boxed{@}$ and \\boxed{@}"]
    return [rng.choice(wraps).replace("@", _one(rng)) for _ in range(n)]


def run(n: int, timeout: float, seed: int = 0) -> dict:
    from prunescale.tasks.equivalence import grade
    from prunescale.tasks.extract import extract_math
    from prunescale.tasks.grader import shared_grader

    rng = random.Random(seed + 1)
    golds = _golds(rng)
    worst, worst_answer, worker_hwm, start = 0.0, "", 0, time.perf_counter()
    for text in answers(n, seed):
        t = time.perf_counter()
        extracted = extract_math(text)
        if extracted is not None:
            grade(extracted, rng.choice(golds), timeout)
        dt = time.perf_counter() - t
        if dt > worst:
            worst, worst_answer = dt, text[:60]
        pid = shared_grader(timeout).pid
        if pid:
            worker_hwm = max(worker_hwm, _hwm_kb(pid))
    return {"answers": n, "total_s": round(time.perf_counter() - start, 1), "max_answer_s": round(worst, 2),
            "slowest": worst_answer, "failures": dict(shared_grader(timeout).failures),
            # VmHWM, not ru_maxrss: ru_maxrss of a process started by a big one counts the parent's pages (fork)
            "peak_rss_mb": round(_hwm_kb(os.getpid()) / 1024, 1),
            "worker_peak_rss_mb": round(worker_hwm / 1024, 1)}


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(json.dumps(run(args.n, args.timeout, args.seed), indent=1))
