"""The study's other layer-importance rules (magnitude, taylor, ppl) against hand-computed tiny examples."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.prune import METHODS
from prunescale.prune.calibration import Calibration, pad_batches
from prunescale.study.spec import parse_study
from tests.models.tiny import tiny_model

# q, k, v, o, gate, up, down (rows x width) and the two norm vectors of a tiny llama layer (hidden 64, kv 32).
SHAPES = [(64, 64), (32, 64), (32, 64), (64, 64), (128, 64), (128, 64), (64, 128), (64, 1), (64, 1)]


def _constant_layers(model, values):
    with torch.no_grad():
        for layer, a in zip(model.model.layers, values):
            for p in layer.parameters():
                p.fill_(a)


def _calibration(seqs, batch_size):
    return Calibration(spec="test", sequences=seqs, batches=pad_batches(seqs, batch_size, 0))


def _hand_magnitude(a, p, reduction):
    """Layer of constant weights a: a row of width w has value w * |a|^p; every tensor, then the layer, reduced."""
    per = []
    for rows, width in SHAPES:
        r = width * abs(a) ** p
        per.append({"sum": rows * r, "mean": r, "max": r, "prod": rows * math.log(r)}[reduction])
    return {"sum": sum(per), "mean": sum(per) / len(per), "max": max(per), "prod": sum(per)}[reduction]


@pytest.mark.parametrize("norm,p", [("l1", 1), ("l2", 2)])
@pytest.mark.parametrize("reduction", ["sum", "mean", "max", "prod"])
def test_magnitude_equals_formula_and_removes_the_smallest(norm, p, reduction):
    model = tiny_model("llama")
    values = [0.375, -0.125, 0.5, 0.25, -0.0625, 0.4375]   # exact in float32
    _constant_layers(model, values)
    plan = METHODS.get("magnitude")(norm=norm, reduction=reduction).plan(model, 2)
    assert plan.scores == pytest.approx([_hand_magnitude(a, p, reduction) for a in values], rel=1e-12)
    assert plan.removed == [1, 4] and plan.score_name == "weight_magnitude"   # |a| = 0.125 and 0.0625: lowest


def test_magnitude_prod_does_not_overflow():
    # Rows of 64 weights of 1.5 (L1 row value 96): a float product of 64 such rows (96^64 ~ 1e127) is inf in
    # float32, as the reference computes it, so every layer would tie; sums of logs keep the order.
    model = tiny_model("llama")
    values = [1.5, 1.25, 2.0, 1.125, 1.375, 1.75]
    _constant_layers(model, values)
    q = model.model.layers[0].self_attn.q_proj.weight
    assert torch.prod(q.abs().sum(1)).item() == math.inf
    plan = METHODS.get("magnitude")(reduction="prod").plan(model, 2)
    assert all(math.isfinite(s) for s in plan.scores)
    assert plan.scores == pytest.approx([_hand_magnitude(a, 1, "prod") for a in values], rel=1e-12)
    assert plan.removed == [1, 3]


def _hand_taylor(model, seqs, reduction):
    """|w * dL/dw| per layer from one autograd call on one batch holding every sequence (HF's own loss)."""
    batch = pad_batches(seqs, len(seqs), 0)[0]
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    loss = model(**batch, labels=labels).loss
    layers = list(model.model.layers)
    weights = [[w for n, w in layer.named_parameters() if n.endswith("weight")] for layer in layers]
    grads = torch.autograd.grad(loss, [w for ws in weights for w in ws])
    scores, k = [], 0
    for ws in weights:
        per = []
        for w in ws:
            s = (w.detach() * grads[k]).double().abs()
            k += 1
            rows = s.sum(1) if s.dim() == 2 else s
            per.append({"sum": rows.sum(), "max": rows.max(), "prod": rows.log().sum()}[reduction].item())
        scores.append({"sum": sum(per), "max": max(per), "prod": sum(per)}[reduction])
    return scores


@pytest.mark.parametrize("reduction", ["sum", "max", "prod"])
def test_taylor_equals_autograd_on_one_batch(reduction):
    model = tiny_model("llama", seed=1)
    gen = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 128, (n,), generator=gen).tolist() for n in (12, 7, 9, 5, 11)]
    expected = _hand_taylor(model, seqs, reduction)
    # our scores stream batches of 2 (padding masked): the same numbers as one batch of everything
    plan = METHODS.get("taylor")(reduction=reduction).plan(model, 2, _calibration(seqs, 2))
    assert plan.scores == pytest.approx(expected, rel=1e-4)
    assert plan.removed == sorted(sorted(range(6), key=lambda i: expected[i])[:2])
    assert all(p.grad is None and p.requires_grad for p in model.parameters())   # nothing left behind


def _reference_ppl(model, seqs):
    batch = pad_batches(seqs, len(seqs), 0)[0]
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        return math.exp(model(**batch, labels=labels, use_cache=False).loss.item())


