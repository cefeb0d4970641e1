"""The same budget-forced workload on the hf and vllm backends: tokens/s and peak memory, as ratios, one run.

Workloads: the organism (64 chain problems x 8 samples, budget 40, T = 1) and SmolLM2-135M pruned by 2 layers
(16 prompts x 4 samples, budget 256, T = 1). Run it in the vLLM environment (`make vllm-venv`):

    OMP_NUM_THREADS=1 .venv-vllm/bin/python benchmarks/bench_backends.py [--model DIR --budget N]

Memory: on CUDA, the peak of torch's allocator for hf and the engine's reserved KV cache + weights for vLLM
(``gpu_memory_utilization``); on CPU, the process's peak resident memory during generation above what it held
once the backend was built: vLLM's preallocated KV cache (VLLM_CPU_KVCACHE_SPACE=1, 1 GiB) and both backends'
weights are not in it, so it compares what generation itself adds (hf: the growing KV cache of the batch).
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
sys.path.insert(0, os.path.dirname(__file__))

from _util import peak_rss_during  # noqa: E402

PROMPTS = ["Explain why the sky is blue.", "Write a short story about a dragon.", "What is 17 times 23?",
           "List three uses of a paperclip.", "Describe the water cycle.", "How do airplanes fly?",
           "What causes the seasons?", "Give advice to a new programmer.", "Summarize the plot of Hamlet.",
           "Why do cats purr?", "How does a refrigerator work?", "What is a prime number?",
           "Describe a walk in the forest.", "How are rainbows formed?", "What makes bread rise?",
           "Explain gravity to a child."]


def run(backend_name: str, model: str, prompts: list[str], samples: int, budget: int, answer_tokens: int):
    import torch

    from prunescale.generate import Forcing, Request, Sampling
    from prunescale.generate.base import build
    from prunescale.scaling.evaluate import EvalConfig

    cfg = EvalConfig(model=model, tasks=[], out="unused", backend=backend_name, enforce_eager=not torch.cuda.is_available())
    built = build(cfg)
    reqs = [Request(p, 1000 * i + j) for i, p in enumerate(prompts) for j in range(samples)]
    f, s = Forcing(budget=budget, answer_tokens=answer_tokens), Sampling(temperature=1.0)
    try:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        out, rss, secs = peak_rss_during(built.backend.generate, reqs, f, s)
        tokens = sum(x.thinking_tokens + x.answer_tokens for x in out)
        if torch.cuda.is_available():
            mem = torch.cuda.max_memory_allocated() / 2**20 if backend_name == "hf" else \
                torch.cuda.mem_get_info()[1] * cfg.gpu_memory_utilization / 2**20
        else:
            mem = rss
        return {"tokens": tokens, "seconds": secs, "tok_s": tokens / secs, "mem_mb": mem,
                "forced": sum(x.forced for x in out) / len(out)}
    finally:
        built.backend.close()
        del built
        import gc

        gc.collect()


def pruned_smollm2() -> str:
    from prunescale.prune.run import PruneSpec, prune

    out = os.path.join(tempfile.mkdtemp(), "smollm2-pruned2")
    prune(PruneSpec(model="embedded:smollm2-135m", method="selection", layers=[13, 14]), out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="a (pruned) model directory instead of the two default workloads")
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    args = ap.parse_args()
    from prunescale.tasks import get_task

    if args.model:
        loads = [("model", args.model, PROMPTS[:args.prompts], args.samples, args.budget, 64)]
    else:
        chains = [p.prompt for p in get_task("organism-chain:k=8").load(None, 64)]
        loads = [("organism 64x8 b40", "embedded:organism", chains, 8, 40, 32),
                 ("smollm2-pruned2 16x4 b256", pruned_smollm2(), PROMPTS[:16], 4, 256, 32)]
    print(f"{'workload':28s} {'backend':7s} {'tokens':>7s} {'s':>7s} {'tok/s':>8s} {'mem MiB':>8s}")
    for name, model, prompts, samples, budget, ans in loads:
        res = {}
        for b in ("hf", "vllm"):
            res[b] = r = run(b, model, prompts, samples, budget, ans)
            print(f"{name:28s} {b:7s} {r['tokens']:7d} {r['seconds']:7.1f} {r['tok_s']:8.1f} {r['mem_mb']:8.0f}",
                  flush=True)
        print(f"{name:28s} vllm/hf: tokens/s x{res['vllm']['tok_s'] / res['hf']['tok_s']:.2f}, "
              f"peak memory x{res['vllm']['mem_mb'] / max(res['hf']['mem_mb'], 1):.2f}", flush=True)


if __name__ == "__main__":
    main()
