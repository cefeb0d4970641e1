"""Unstructured pruning (magnitude-unstructured, wanda, sparsegpt; OWL; N:M) against hand-computed examples and a
direct implementation of the published SparseGPT update."""

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from prunescale.errors import PrunescaleError
from prunescale.prune import METHODS
from prunescale.prune.calibration import Calibration, pad_batches
from prunescale.prune.run import PruneSpec, make_method
from prunescale.prune.sparsegpt import sparsegpt_prune
from prunescale.prune.sparsity import SparsityRequest, measure, outlier_ratio, owl_ratios, projections
from tests.models.tiny import FAMILIES, tiny_model

H = 64


def one_layer_model():
    """A 1-layer tiny Llama whose projections' inputs are known by hand.

    Token embeddings are +-1 (RMS 1, so the input norm only multiplies channel j by its weight g_j = j + 1);
    o_proj is zero, so the MLP's input is the embedding again, normed by the same g. Each weight row is
    sign * (j + 1)^-1/2: magnitude keeps the low channels, Wanda's |W_ij| * ||X_j|| ~ (j + 1)^1/2 the high ones.
    The pad token's embedding is huge on the low channels: counted, it would flip Wanda's choice."""
    cfg = FAMILIES["llama"]()
    cfg.num_hidden_layers = 1
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    layer = model.model.layers[0]
    with torch.no_grad():
        emb = torch.sign(torch.randn(cfg.vocab_size, H))
        emb[0] = torch.where(torch.arange(H) < H // 2, 100.0, 0.01)   # pad id 0
        model.model.embed_tokens.weight.copy_(emb)
        g = torch.arange(1, H + 1, dtype=torch.float32)
        layer.input_layernorm.weight.copy_(g)
        layer.post_attention_layernorm.weight.copy_(g)
        layer.self_attn.o_proj.weight.zero_()
        for name in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"):
            w = getattr(layer.self_attn, name, None) or getattr(layer.mlp, name)
            w.weight.copy_(torch.sign(torch.randn_like(w.weight)) / g.sqrt()[None, :])
    return model


def calibration(seqs, pad=0):
    return Calibration(spec="test", sequences=seqs, batches=pad_batches(seqs, 2, pad))


CALIB = [[5, 6, 7, 8, 9, 10, 11, 12], [13, 14, 15]]   # the second row is padded with id 0


def test_wanda_zeros_exactly_the_hand_computed_entries():
    model = one_layer_model()
    result = METHODS.get("wanda")().sparsify(model, SparsityRequest(0.25), calibration(CALIB))
    layer = model.model.layers[0]
    k = round(H * 0.25)
    for name in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"):
        w = getattr(layer.self_attn, name, None) or getattr(layer.mlp, name)
        zero = w.weight == 0
        assert zero[:, :k].all() and not zero[:, k:].any(), name   # the k lowest channels of every row
    down = layer.mlp.down_proj.weight
    assert ((down == 0).sum(dim=1) == round(down.shape[1] * 0.25)).all()   # per row
    assert result.removed == [] and result.details["measured_layer_sparsity"][0] > 0.25   # o_proj is all zero


def test_magnitude_unstructured_chooses_differently_per_matrix():
    model = one_layer_model()
    METHODS.get("magnitude-unstructured")().sparsify(model, SparsityRequest(0.25))
    q = model.model.layers[0].self_attn.q_proj.weight
    k = round(H * 0.25)
    assert (q == 0).sum() == round(q.numel() * 0.25)
    assert (q[:, -k:] == 0).all() and not (q[:, :-k] == 0).any()   # the largest channels have the smallest |W|


def obs_direct(w, h, sparsity=None, nm=None, blocksize=None, damp=0.01):
    """Optimal Brain Surgeon column by column with the explicit inverse Hessian of the remaining columns:
    prune w_rq -> delta_r = -(w_rq / [H_q^-1]_qq) [H_q^-1]_q,:, then drop column q from H^-1 (Gauss step).
    The mask: per block, the lowest w^2 / [H_q^-1]_qq (the published w^2 / diag(chol(H^-1))^2, since the upper
    Cholesky factor's U_qq^2 is [H_q^-1]_qq); N:M per group of m."""
    w, h = w.clone().double(), h.clone().double()
    cols = w.shape[1]
    h += damp * torch.diag(h).mean() * torch.eye(cols, dtype=h.dtype)
    hinv = torch.linalg.inv(h)
    d, hi = [], hinv.clone()   # [H_q^-1]_qq for every q, from the eliminations alone
    for q in range(cols):
        d.append(hi[q, q].item())
        hi = hi - hi[:, q:q + 1] @ hi[q:q + 1, :] / hi[q, q]
    d = torch.tensor(d, dtype=w.dtype)
    blocksize = blocksize or cols
    mask = torch.zeros_like(w, dtype=torch.bool)
    for q in range(cols):
        if nm is None and q % blocksize == 0:
            b = slice(q, min(q + blocksize, cols))
            sal = (w[:, b] ** 2 / d[b][None, :]).flatten()
            k = round(sal.numel() * sparsity)
            idx = torch.argsort(sal, stable=True)[:k]
            rows, cs = idx // (b.stop - b.start), idx % (b.stop - b.start) + b.start
            mask[rows, cs] = True
        if nm is not None and q % nm[1] == 0:
            sal = w[:, q:q + nm[1]] ** 2 / d[q:q + nm[1]][None, :]
            mask.scatter_(1, q + torch.argsort(sal, dim=1, stable=True)[:, :nm[1] - nm[0]], True)
        prune = mask[:, q]
        w[prune] -= (w[prune, q] / hinv[q, q])[:, None] * hinv[q][None, :]
        w[:, :q + 1][mask[:, :q + 1]] = 0   # eliminated rows of H^-1 are zero only up to rounding
        hinv = hinv - hinv[:, q:q + 1] @ hinv[q:q + 1, :] / hinv[q, q]
    return w.float()


@pytest.mark.parametrize("sparsity,nm,blocksize", [(0.5, None, 16), (0.3, None, 4), (None, (2, 4), 4),
                                                   (None, (2, 4), 8)])
def test_sparsegpt_matches_direct_obs(sparsity, nm, blocksize):
    torch.manual_seed(1)
    w = torch.randn(8, 16)
    x = torch.randn(64, 16) @ torch.randn(16, 16)   # correlated inputs: the update matters
    h = 2 * x.T @ x / 64
    got = sparsegpt_prune(w, h, sparsity, nm, blocksize=blocksize)
    want = obs_direct(w, h, sparsity, nm, blocksize)
    assert torch.equal(got == 0, want == 0)
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got[got != 0], w[got != 0])   # the kept weights were updated
    if nm:
        assert ((got.view(8, 4, 4) != 0).sum(-1) <= 2).all()
    else:
        assert (got == 0).sum() == 16 // blocksize * round(8 * blocksize * sparsity)   # counted per block


