"""The hf backend on a batch of mixed chain lengths: finished rows leave the batch against carrying them to the end.

Workload: one batch of organism-chain:k=4-16 problems on the embedded organism (greedy, and T=1 with seeds),
run both ways in the same process, alternating; the script asserts the samples are identical (token ids too)
and prints the time of each way, the row-steps each forwarded, and the ratio.
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_finished_rows.py [--problems 32] [--repeats 2]
"""

import argparse
import time
from dataclasses import replace

import torch

from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling
from prunescale.models.loading import load_model
from prunescale.tasks.base import get_task


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--task", default="organism-chain:k=4-16")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    org = load_model("embedded:organism")
    reqs = [Request(p.prompt, seed=i, key=(i,)) for i, p in enumerate(get_task(args.task).load(None, args.problems))]
    forcing = Forcing(budget=None, max_tokens=1024, answer_tokens=16)
    rows = []
    org.model.register_forward_pre_hook(lambda m, a, k: rows.append(k["input_ids"].shape[0]), with_kwargs=True)
    for sampling in (Sampling(temperature=0), Sampling(temperature=1.0)):
        secs, steps, out = {False: 0.0, True: 0.0}, {}, {}
        for _ in range(args.repeats):
            for drop in (False, True):
                be = BACKENDS.get("hf")(org.model, org.tokenizer, PROFILES["organism"], keep_ids=True)
                be._drop_finished = drop
                rows.clear()
                start = time.perf_counter()
                out[drop] = [replace(s, wall_s=0.0) for s in be.generate(reqs, forcing, sampling)]
                secs[drop] += time.perf_counter() - start
                steps[drop] = sum(rows)
        assert out[True] == out[False], "finished rows leaving the batch changed a sample"
        lengths = [s.thinking_tokens + s.answer_tokens for s in out[True]]
        print(f"T={sampling.temperature}: {len(reqs)} rows, {min(lengths)}..{max(lengths)} tokens, identical samples")
        for drop, name in ((False, "carry finished rows"), (True, "drop finished rows")):
            print(f"  {name:22s} {secs[drop] / args.repeats:6.2f}s  {steps[drop]:6d} row-steps forwarded")
        print(f"  ratio {secs[False] / secs[True]:.2f}x (row-steps {steps[False] / steps[True]:.2f}x)")


if __name__ == "__main__":
    main()
