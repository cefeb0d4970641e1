"""The organism through the evaluation engine: its own thinking profile, budget forcing, pruning calibration."""

from __future__ import annotations

import json

from prunescale.cli.main import main
from prunescale.generate.profiles import get_profile
from prunescale.models.loading import load_model
from prunescale.prune.calibration import load_calibration


def test_organism_declares_its_profile_and_pruning_keeps_it(tmp_path):
    loaded = load_model("embedded:organism")
    profile = get_profile("auto", loaded.model.config, loaded.tokenizer, name_hint="embedded:organism")
    assert profile.name == "organism" and profile.force_suffix == "\nFinal Answer:"
    assert main(["prune", "--model", "embedded:organism", "--method", "reverse", "--remove", "1",
                 "--out", str(tmp_path / "p")]) == 0
    pruned = load_model(str(tmp_path / "p"))
    assert get_profile("auto", pruned.model.config, pruned.tokenizer).name == "organism"


def test_organism_calibration_is_its_own_transcripts():
    loaded = load_model("embedded:organism")
    calib = load_calibration("organism", loaded.model, loaded.tokenizer, samples=8, max_seq_len=256)
    texts = [loaded.tokenizer.decode(s) for s in calib.sequences]
    assert len(texts) == 8 and all(t.endswith("<|im_end|>") for t in texts)
    assert sum("steps=" in t for t in texts) == 6 and sum("What is the" in t for t in texts) == 2


def test_eval_budget_forcing_on_k8_chains(tmp_path):
    """The issue's command, on 24 problems: a budget too small for the chain fails, one that fits solves."""
    out = tmp_path / "run"
    assert main(["eval", "--model", "embedded:organism", "--task", "organism-chain:k=8", "--budgets", "8,32,40,1024",
                 "--temperature", "0", "--limit", "24", "--batch-size", "24", "--out", str(out)]) == 0
    b = json.loads((out / "summary.json").read_text())["tasks"]["organism-chain:k=8"]["budgets"]
    assert b["8"]["accuracy"] <= 0.1 and b["8"]["forced_share"] == 1.0
    assert b["32"]["accuracy"] <= 0.1
    assert b["40"]["accuracy"] >= 0.9 and b["1024"]["accuracy"] >= 0.9
    # 8 lines of 5 tokens, a period on the last, the newline before </think>: 41 thinking tokens
    assert b["1024"]["forced_share"] == 0.0 and b["1024"]["thinking_tokens_mean"] == 41.0
