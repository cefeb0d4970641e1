"""Wanda and SparseGPT on SmolLM2-135M at sparsity 0.5: pruning time and peak memory.

Calibration: 8 MATH-500 texts of 128 tokens (the shared data). Each method prunes a fresh copy of the model;
peak RSS above the level before pruning is sampled while it runs. The model's own measured sparsity is
printed so the two runs are seen to do the same amount of work. Run with OMP_NUM_THREADS=1:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_unstructured.py
"""

import copy
import json
from pathlib import Path

import torch

from _util import peak_rss_during
from prunescale.models.loading import load_model
from prunescale.prune import METHODS
from prunescale.prune.calibration import Calibration, pad_batches
from prunescale.prune.sparsity import SparsityRequest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math500.jsonl"
SAMPLES, SEQ_LEN, BATCH, SPARSITY = 8, 128, 4, 0.5


def main():
    loaded = load_model("embedded:smollm2-135m")
    tok = loaded.tokenizer
    texts = [json.loads(line)["problem"] + " " + json.loads(line)["solution"] for line in DATA.open()][:SAMPLES]
    seqs = [tok(t, truncation=True, max_length=SEQ_LEN)["input_ids"] for t in texts]
    calib = Calibration("math500", seqs, pad_batches(seqs, BATCH, tok.pad_token_id))
    print(f"SmolLM2-135M, {len(seqs)} calibration texts / {sum(map(len, seqs))} tokens, sparsity {SPARSITY}, "
          f"torch threads {torch.get_num_threads()}")
    for name in ("wanda", "sparsegpt"):
        model = copy.deepcopy(loaded.model)
        result, peak, secs = peak_rss_during(METHODS.get(name)().sparsify, model, SparsityRequest(SPARSITY), calib)
        print(f"{name:10s} {secs:7.1f} s   peak RSS +{peak:6.0f} MiB   measured sparsity "
              f"{result.details['measured_sparsity']:.4f}")
        del model


if __name__ == "__main__":
    main()
