"""ShortGPT scoring memory: flat as the calibration set grows 8x (streaming sums over hooks).

For contrast, the reference approach keeps every batch's hidden states (output_hidden_states) until the end.
Peak RSS above the pre-scoring level is sampled while each runs.
Run: .venv/bin/python benchmarks/bench_shortgpt_memory.py
"""

import json
from pathlib import Path

import torch

from _util import peak_rss_during
from prunescale.models.loading import load_model
from prunescale.prune.calibration import pad_batches
from prunescale.prune.scoring import layer_similarity

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math500.jsonl"
SEQ_LEN, BATCH = 128, 8


def keep_all_hidden_states(model, batches):
    kept = []
    with torch.no_grad():
        for b in batches:
            kept.append(model.base_model(**b, output_hidden_states=True, use_cache=False).hidden_states)
    return len(kept)


def main():
    loaded = load_model("embedded:smollm2-135m")
    tok = loaded.tokenizer
    texts = [json.loads(line)["problem"] + " " + json.loads(line)["solution"] for line in DATA.open()]
    seqs = [tok(t, truncation=True, max_length=SEQ_LEN)["input_ids"] for t in texts[:128]]
    # Warm up allocator and kernels so the first measurement does not carry one-time costs.
    layer_similarity(loaded.model, pad_batches(seqs[:BATCH], BATCH, tok.pad_token_id), desc="warm-up")
    keep_all_hidden_states(loaded.model, pad_batches(seqs[:BATCH], BATCH, tok.pad_token_id))
    rows = []
    for n in (16, 128):
        batches = pad_batches(seqs[:n], BATCH, tok.pad_token_id)
        _, ours, t_ours = peak_rss_during(layer_similarity, loaded.model, batches, desc=f"scoring {n}")
        _, ref, t_ref = peak_rss_during(keep_all_hidden_states, loaded.model, batches)
        rows.append((n, ours, ref))
        print(f"shortgpt scoring, {n:4d} samples: ours peak +{ours:7.1f} MiB ({t_ours:.1f}s), "
              f"keep-all-hidden-states +{ref:7.1f} MiB ({t_ref:.1f}s)")
    (n1, o1, r1), (n2, o2, r2) = rows
    print(f"shortgpt memory, calibration x{n2 // n1}: ours {o2 / max(o1, 1e-9):.2f}x, "
          f"keep-all {r2 / max(r1, 1e-9):.2f}x")


if __name__ == "__main__":
    main()
