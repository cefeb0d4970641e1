"""Leave-one-out perplexity on embedded SmolLM2: our depth surgery on the same model against rebuild-per-candidate.

Baselines, as the public reference scores a candidate: a new model per candidate with the layer gone, either a
deep copy with the layer deleted ("deepcopy"), or, as its ``prune_ppl`` does, a model built from the config
with one layer fewer and every kept weight loaded into it ("from_config"). All three score with the same
perplexity function on the same calibration text; the script asserts they choose the same layers (and the
same perplexities) before printing wall time, peak memory above the loaded model, and the ratios. Ours scores
from cached layer inputs; "whole forward per candidate" is ours before issue 23 (the same surgery, a forward of
the whole model per candidate), timed in the same run and asserted to choose the same layers.
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ppl.py [--samples 8] [--max-seq-len 64] [--remove 2]
     [--method chain]   (chain: its default calibration, the model's own traces; ours vs whole forward only)
"""

import argparse
import copy
import gc
import math
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from prunescale.models.loading import load_model
from prunescale.prune import METHODS
from prunescale.prune.calibration import load_calibration
from prunescale.prune.ppl import perplexity

sys.path.insert(0, str(Path(__file__).parent))
from _util import peak_rss_during  # noqa: E402


def rebuilt_deepcopy(model, drop):
    m = copy.deepcopy(model)
    del m.model.layers[drop]
    m.config.num_hidden_layers = len(m.model.layers)
    return m


def rebuilt_from_config(model, drop):
    cfg = copy.deepcopy(model.config)
    cfg.num_hidden_layers -= 1
    m = AutoModelForCausalLM.from_config(cfg, dtype=model.dtype).eval()
    m.model.embed_tokens.load_state_dict(model.model.embed_tokens.state_dict())
    m.model.norm.load_state_dict(model.model.norm.state_dict())
    m.lm_head.load_state_dict(model.lm_head.state_dict())
    kept = [i for i in range(len(model.model.layers)) if i != drop]
    for new, old in enumerate(kept):
        m.model.layers[new].load_state_dict(model.model.layers[old].state_dict())
    return m


def rebuild_per_candidate(model, batches, n, rebuild):
    scores = []
    for i in range(len(model.model.layers)):
        m = rebuild(model, i)
        scores.append(perplexity(m, batches))
        del m
        gc.collect()
    return scores, sorted(sorted(range(len(scores)), key=lambda i: (scores[i], i))[:n])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-seq-len", type=int, default=64)
    ap.add_argument("--remove", type=int, default=2)
    ap.add_argument("--cached-only", action="store_true", help="only ours against whole forward per candidate")
    ap.add_argument("--method", choices=("ppl", "chain"), default="ppl",
                    help="chain: its default calibration (the model's own traces), ours against whole forward only")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    loaded = load_model("embedded:smollm2-135m")
    cls = METHODS.get(args.method)
    calib = load_calibration("self" if args.method == "ppl" else cls.default_calibration, loaded.model,
                             loaded.tokenizer, samples=args.samples, max_seq_len=args.max_seq_len, batch_size=8, seed=0)
    print(f"smollm2-135m, 30 layers, {args.method}, calibration {calib.describe()}")
    plan, mb_ours, t_ours = peak_rss_during(cls().plan, loaded.model, args.remove, calib)
    rows = [("ours (cached layer inputs)", t_ours, mb_ours)]
    whole = cls()
    whole._cached = False
    old, mb, secs = peak_rss_during(whole.plan, loaded.model, args.remove, calib)
    assert old.removed == plan.removed, (old.removed, plan.removed)
    worst = max(abs(a - b) / abs(b) for a, b in zip(plan.scores, old.scores) if b)
    assert worst < 1e-4, worst
    rows.append(("whole forward per candidate (same surgery)", secs, mb))
    rebuilds = (("deepcopy", rebuilt_deepcopy), ("from_config", rebuilt_from_config))
    skip_rebuilds = args.cached_only or args.method == "chain"   # no rebuild-per-candidate reference for chain
    for name, rebuild in rebuilds[:0 if skip_rebuilds else 2]:
        (scores, removed), mb, secs = peak_rss_during(rebuild_per_candidate, loaded.model, calib.batches,
                                                      args.remove, rebuild)
        assert removed == plan.removed, (name, removed, plan.removed)
        assert all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(scores, plan.scores)), name
        rows.append((f"rebuild per candidate: {name}", secs, mb))
    print(f"largest relative score difference, cached vs whole forward: {worst:.1e}")
    alone = ", ".join(f"{plan.scores[i]:.2f}" for i in plan.removed)
    base = f"base ppl {plan.details['base_ppl']:.2f}; " if "base_ppl" in plan.details else ""
    print(f"all choose {plan.removed} ({base}without each alone: {alone})")
    for name, secs, mb in rows:
        print(f"  {name:44s} {secs:7.2f}s  peak +{mb:6.0f} MiB  {secs / t_ours:5.1f}x ours")


if __name__ == "__main__":
    main()
