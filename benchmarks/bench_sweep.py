"""A budget sweep shared (one run per sample at the largest budget, smaller budgets cut from it) against
independent (each budget from scratch), on SmolLM2-135M pruned by 2 layers (reverse) and on the organism.

Workload: the same 8-budget sweep both ways in one process, greedy; SmolLM2 with the profile eval detects for it
(generic: no end-of-thinking, so the pruned model rambles to each budget) on the first --problems built-in
reasoning prompts; the organism on organism-chain:k=2-16 with 2 Waits. The script asserts every sample of every
budget is identical both ways and prints the thinking and answer tokens each way generated, its wall time, and
the ratios. Targets (hf): >= 3x fewer thinking tokens, >= 2.5x less wall time.
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sweep.py [--problems 4] [--answer-tokens 16]
     OMP_NUM_THREADS=1 .venv-vllm/bin/python benchmarks/bench_sweep.py --backend vllm
"""

import argparse
import os
import tempfile
import time
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")   # the engine in this process: a faster start
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")

from prunescale.generate import Forcing, Request, Sampling  # noqa: E402
from prunescale.generate.base import Backend, build  # noqa: E402
from prunescale.generate.prompts import TRACE_PROMPTS  # noqa: E402
from prunescale.scaling.evaluate import EvalConfig  # noqa: E402
from prunescale.tasks.base import get_task  # noqa: E402


def generated(out: dict, shared: bool) -> tuple[int, int]:
    """(thinking, answer) tokens a sweep generated: independent, every sample; shared, each lead's thinking and
    the answers of the lead and of each budget that cut it (a budget it never reached is the lead itself)."""
    if not shared:
        return (sum(s.thinking_tokens for v in out.values() for s in v),
                sum(s.answer_tokens for v in out.values() for s in v))
    lead = max(out, key=lambda b: float("inf") if b is None else b)
    think = sum(s.thinking_tokens for s in out[lead])
    answer = sum(s.answer_tokens for b, v in out.items() for i, s in enumerate(v)
                 if b == lead or s.text != out[lead][i].text)
    return think, answer


def compare(name: str, be: Backend, reqs: list, budgets: list, forcing: Forcing) -> None:
    greedy, res = Sampling(temperature=0), {}
    be.generate_sweep(reqs[:1], budgets[:2], replace(forcing, answer_tokens=2), greedy)   # warm-up
    for mode in ("independent", "shared"):
        start = time.perf_counter()
        sweep = be.generate_sweep if mode == "shared" else lambda *a: Backend.generate_sweep(be, *a)
        out = sweep(reqs, budgets, forcing, greedy)
        res[mode] = (time.perf_counter() - start, {b: [replace(s, wall_s=0.0) for s in v] for b, v in out.items()})
    assert res["shared"][1] == res["independent"][1], f"{name}: a shared sample differs from the independent one"
    forced = {b: sum(s.forced for s in v) for b, v in res["shared"][1].items()}
    print(f"{name}: {len(reqs)} problems x budgets {','.join(map(str, budgets))} (forced per budget: "
          f"{list(forced.values())}), identical samples both ways")
    counts = {m: generated(res[m][1], m == "shared") for m in res}
    for m in ("independent", "shared"):
        print(f"  {m:12s} thinking {counts[m][0]:6d}  answer {counts[m][1]:5d}  wall {res[m][0]:7.1f}s")
    print(f"  ratio: thinking tokens {counts['independent'][0] / counts['shared'][0]:.2f}x, answer tokens "
          f"{counts['independent'][1] / max(1, counts['shared'][1]):.2f}x, wall time "
          f"{res['independent'][0] / res['shared'][0]:.2f}x", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="hf", choices=("hf", "vllm"))
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--answer-tokens", type=int, default=16)
    ap.add_argument("--budgets", default="128,256,384,512,640,768,896,1024", help="SmolLM2's sweep")
    ap.add_argument("--organism-budgets", default="16,32,48,64,96,128,192,256")
    ap.add_argument("--only", choices=("smollm2", "organism"), help="one model")
    args = ap.parse_args()
    kw = dict(tasks=[], out="unused", backend=args.backend, enforce_eager=True)
    if args.only != "organism":
        from prunescale.prune.run import PruneSpec, prune

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "smollm2-reverse-2")
            prune(PruneSpec(model="embedded:smollm2-135m", method="reverse", remove=2), path)
            built = build(EvalConfig(model=path, **kw).backend_options())
            reqs = [Request(p, seed=i, key=(i,)) for i, p in enumerate(TRACE_PROMPTS[:args.problems])]
            budgets = [int(b) for b in args.budgets.split(",")]
            compare(f"SmolLM2-135M pruned (reverse, 2 layers), {args.backend}", built.backend, reqs, budgets,
                    Forcing(budget=None, answer_tokens=args.answer_tokens))
            built.backend.close()
    if args.only != "smollm2":
        built = build(EvalConfig(model="embedded:organism", **kw).backend_options())
        reqs = [Request(p.prompt, seed=i, key=(i,)) for i, p in
                enumerate(get_task("organism-chain:k=2-16").load(None, 4 * args.problems))]
        budgets = [int(b) for b in args.organism_budgets.split(",")]
        compare(f"organism, 2 Waits, {args.backend}", built.backend, reqs, budgets,
                Forcing(budget=None, waits=2, answer_tokens=max(24, args.answer_tokens)))
        built.backend.close()


if __name__ == "__main__":
    main()
