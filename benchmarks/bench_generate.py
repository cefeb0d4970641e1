"""Budget-forced generation on SmolLM2 pruned by 2 layers: our hf backend against two baselines.

(a) no KV cache, what the public reference code falls back to after pruning (every step re-runs the prefix);
(b) re-encoding the whole prefix at every forcing segment (generate a segment with transformers' generate,
    append "Wait" / the end of thinking as text, and start again from the full text).
Workload: 2 problems, budgets 256 and 1024 thinking tokens, 2 Waits, greedy. The end of the model's turn
(<|im_end|>) serves as its end of thinking (SmolLM2 has no thinking mode), so the Waits really happen.
Run: .venv/bin/python benchmarks/bench_generate.py [--budgets 64,256]
"""

import argparse
from dataclasses import replace

import torch

from _util import peak_rss_during
from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling
from prunescale.models.loading import load_model
from prunescale.prune.run import PruneSpec, prune_loaded

PROMPTS = ["Explain why the sky is blue.", "Write a short story about a robot learning to paint."]
WAITS, ANSWER = 2, 32


def reencode_baseline(model, tok, profile, prompt_text, budget):
    """Segment by segment with transformers' generate; every new segment re-encodes everything so far."""
    end_id = tok.convert_tokens_to_ids(profile.think_end)
    ids = tok(prompt_text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    used, waits, tokens = 0, 0, 0
    while True:
        out = model.generate(ids, max_new_tokens=budget - used, do_sample=False, eos_token_id=end_id,
                             pad_token_id=tok.pad_token_id)
        new = out[0, ids.shape[1]:]
        ended = len(new) > 0 and int(new[-1]) == end_id
        used += len(new) - int(ended)
        tokens += len(new)
        ids = out[:, :-1] if ended else out
        if ended and waits < WAITS and used < budget:
            waits += 1
            ids = torch.cat([ids, tok(profile.wait, return_tensors="pt", add_special_tokens=False)["input_ids"]], 1)
            continue
        suffix = profile.think_end + (profile.force_suffix if not ended else "")
        ids = torch.cat([ids, tok(suffix, return_tensors="pt", add_special_tokens=False)["input_ids"]], 1)
        out = model.generate(ids, max_new_tokens=ANSWER, do_sample=False, pad_token_id=tok.pad_token_id)
        return tokens + out.shape[1] - ids.shape[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", default="256,1024")
    budgets = [int(b) for b in ap.parse_args().budgets.split(",")]
    loaded = load_model("embedded:smollm2-135m")
    prune_loaded(loaded, PruneSpec(model="embedded:smollm2-135m", method="reverse", remove=2))
    model, tok = loaded.model, loaded.tokenizer
    profile = replace(PROFILES["generic"], name="turn-end", think_end="<|im_end|>", wait="\nWait")
    greedy = Sampling(temperature=0)

    def ours(use_cache):
        be = BACKENDS.get("hf")(model, tok, profile, use_cache=use_cache)
        n = 0
        for b in budgets:
            for s in be.generate([Request(p, i) for i, p in enumerate(PROMPTS)],
                                 Forcing(budget=b, waits=WAITS, answer_tokens=ANSWER), greedy):
                n += s.thinking_tokens + s.answer_tokens + s.waits
        return n

    def reencode():
        be = BACKENDS.get("hf")(model, tok, profile)
        return sum(reencode_baseline(model, tok, profile, be.render(p), b) for b in budgets for p in PROMPTS)

    # Warm-up so one-time allocations and kernel setup do not land on the first contender.
    BACKENDS.get("hf")(model, tok, profile).generate([Request(PROMPTS[0], 0)], Forcing(budget=8), greedy)
    reencode_baseline(model, tok, profile, BACKENDS.get("hf")(model, tok, profile).render(PROMPTS[0]), 8)
    results = {}
    for name, fn in [("ours (kv cache kept)", lambda: ours(True)), ("re-encode per segment", reencode),
                     ("no kv cache", lambda: ours(False))]:
        tokens, rss, secs = peak_rss_during(fn)
        results[name] = tokens / secs
        print(f"{name:24s} {tokens:6d} tokens in {secs:7.1f}s = {tokens / secs:7.1f} tok/s, peak RSS +{rss:.0f} MiB")
    mine = results["ours (kv cache kept)"]
    print(f"generate: ours vs no-cache {mine / results['no kv cache']:.1f}x, "
          f"ours vs re-encode {mine / results['re-encode per segment']:.2f}x")


if __name__ == "__main__":
    main()
