"""Layer statistics from hooks: correct values, padding masked, the last layer scored."""

import math

import torch
import torch.nn.functional as F

from prunescale.prune.calibration import pad_batches
from prunescale.prune.scoring import layer_similarity

from ..models.tiny import tiny_model


def _manual(model, seq):
    """Reference: per-layer input/output from output_hidden_states for one unpadded sequence."""
    ids = torch.tensor([seq])
    with torch.no_grad():
        hs = model.base_model(input_ids=ids, output_hidden_states=True).hidden_states
    return hs


def test_block_influence_matches_hidden_states_and_ignores_padding():
    model = tiny_model("llama")
    seqs = [[5, 9, 17, 33, 40, 41, 7, 8, 99, 100], [3, 4, 5], [60, 61, 62, 63, 64, 65]]
    stats = layer_similarity(model, pad_batches(seqs, 3, pad_id=0))
    # Expected: token-weighted mean cosine between consecutive hidden states (all but the last layer,
    # whose output in hidden_states is after the final norm), each sequence run alone (no padding at all).
    n_layers = model.config.num_hidden_layers
    sums, count = torch.zeros(n_layers - 1, dtype=torch.float64), 0
    for s in seqs:
        hs = _manual(model, s)
        for i in range(n_layers - 1):
            sums[i] += F.cosine_similarity(hs[i][0].double(), hs[i + 1][0].double(), dim=-1).sum()
        count += len(s)
    expected = (sums / count).tolist()
    assert stats["tokens"] == count
    for i in range(n_layers - 1):
        assert math.isclose(stats["cos"][i], expected[i], rel_tol=1e-5), i
    # The last layer is scored too, from its own output (not the final-normed state).
    assert len(stats["cos"]) == n_layers and 0 < stats["cos"][-1] <= 1


def test_angular_distances_use_last_real_token():
    model = tiny_model("qwen3")
    seqs = [[5, 9, 17, 33, 40, 41], [3, 4, 5]]
    stats = layer_similarity(model, pad_batches(seqs, 2, pad_id=0))
    hs = [_manual(model, s) for s in seqs]
    # Block of 2 layers starting at layer 1: input of layer 1 vs output of layer 2 (= input of layer 3).
    exp = sum(math.acos(max(-1.0, min(1.0, F.cosine_similarity(h[1][0, -1], h[3][0, -1], dim=0).item())))
              / math.pi for h in hs) / 2
    assert math.isclose(stats["angular"][1][1], exp, rel_tol=1e-4)


def test_batch_size_does_not_change_scores():
    model = tiny_model("gemma2")
    seqs = [[i % 120 + 3 for i in range(k, k + 5 + k % 7)] for k in range(12)]
    a = layer_similarity(model, pad_batches(seqs, 1, pad_id=0))
    b = layer_similarity(model, pad_batches(seqs, 5, pad_id=0))
    assert a["tokens"] == b["tokens"]
    for x, y in zip(a["cos"], b["cos"]):
        assert math.isclose(x, y, rel_tol=1e-5)
