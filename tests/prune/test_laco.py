"""LaCo: the RDSC rule, the reference rule, and the fast similarity equal to a whole-model recomputation."""

import copy

import pytest
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
    from prunescale.errors import PrunescaleError

    model = tiny_model("llama")
    seqs = [[3, 4, 5, 6, 7, 8]]
    calib = Calibration("test", seqs, pad_batches(seqs, 1, pad_id=0))
    with pytest.raises(PrunescaleError, match="must be below 1"):   # refused before any model is looked at
        METHODS.get("laco")(threshold=1.01)
    with pytest.raises(PrunescaleError, match="lower the threshold"):
        METHODS.get("laco")(threshold=0.999999).apply(model, 1, calib)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PrunescaleError, match="only 1 of 3"):   # the first merge passes, the rest cannot
        METHODS.get("laco")(threshold=0.0, lowest=3).apply(model, 3, calib)
    assert model.config.num_hidden_layers == 6   # untouched, weights included
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


# --- the reference rule (issue 11): whole-sequence cosine, search from L-1-M, projection weights only -------

def test_sequence_cosine_differs_from_token_mean_by_hand():
    from prunescale.prune.laco import cosines

    # Row 0: both tokens point the same way (token cosines 1, 1) but the second is 10x longer in h, so the
    # flattened cosine is (1 + 10) / (sqrt(2) * sqrt(101)). Row 1: one real token, orthogonal (cosine 0),
    # then padding that must count for nothing.
    h = torch.tensor([[[1.0, 0.0], [0.0, 10.0]], [[0.0, 1.0], [9.0, 9.0]]])
    ref = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [5.0, -3.0]]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    s, c = cosines(h, ref, mask)
    assert c == 3 and abs(s / c - 2 / 3) < 1e-6                      # per token: (1 + 1 + 0) / 3
    s, c = cosines(h, ref, mask, sequence=True)
    assert c == 2 and abs(s / c - (11 / (2 ** 0.5 * 101 ** 0.5) + 0) / 2) < 1e-6   # per sequence: 0.387
    h[1, 1] = torch.tensor([-7.0, 3.0])                             # padding changes nothing
    assert abs(cosines(h, ref, mask, sequence=True)[0] - s) < 1e-6


def test_reference_search_starts_below_the_last_layer():
    from prunescale.errors import PrunescaleError

    seqs = [[(7 * i + j) % 120 + 3 for j in range(10)] for i in range(6)]
    calib = Calibration("test", seqs, pad_batches(seqs, 3, pad_id=0))
    accept_all = dict(threshold=-1.0, interval=2, rule="reference")
    # Their MERGE_LAYERS = 2 (one layer absorbed): first candidate 6 - 1 - 2 = 3, which absorbs 4, never 5.
    r = METHODS.get("laco")(merge_size=1, **accept_all).apply(tiny_model("qwen2"), 2, calib)
    assert [m["into"] for m in r.merges] == [3, 1] and r.removed == [2, 4] and r.details["first_candidate"] == 3
    r = METHODS.get("laco")(merge_size=2, **accept_all).apply(tiny_model("qwen2"), 2, calib)
    assert r.merges[0]["into"] == 2 and r.merges[0]["merged"] == [3, 4] and 5 in r.kept
    r = METHODS.get("laco")(merge_size=1, threshold=-1.0, interval=2).apply(tiny_model("qwen2"), 2, calib)
    assert [m["into"] for m in r.merges] == [4, 2]                   # rdsc starts at the last layer
    with pytest.raises(PrunescaleError, match="starts at layer .* = -1"):
        METHODS.get("laco")(merge_size=5, **accept_all).apply(tiny_model("qwen2"), 1, calib)


def _reference_merge(model, base, num):
    """The reference's merge, written out: a deep copy per candidate, each projection weight (not bias) of the
    base updated in place by (next layer - already updated base), then the merged layers deleted."""
    layers = adapter_for(model).layers(model)
    num = min(num, len(layers) - base - 1)
    cand = copy.deepcopy(model)
    cl = adapter_for(cand).layers(cand)
    names = [n for n, mod in cl[base].named_modules() if isinstance(mod, torch.nn.Linear)]
    for d in range(base + 1, base + 1 + num):
        for name in names:
            w = cl[base].get_submodule(name).weight.data
            w.add_(layers[d].get_submodule(name).weight.data - w)
    for d in range(base + num, base, -1):
        del cl[d]
        # Transformers 5 picks each layer's mask and rotary by position in config.layer_types (4.x used the
        # layer's own type): keep that list in step, or a deletion would hand later layers the wrong type.
        if getattr(cand.config, "layer_types", None):
            del cand.config.layer_types[d]
    return cand


