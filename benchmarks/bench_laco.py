"""LaCo on embedded SmolLM2: our cached partial re-run against copy-the-whole-model-per-candidate.

The baseline is the public reference's approach: for each candidate, deep-copy the current model, merge, and
run every layer of both the original and the merged model. Both use the same similarity and acceptance rule;
the script checks they accept the same merges, then prints the wall-time ratio.
Run: .venv/bin/python benchmarks/bench_laco.py
"""

import copy
import time

import torch
import torch.nn.functional as F

from prunescale.models.loading import load_model
from prunescale.models.surgery import adapter_for, keep_layers, merge_rdsc
from prunescale.prune import METHODS
from prunescale.prune.calibration import Calibration, pad_batches

SENTENCES = [
    "The cat sat quietly on the warm windowsill.", "Rivers carry sediment from mountains to the sea.",
    "A prime number has exactly two positive divisors.", "The committee postponed its decision until spring.",
    "Light travels faster than sound through air.", "She solved the equation by completing the square.",
    "Old maps often exaggerate the size of islands.", "Bread rises because yeast produces carbon dioxide.",
]
REMOVE, THRESHOLD = 3, 0.75


def naive_laco(model, batches, n, threshold, interval=2, merge_size=1):
    ad = adapter_for(model)
    names = ad.merge_targets(ad.layers(model)[0])
    cur_model, cur = copy.deepcopy(model), list(range(len(ad.layers(model))))
    merges, removed, l = [], 0, len(cur) - 1 - merge_size
    while l >= 0 and removed < n:
        m = min(merge_size, n - removed)
        cand = copy.deepcopy(cur_model)   # the whole model, per candidate
        layers = ad.layers(cand)
        merge_rdsc(layers[l], list(layers[l + 1:l + 1 + m]), names)
        keep_layers(cand, [i for i in range(len(layers)) if not l < i <= l + m])
        total = count = 0.0
        with torch.no_grad():
            for b in batches:   # re-runs every layer of both models
                h1 = model.base_model(**b, use_cache=False).last_hidden_state
                h2 = cand.base_model(**b, use_cache=False).last_hidden_state
                cos = F.cosine_similarity(h1, h2, dim=-1)
                total += float((cos * b["attention_mask"]).sum())
                count += float(b["attention_mask"].sum())
        if total / count > threshold:
            merges.append({"into": cur[l], "merged": cur[l + 1:l + 1 + m]})
            del cur[l + 1:l + 1 + m]
            cur_model, removed, l = cand, removed + m, l - interval
        else:
            l -= 1
    return merges


def main():
    loaded = load_model("embedded:smollm2-135m")
    tok = loaded.tokenizer
    seqs = [tok(s)["input_ids"] for s in SENTENCES]
    calib = Calibration("bench", seqs, pad_batches(seqs, 8, tok.pad_token_id))

    t = time.perf_counter()
    baseline = naive_laco(loaded.model, calib.batches, REMOVE, THRESHOLD)
    t_naive = time.perf_counter() - t

    ours_model = copy.deepcopy(loaded.model)
    t = time.perf_counter()
    result = METHODS.get("laco")(threshold=THRESHOLD).apply(ours_model, REMOVE, calib)
    t_ours = time.perf_counter() - t

    ours = [{"into": m["into"], "merged": m["merged"]} for m in result.merges]
    assert ours == baseline, (ours, baseline)
    print(f"laco (remove {REMOVE}, threshold {THRESHOLD}): {result.details['candidates_tried']} candidates, "
          f"accepted merges {ours}")
    print(f"laco: copy-whole-model {t_naive:.2f}s, ours {t_ours:.2f}s, ratio {t_naive / t_ours:.1f}x")


if __name__ == "__main__":
    main()