def _reference_choice(model, seqs, n, iterative):
    """The straightforward way: a deep copy of the model per candidate, the layer deleted from the copy."""
    def without(removed):
        m = copy.deepcopy(model)
        for i in sorted(removed, reverse=True):
            del m.model.layers[i]
        m.config.num_hidden_layers = len(m.model.layers)
        return _reference_ppl(m, seqs)

    total = len(model.model.layers)
    first = [without([i]) for i in range(total)]
    if not iterative:
        return first, sorted(sorted(range(total), key=lambda i: (first[i], i))[:n])
    removed = []
    for _ in range(n):
        ppl = {i: without(removed + [i]) for i in range(total) if i not in removed}
        removed.append(min(ppl, key=lambda i: (ppl[i], i)))
    return first, sorted(removed)


@pytest.mark.parametrize("iterative", [False, True])
def test_ppl_leave_one_out_equals_deep_copy_loop(iterative):
    model = tiny_model("llama", seed=2)
    gen = torch.Generator().manual_seed(1)
    seqs = [torch.randint(3, 128, (n,), generator=gen).tolist() for n in (10, 6, 9)]
    before = [layer.self_attn.layer_idx for layer in model.model.layers], model.config.num_hidden_layers
    out_before = model(input_ids=torch.tensor([seqs[0]])).logits
    scores, removed = _reference_choice(model, seqs, 2, iterative)
    plan = METHODS.get("ppl")(iterative=iterative).plan(model, 2, _calibration(seqs, len(seqs)))
    assert plan.scores == pytest.approx(scores, rel=1e-5) and plan.removed == removed
    assert plan.details["base_ppl"] == pytest.approx(_reference_ppl(model, seqs), rel=1e-5)
    # the model is left exactly as it was: same layers, numbering, config and outputs
    assert ([layer.self_attn.layer_idx for layer in model.model.layers], model.config.num_hidden_layers) == before
    assert torch.equal(model(input_ids=torch.tensor([seqs[0]])).logits, out_before)


class _Raise(nn.Module):
    """Lifts the hidden state's component along u to at least t: once or twice is the same."""

    def __init__(self, u, t):
        super().__init__()
        self.u, self.t = u, t

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states + torch.relu(self.t - hidden_states @ self.u)[..., None] * self.u


class _Nudge(nn.Module):
    def __init__(self, u, eps):
        super().__init__()
        self.u, self.eps = u, eps

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states + self.eps * self.u


def test_ppl_iterative_differs_from_one_shot_on_redundant_layers():
    # Layers 0 and 1 do the same idempotent job, so removing either alone costs nothing (their one-shot scores
    # equal the base perplexity, the lowest) but removing both loses it. One shot removes both; iterative
    # removes one, sees the other is now needed, and takes the cheapest nudge (layer 2) instead.
    model = tiny_model("llama", seed=3)
    u = torch.zeros(64)
    u[0] = 1.0
    model.model.layers = nn.ModuleList([_Raise(u, 2.0), _Raise(u, 2.0)]
                                       + [_Nudge(u, e) for e in (0.05, 0.1, 0.15, 0.2)])
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(50)[:, 0] = 0     # inputs of norm ~8 with no component along u
        model.lm_head.weight[7] = u      # token 7 is likelier the more the final state points along u
    seqs = [[7] * 12, [7] * 9]
    calib = _calibration(seqs, 2)
    one = METHODS.get("ppl")().plan(model, 2, calib)
    it = METHODS.get("ppl")(iterative=True).plan(model, 2, calib)
    base = one.details["base_ppl"]
    assert one.scores[0] == one.scores[1] == base and min(one.scores[2:]) > base
    assert one.removed == [0, 1] and it.removed == [0, 2]
    assert [r["removed"] for r in it.details["rounds"]] == [0, 2]
    assert it.details["rounds"][-1]["ppl"] < _reference_choice_ppl(model, seqs, [0, 1])
    assert (one.removed, it.removed) == (_reference_choice(model, seqs, 2, False)[1],
                                         _reference_choice(model, seqs, 2, True)[1])


def _reference_choice_ppl(model, seqs, removed):
    m = copy.deepcopy(model)
    for i in sorted(removed, reverse=True):
        del m.model.layers[i]
    m.config.num_hidden_layers = len(m.model.layers)
    return _reference_ppl(m, seqs)


def test_bad_option_values_are_named():
    with pytest.raises(PrunescaleError, match="--magnitude-norm 'l3' is not one of: l1, l2"):
        METHODS.get("magnitude")(norm="l3")
    with pytest.raises(PrunescaleError, match="taylor option reduction 'median' is not one of"):
        parse_study({"name": "x", "models": ["embedded:organism"], "methods": ["taylor"],
                     "prune": {"options": {"taylor": {"reduction": "median"}}}, "tasks": ["organism-facts"]})


