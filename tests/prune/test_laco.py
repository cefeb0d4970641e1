"""LaCo: the RDSC rule, the reference rule, and the fast similarity equal to a whole-model recomputation."""

import copy

import torch
import torch.nn.functional as F

from prunescale.models.surgery import adapter_for, keep_layers, merge_rdsc
from prunescale.prune import METHODS
from prunescale.prune.calibration import Calibration, pad_batches
from prunescale.prune.laco import capture, similarity

from ..models.tiny import tiny_model


def test_rdsc_rule_and_reference_rule():
    model = tiny_model("llama")
    layers = adapter_for(model).layers(model)
    names = adapter_for(model).merge_targets(layers[0])
    assert "self_attn.q_proj.weight" in names and "mlp.down_proj.weight" in names
    assert not any("norm" in n for n in names)
    w = [dict(layers[i].named_parameters())["mlp.up_proj.weight"].detach().clone() for i in range(3)]

    rdsc = copy.deepcopy(layers[0])
    merge_rdsc(rdsc, [layers[1], layers[2]], names, "rdsc")
    assert torch.allclose(dict(rdsc.named_parameters())["mlp.up_proj.weight"], w[0] + (w[1] - w[0]) + (w[2] - w[0]))

    ref = copy.deepcopy(layers[0])
    merge_rdsc(ref, [layers[1], layers[2]], names, "reference")
    # The in-place update subtracts the updated base: only the last merged layer survives.
    assert torch.allclose(dict(ref.named_parameters())["mlp.up_proj.weight"], w[2])


def _naive_similarity(original, merged_model, batches):
    """What the reference does: run both whole models; mean token cosine of the final-normed states."""
    total, count = 0.0, 0.0
    for b in batches:
        with torch.no_grad():
            h1 = original.base_model(**b).last_hidden_state
            h2 = merged_model.base_model(**b).last_hidden_state
        cos = F.cosine_similarity(h1, h2, dim=-1)
        total += float((cos * b["attention_mask"]).sum())
        count += float(b["attention_mask"].sum())
    return total / count


def test_fast_similarity_equals_whole_model_rerun():
    for family in ("llama", "gemma3_text"):
        model = tiny_model(family)
        batches = pad_batches([[5, 9, 17, 33, 40, 41, 50], [3, 4, 5, 6]], 2, pad_id=0)
        cache = capture(model, batches)
        ad = adapter_for(model)
        layers = list(ad.layers(model))
        names = ad.merge_targets(layers[0])
        l, m = 2, 2
        merged = copy.deepcopy(layers[l])
        merge_rdsc(merged, layers[l + 1:l + 1 + m], names)
        fast = similarity(cache, ad.final_norm(model), [merged] + layers[l + 1 + m:], [l, 5], l)

        naive = copy.deepcopy(model)
        nl = ad.layers(naive)
        merge_rdsc(nl[l], list(nl[l + 1:l + 1 + m]), names)
        keep_layers(naive, [0, 1, 2, 5])
        assert abs(fast - _naive_similarity(model, naive, batches)) < 1e-5, family


def test_laco_method_merges_top_down_and_stops_at_n():
    model = tiny_model("qwen2")
    seqs = [[(7 * i + j) % 120 + 3 for j in range(10)] for i in range(6)]
    calib = Calibration("test", seqs, pad_batches(seqs, 3, pad_id=0))
    method = METHODS.get("laco")(threshold=-1.0, merge_size=1, interval=2)   # accept every merge
    result = method.apply(model, 2, calib)
    assert [m["into"] for m in result.merges] == [4, 2]   # highest - 1, then down by the interval
    assert result.removed == [3, 5] and model.config.num_hidden_layers == 4


def test_laco_threshold_too_high_is_a_clear_error():
    import pytest

    from prunescale.errors import PrunescaleError

    model = tiny_model("llama")
    seqs = [[3, 4, 5, 6, 7, 8]]
    calib = Calibration("test", seqs, pad_batches(seqs, 1, pad_id=0))
    with pytest.raises(PrunescaleError, match="lower the threshold"):
        METHODS.get("laco")(threshold=1.01).apply(model, 1, calib)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PrunescaleError, match="only 1 of 3"):   # the first merge passes, the rest cannot
        METHODS.get("laco")(threshold=0.0, lowest=3).apply(model, 3, calib)
    assert model.config.num_hidden_layers == 6   # untouched, weights included
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