def _reference_similarity(model1, model2, seqs, sequence=True):
    """One unpadded sentence at a time, hidden_states[-1]; the flattened cosine averaged over sentences (or,
    for contrast, prunescale's per-token cosine averaged over all tokens)."""
    per_sentence, per_token = [], []
    for s in seqs:
        ids = torch.tensor([s])
        with torch.no_grad():
            h1 = model1(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states[-1]
            h2 = model2(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states[-1]
        per_sentence.append(F.cosine_similarity(h1[0].flatten()[None], h2[0].flatten()[None]).item())
        per_token += F.cosine_similarity(h1[0], h2[0], dim=-1).tolist()
    values = per_sentence if sequence else per_token
    return sum(values) / len(values)


def _reference_loop(model, seqs, merge_layers, interval, threshold, sequence=True):
    """The reference's greedy loop (their MERGE_LAYERS = our merge_size + 1), run to the bottom."""
    total = len(adapter_for(model).layers(model))
    lay, current, cur, merges = total - 1 - merge_layers, copy.deepcopy(model), list(range(total)), []
    while lay >= 0:
        cand = _reference_merge(current, lay, merge_layers - 1)
        sim = _reference_similarity(model, cand, seqs, sequence)
        if sim > threshold:
            gone = len(cur) - len(adapter_for(cand).layers(cand))
            merges.append((cur[lay], cur[lay + 1:lay + 1 + gone], sim))
            del cur[lay + 1:lay + 1 + gone]
            current, lay = cand, lay - interval
            if lay >= len(cur):
                lay = len(cur) - 1 - merge_layers
        else:
            lay -= 1
    return merges, current


def _scrambled(family):
    """A tiny model with non-zero biases and uneven norm weights, so token norms differ (equal norms would make
    the flattened cosine equal the token mean) and merging biases would show."""
    model = tiny_model(family)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif "norm" in name:
                p.copy_(torch.rand(p.shape, generator=gen) * 2.8 + 0.2)
    return model


def test_reference_rule_equals_the_reference_loop():
    gen = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 128, (n,), generator=gen).tolist() for n in (5, 9, 3, 12, 6)]
    calib = Calibration("test", seqs, pad_batches(seqs, 3, pad_id=0))   # padded batches, masked
    checked = 0
    for family in ("llama", "qwen2", "gemma3_text"):
        model = _scrambled(family)
        for merge_layers, interval, threshold in ((2, 1, 0.2), (2, 2, 0.0), (3, 1, 0.0), (4, 1, -1.0)):
            want, final = _reference_loop(model, seqs, merge_layers, interval, threshold)
            n = sum(len(m[1]) for m in want)
            ours = copy.deepcopy(model)
            got = METHODS.get("laco")(threshold=threshold, merge_size=merge_layers - 1, interval=interval,
                                      rule="reference").apply(ours, n, calib)
            assert [(m["into"], m["merged"]) for m in got.merges] == [m[:2] for m in want], family
            assert all(abs(g["similarity"] - w[2]) < 1e-5 for g, w in zip(got.merges, want))
            final_sd = final.state_dict()
            assert all(torch.equal(v, final_sd[k]) for k, v in ours.state_dict().items()), family
            checked += 1
    # (3, 1) and (4, 1) include a later merge that absorbs the last layer, as the reference does.
    assert checked == 12


def test_reference_rule_near_the_threshold_on_the_organism():
    from prunescale.models.loading import load_model
    from prunescale.prune.calibration import load_calibration

    loaded = load_model("embedded:organism")
    model = loaded.model
    calib = load_calibration("organism", model, loaded.tokenizer, samples=8, batch_size=4)
    seqs = calib.sequences
    first = _reference_merge(model, model.config.num_hidden_layers - 1 - 2, 1)   # their first candidate
    seq_sim, tok_sim = (_reference_similarity(model, first, seqs, s) for s in (True, False))
    assert abs(seq_sim - tok_sim) > 1e-4
    near = (seq_sim + tok_sim) / 2                # one measure accepts the first candidate, the other does not
    assert _reference_loop(model, seqs, 2, 2, near)[0] != _reference_loop(model, seqs, 2, 2, near, False)[0]
    # a threshold the reference's (sequence) measure just passes on its first candidate: `near` when that measure
    # is the higher one, else just under it (then the token measure would accept it too)
    accept = near if seq_sim > tok_sim else seq_sim - 1e-6
    for threshold in (accept, 0.7):
        want = [m[:2] for m in _reference_loop(model, seqs, 2, 2, threshold)[0]]
        total = sum(len(m[1]) for m in want)
        assert total >= (1 if threshold == accept else 2)
        for n in sorted({total, 1}):              # all of the reference's merges, and its first only
            got = METHODS.get("laco")(threshold=threshold, merge_size=1, interval=2, rule="reference",
                                      samples=8).apply(copy.deepcopy(model), n, calib)
            assert [(m["into"], m["merged"]) for m in got.merges] == want[:n]
            assert abs(got.merges[0]["similarity"] - seq_sim) < 1e-5