@pytest.mark.parametrize("method", ["wanda", "sparsegpt", "magnitude-unstructured"])
def test_2_4_pattern_holds_in_every_group(method):
    model = tiny_model("llama")
    calib = calibration([[5, 6, 7, 8, 9, 10], [11, 12, 13]])
    result = METHODS.get(method)().sparsify(model, SparsityRequest(pattern="2:4"), calib)
    for layer in model.model.layers:
        for name, mod in projections(layer).items():
            groups = (mod.weight != 0).reshape(mod.weight.shape[0], -1, 4).sum(-1)
            assert (groups <= 2).all(), name
    assert abs(result.details["measured_sparsity"] - 0.5) < 1e-3


def test_owl_hand_example():
    ratios = owl_ratios([0.01, 0.02, 0.03, 0.04], 0.5, 0.08)
    assert ratios == pytest.approx([0.58, 0.58 - 0.16 / 3, 0.42 + 0.16 / 3, 0.42])   # most outliers: sparsest least
    assert sum(ratios) / 4 == pytest.approx(0.5)
    assert owl_ratios([0.2, 0.2], 0.3, 0.08) == [0.3, 0.3]
    assert outlier_ratio([torch.tensor([1.0, 1, 1, 1]), torch.tensor([10.0])], 3) == pytest.approx(0.2)   # > 8.4


