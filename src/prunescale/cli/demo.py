"""``prunescale demo``: prune the embedded SmolLM2 with each method and show what each one removed."""

from __future__ import annotations

import argparse
import copy
import time

import torch

from ..models.loading import load_model
from ..models.surgery import param_count
from ..prune.calibration import load_calibration
from ..prune.run import PruneSpec, prune_loaded
from ..prune.scoring import layer_similarity
from .common import format_table
from .prune import layer_rows

DEMO_METHODS = ["shortgpt", "angular", "reverse", "laco", "random"]
PROMPT = "What is the capital of France?"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the built-in demo on an embedded model (offline, CPU, minutes)")
    p.add_argument("--model", default="embedded:smollm2-135m", help="model to demo (default embedded:smollm2-135m)")
    p.add_argument("--remove", type=int, default=2, help="layers each method removes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    base = load_model(args.model)
    tok = base.tokenizer
    calib = load_calibration("self", base.model, tok, samples=16, max_seq_len=96, batch_size=8, seed=args.seed)
    rows, _ = layer_rows(layer_similarity(base.model, calib.batches), args.remove, "shortgpt")
    print(f"\n{args.model}: per-layer scores on {calib.describe()['tokens']} self-generated calibration tokens")
    print(format_table(list(rows[0])[:4], [[r[k] for k in list(r)[:4]] for r in rows]))

    prompt = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                     return_tensors="pt", return_dict=True)
    summary = []
    for method in DEMO_METHODS:
        pruned = copy.copy(base)
        pruned.model = copy.deepcopy(base.model)
        spec = PruneSpec(model=args.model, method=method, remove=args.remove, seed=args.seed)
        result, record = prune_loaded(pruned, spec, calibration=calib)
        text, same = _greedy_check(pruned.model, tok, prompt)
        summary.append([method, str(result.removed), f"{param_count(pruned.model) / 1e6:.1f}M",
                        "yes" if same else "NO", text])
        del pruned
    print(f"\nRemoving {args.remove} layers with each method (greedy answer to {PROMPT!r}):")
    print(format_table(["method", "removed", "params", "cache==no-cache", "answer"], summary))
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f}s")
    return 0


@torch.no_grad()
def _greedy_check(model, tok, prompt, new_tokens: int = 24) -> tuple[str, bool]:
    """Greedy continuation with and without the KV cache; after correct surgery they agree."""
    kw = dict(max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    a = model.generate(**prompt, use_cache=True, **kw)
    b = model.generate(**prompt, use_cache=False, **kw)
    text = tok.decode(a[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True).strip().replace("\n", " ")
    return (text[:48] + "...") if len(text) > 48 else text, torch.equal(a, b)