def test_layers_cli_prints_taylor_scores_and_choice(capsys):
    args = ["layers", "--model", "embedded:organism", "--method", "taylor", "--remove", "2", "--calibration",
            "organism", "--calibration-samples", "8"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "taylor_salience" in out and "taylor would remove [" in out
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    scores = [row["taylor_salience"] for row in data["layers"]]
    assert len(scores) == 8 and data["removed"] == sorted(sorted(range(8), key=scores.__getitem__)[:2])


@pytest.mark.parametrize("method,flags,column", [("magnitude", ["--magnitude-norm", "l2", "--magnitude-reduction",
                                                                "prod"], "weight_magnitude"),
                                                 ("ppl", ["--ppl-iterative", "true"], "ppl_without_layer")])
def test_layers_and_prune_cli_for_magnitude_and_ppl(method, flags, column, capsys, tmp_path):
    base = ["--model", "embedded:organism", "--method", method, "--remove", "2", "--calibration", "organism",
            "--calibration-samples", "4"] + flags
    assert main(["layers", *base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(isinstance(row[column], float) for row in data["layers"]) and len(data["removed"]) == 2
    assert main(["prune", *base, "--out", str(tmp_path / "m")]) == 0
    record = json.loads((tmp_path / "m" / "prunescale.json").read_text())
    assert record["removed_layers"] == data["removed"] and record["layers_after"] == 6
    assert record["score_name"] == column and len(record["scores"]) == 8


def test_each_method_in_the_report_score_figure():
    from prunescale.models.loading import load_model
    from prunescale.prune.run import PruneSpec, prune_loaded
    from prunescale.report.figures.scores import scores_figure

    loaded = load_model("embedded:organism")
    variants = {"organism__base": {"id": "organism__base", "model_label": "organism", "variant": "base"}}
    for method in ("magnitude", "taylor", "ppl"):
        one = copy.copy(loaded)
        one.model = copy.deepcopy(loaded.model)
        spec = PruneSpec(model="embedded:organism", method=method, remove=2, calibration="organism",
                         calibration_samples=4)
        _, record = prune_loaded(one, spec)
        variants[f"organism__{method}-2"] = {
            "id": f"organism__{method}-2", "model_label": "organism", "variant": f"{method}-2", "method": method,
            "n_removed": 2, "layers": 6, "removed_layers": record["removed_layers"],
            "score_name": record["score_name"], "scores": record["scores"]}
    plot = scores_figure({"variants": variants, "cells": [], "tasks": [], "models": ["organism"]}, "organism")
    for method, name in (("magnitude", "weight_magnitude"), ("taylor", "taylor_salience"),
                         ("ppl", "ppl_without_layer")):
        rows = [r for r in plot.rows if r[0] == f"{method}-2"]
        assert len(rows) == 8 and {r[1] for r in rows} == {name}
        assert [r[2] for r in rows if r[4] == "removed"] == variants[f"organism__{method}-2"]["removed_layers"]
    plot.fig.clear()


@pytest.mark.parametrize("iterative", [False, True])
def test_ppl_cached_layer_inputs_equal_whole_model_forwards(iterative):
    """The organism, padded batches: leave-one-out from cached layer inputs gives the perplexities of a whole-model
    forward per candidate (to float rounding) and the same layers, with one model pass per batch and round."""
    from prunescale.models.loading import load_model
    from prunescale.prune.calibration import load_calibration

    org = load_model("embedded:organism")
    calib = load_calibration("organism", org.model, org.tokenizer, samples=6, max_seq_len=96, batch_size=4)
    assert any(int(b["attention_mask"].min()) == 0 for b in calib.batches)   # padding is masked, not scored
    calls = []
    hook = org.model.model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        plans = {}
        for cached in (True, False):
            method = METHODS.get("ppl")(iterative=iterative)
            method._cached = cached
            calls.clear()
            plans[cached] = method.plan(org.model, 3, calib)
            plans[cached, "passes"] = len(calls)
    finally:
        hook.remove()
    assert plans[True].removed == plans[False].removed
    assert plans[True].scores == pytest.approx(plans[False].scores, rel=1e-6)
    if iterative:
        assert plans[True].details["rounds"] == [
            {**r, "ppl": pytest.approx(r["ppl"], rel=1e-6)} for r in plans[False].details["rounds"]]
    rounds, batches = (3 if iterative else 1), len(calib.batches)
    assert plans[True, "passes"] == batches * rounds   # the base perplexity read from round 1's capture pass
    assert plans[True].details["base_ppl"] == pytest.approx(plans[False].details["base_ppl"], rel=1e-6)
    assert plans[False, "passes"] == batches * (8 + (7 + 6 if iterative else 0) + 1)