def test_owl_and_file_allocation_on_a_model(tmp_path):
    model = tiny_model("llama")
    calib = calibration([[5, 6, 7, 8, 9, 10, 11, 12], [13, 14, 15, 16]])
    r = METHODS.get("wanda")().sparsify(model, SparsityRequest(0.3, allocation="owl"), calib)
    d = r.details
    assert sum(d["layer_sparsity_target"]) / 6 == pytest.approx(0.3)
    assert max(d["layer_sparsity_target"]) - min(d["layer_sparsity_target"]) == pytest.approx(0.16)
    assert d["measured_sparsity"] == pytest.approx(0.3, abs=0.01) == measure(model)["overall"]
    f = tmp_path / "alloc.yaml"
    f.write_text("[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]\n")
    model = tiny_model("llama")
    r = METHODS.get("magnitude-unstructured")().sparsify(model, SparsityRequest(allocation=str(f)))
    assert r.details["measured_layer_sparsity"] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], abs=1e-3)


@pytest.mark.parametrize("kw,message", [
    (dict(method="wanda", remove=2), "--remove removes layers"),
    (dict(method="wanda"), "needs --sparsity"),
    (dict(method="wanda", sparsity=1.5), "must be between 0 and 1"),
    (dict(method="shortgpt", remove=1, sparsity=0.2), "--sparsity is for unstructured"),
    (dict(method="shortgpt", remove=1, allocation="owl"), "--allocation is for unstructured"),
    (dict(method="wanda", pattern="2:4", allocation="owl"), "does not apply"),
    (dict(method="wanda", pattern="2:4", sparsity=0.3), "means sparsity 0.5"),
    (dict(method="wanda", pattern="4:2"), "0 < N < M"),
    (dict(method="wanda", sparsity=0.05, allocation="owl"), "--owl-lambda 0.08 puts layer sparsities"),
    (dict(method="wanda", sparsity=0.3, allocation="nowhere.json"), "not uniform, owl or an existing file"),
])
def test_bad_requests_are_one_line_errors(kw, message):
    with pytest.raises(PrunescaleError, match=message):
        make_method(PruneSpec(model="embedded:organism", **kw))


def test_layers_command_refuses_unstructured():
    with pytest.raises(PrunescaleError, match="keeps every layer"):
        METHODS.get("wanda")().plan(tiny_model("llama"), 1)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "prunescale", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_done_when_wanda_owl_on_the_organism_then_eval(tmp_path):
    out = tmp_path / "wanda"
    r = cli("prune", "--model", "embedded:organism", "--method", "wanda", "--sparsity", "0.3", "--allocation", "owl",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "prunescale.json").read_text())
    assert rec["measured_sparsity"] == pytest.approx(0.30, abs=0.01)
    assert rec["layers_after"] == rec["layers_before"] == 8 and rec["allocation"] == "owl"
    assert len(rec["measured_layer_sparsity"]) == 8 and rec["owl_m"] == 5.0 and rec["owl_lambda"] == 0.08
    assert len(set(round(s, 3) for s in rec["layer_sparsity_target"])) > 1
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)   # a plain HF directory, zeros inside
    assert measure(model)["overall"] == pytest.approx(rec["measured_sparsity"])
    ev = tmp_path / "eval"
    r = cli("eval", "--model", str(out), "--task", "organism-chain:k=8", "--budgets", "64", "--limit", "8",
            "--answer-tokens", "32", "--temperature", "0", "--out", str(ev))
    assert r.returncode == 0, r.stderr
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["tasks"]
    r = cli("prune", "--model", "embedded:organism", "--method", "shortgpt", "--sparsity", "0.3", "--out",
            str(tmp_path / "x"))
    assert r.returncode == 2 and r.stderr.strip().startswith("prunescale: error: --sparsity is for unstructured")
