"""The prune / layers commands as a user runs them: real processes, real files, clear errors."""

import json
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

CALIB = ["--calibration-samples", "8", "--max-seq-len", "32"]


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "prunescale", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("method,extra", [("shortgpt", []), ("angular", []), ("reverse", []), ("laco", []),
                                          ("random", ["--seed", "5"]), ("selection", ["--layers", "4,20"])])
def test_prune_command_every_method(tmp_path, method, extra):
    out = tmp_path / "pruned"
    how = [] if method == "selection" else ["--remove", "2"]
    r = cli("prune", "--model", "embedded:smollm2-135m", "--method", method, *how, *extra, *CALIB, "--out", str(out))
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "prunescale.json").read_text())
    assert record["layers_after"] == 28 and len(record["removed_layers"]) == 2
    assert record["method"] == method and record["seed"] == (5 if method == "random" else 0)
    if method == "selection":
        assert record["removed_layers"] == [4, 20]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 28 and "quantization_config" not in cfg
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    kw = dict(max_new_tokens=16, do_sample=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(model.generate(**ids, use_cache=True, **kw), model.generate(**ids, use_cache=False, **kw))
    assert not list(tmp_path.glob(".pruned.tmp-*"))


@pytest.mark.slow
def test_layers_json_and_config_round_trip(tmp_path):
    r = cli("layers", "--model", "embedded:smollm2-135m", "--method", "shortgpt", "--remove", "2", *CALIB, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["layers"]) == 30 and len(data["removed"]) == 2
    bi = {row["layer"]: row["block_influence"] for row in data["layers"]}
    assert max(bi[i] for i in data["removed"]) <= min(v for k, v in bi.items() if k not in data["removed"])

    cfg = tmp_path / "run.yaml"
    r = cli("prune", "--model", "embedded:smollm2-135m", "--method", "shortgpt", "--remove", "2", *CALIB,
            "--out", str(tmp_path / "a"), "--save-config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "method: shortgpt" in cfg.read_text()
    r = cli("prune", "--config", str(cfg), "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    a = json.loads((tmp_path / "a" / "prunescale.json").read_text())
    b = json.loads((tmp_path / "b" / "prunescale.json").read_text())
    assert a["removed_layers"] == b["removed_layers"] and a["scores"] == b["scores"]


def _bad(tmp_path, *args):
    out = tmp_path / "out"
    r = cli(*args, "--out", str(out)) if "--out" not in args else cli(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("prunescale: error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not out.exists() or not any(out.iterdir())
    return lines[0]


def test_bad_inputs_are_one_line_errors(tmp_path):
    m = ["--model", "embedded:smollm2-135m"]
    assert "unknown pruning method 'nope'" in _bad(tmp_path, "prune", *m, "--method", "nope", "--remove", "1")
    assert "not found" in _bad(tmp_path, "prune", "--model", "./no/such/dir", "--method", "reverse", "--remove", "1")
    assert "unknown embedded model" in _bad(tmp_path, "prune", "--model", "embedded:nope", "--method", "reverse",
                                            "--remove", "1")
    assert "nothing to prune" in _bad(tmp_path, "prune", *m, "--method", "reverse", "--remove", "0")
    assert "cannot remove 30 of 30" in _bad(tmp_path, "prune", *m, "--method", "reverse", "--remove", "30")
    assert "out of range" in _bad(tmp_path, "prune", *m, "--method", "selection", "--layers", "1,30")
    assert "cannot read calibration file" in _bad(tmp_path, "prune", *m, "--method", "shortgpt", "--remove", "1",
                                                  "--calibration", f"file:{tmp_path}/missing.txt")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("precious")
    assert "not empty" in _bad(tmp_path, "prune", *m, "--method", "reverse", "--remove", "1",
                               "--out", str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep.txt").read_text() == "precious"


def test_not_a_causal_lm(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path / "bert")
    assert "not a decoder-only causal LM" in _bad(tmp_path, "prune", "--model", str(tmp_path / "bert"),
                                                 "--method", "reverse", "--remove", "1")
