"""Organism training checkpoints: a resumed run trains as the uninterrupted one, a trunk forks into recipes that
differ only after it, and anything else is refused with one line naming the option."""

import argparse
import json

import pytest
import safetensors.torch
import torch

from prunescale.cli import organism as organism_cli
from prunescale.errors import PrunescaleError
from prunescale.organism.checkpoint import load_checkpoint
from prunescale.organism.model import ModelSpec
from prunescale.organism.train import TrainConfig, train

TINY = dict(seed=3, steps=8, chain_batch=4, fact_batch=4, warmup=2, eval_every=2, k_max=4, fact_drop_from=4,
            model=ModelSpec(num_layers=2, hidden=32, intermediate=64))


def _cli(argv):
    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["organism", "train", *argv])
    return args.func(args)


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(**TINY)
    whole, _, hist = train(cfg, tmp_path / "a", log=lambda s: None, save_at=(4,))
    ck = load_checkpoint(tmp_path / "a" / "checkpoint-4.pt", cfg.to_dict())
    assert ck["step"] == 4 and [r["step"] for r in ck["history"]] == [2, 4]
    resumed, _, hist2 = train(cfg, None, log=lambda s: None, resume=ck)
    assert [r["step"] for r in hist2] == [2, 4, 6, 8]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert hist2[-1]["train_loss"] == pytest.approx(hist[-1]["train_loss"], rel=1e-5)


def test_trunk_forks_into_late_options_only(tmp_path):
    base = ["--steps", "8", "--chain-batch", "4", "--fact-batch", "4", "--layers", "2", "--hidden", "32",
            "--intermediate", "64", "--eval-every", "2", "--fact-drop-from", "4", "--threads", "1",
            "--fact-drop", "0.1"]
    assert _cli(["--out", str(tmp_path / "trunk"), *base, "--save-at", "2,4"]) == 0
    ck = tmp_path / "trunk" / "checkpoint-4.pt"
    assert ck.is_file() and (tmp_path / "trunk" / "checkpoint-2.pt").is_file()
    branch = ["--fact-drop", "0.2", "--split-rows", "2", "--chain-drop", "0.1"]
    assert _cli(["--out", str(tmp_path / "b"), *base, *branch, "--resume-from", str(ck), "--save-at", "6"]) == 0
    recipe = json.loads((tmp_path / "b" / "RECIPE.json").read_text())
    assert recipe["resumed_from"]["step"] == 4 and recipe["resumed_from"]["config"]["split_rows"] == 0
    assert recipe["config"]["split_rows"] == 2 and "--resume-from" in recipe["command"]
    assert recipe["train_seconds"] >= recipe["resumed_from"]["seconds"]
    # an option the trunk's steps saw, or a late option once the trunk has used it: refused, nothing written
    # the fork is the branch recipe's own run: the trunk's steps are the ones it would have trained
    assert _cli(["--out", str(tmp_path / "c"), *base, *branch]) == 0
    forked = safetensors.torch.load_file(tmp_path / "b" / "model.safetensors")
    scratch = safetensors.torch.load_file(tmp_path / "c" / "model.safetensors")
    assert all(torch.equal(forked[n], scratch[n]) for n in scratch)   # bitwise: the same sums in the same order
    late = tmp_path / "b" / "checkpoint-6.pt"   # the branch's split rows have trained by step 6
    for extra, ckpt, words in ((["--seed", "1"], ck, "--seed 0"), (["--layers", "3"], ck, "--layers 2"),
                               (["--micro-tokens", "512"], ck, "gradients sum in another order"),
                               (["--fact-drop", "0.2", "--chain-drop", "0.1"], late, "--split-rows 2"),
                               (["--fact-drop", "0"], ck, "batches them together")):
        with pytest.raises(PrunescaleError) as e:
            _cli(["--out", str(tmp_path / "x"), *base, *extra, "--resume-from", str(ckpt)])
        assert "--resume-from" in str(e.value) and words in str(e.value), str(e.value)
        assert not (tmp_path / "x").exists()
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PrunescaleError, match="not an organism checkpoint"):
        _cli(["--out", str(tmp_path / "x"), *base, "--resume-from", str(bad)])


def test_split_options_fork_until_the_split_rows_start(tmp_path):
    cfg = TrainConfig(**TINY).to_dict()
    old = {k: v for k, v in cfg.items() if k not in ("split_from", "split_arcs", "arc_chains", "arc_from",
                                                          "exclusive_arcs", "late_facts",
                                                          "late_exclusive")}   # before them
    path = tmp_path / "checkpoint-4.pt"
    torch.save({"step": 4, "config": old, "model": {}, "opt": {}, "history": []}, path)
    assert load_checkpoint(path, cfg)["step"] == 4                                    # their defaults then
    assert load_checkpoint(path, {**cfg, "split_rows": 2, "split_arcs": "0.5:7"})["step"] == 4   # from step 4 on
    assert load_checkpoint(path, {**cfg, "split_arcs": "0.5:7", "arc_chains": 0.5})["step"] == 4
    assert load_checkpoint(path, {**cfg, "split_arcs": "0.5:7", "exclusive_arcs": "1"})["step"] == 4
    assert load_checkpoint(path, {**cfg, "late_facts": 8})["step"] == 4   # fact_drop_from is 4: not yet used
    assert load_checkpoint(path, {**cfg, "split_arcs": "0.5:7", "exclusive_arcs": "1", "arc_chains": 0.5,
                                  "late_exclusive": 8})["step"] == 4
    drop2 = tmp_path / "drop2.pt"
    torch.save({"step": 4, "config": {**old, "fact_drop_from": 2}, "model": {}, "opt": {}, "history": []}, drop2)
    with pytest.raises(PrunescaleError, match=r"--late-facts 0, this run has 8 \(it acts from step 2"):
        load_checkpoint(drop2, {**cfg, "late_facts": 8, "fact_drop_from": 2})
    with pytest.raises(PrunescaleError, match=r"--arc-chains 0.0, this run has 0.5 \(it acts from step 1"):
        load_checkpoint(path, {**cfg, "split_arcs": "0.5:7", "arc_chains": 0.5, "arc_from": 1})
    with pytest.raises(PrunescaleError, match="--split-from -1, this run has 2"):
        load_checkpoint(path, {**cfg, "split_rows": 2, "split_from": 2})               # would have acted at step 2
    early = tmp_path / "early.pt"
    torch.save({"step": 4, "config": {**cfg, "split_from": 2}, "model": {}, "opt": {}, "history": []}, early)
    with pytest.raises(PrunescaleError, match=r"--split-arcs '', this run has '0.5:7' \(it acts from step 2"):
        load_checkpoint(early, {**cfg, "split_from": 2, "split_arcs": "0.5:7"})


def test_quiet_options_fork_until_the_quiet_penalty_starts(tmp_path):
    cfg = TrainConfig(**TINY).to_dict()
    old = {k: v for k, v in cfg.items() if k not in ("quiet_layers", "quiet_from")}   # before them
    path = tmp_path / "checkpoint-4.pt"
    torch.save({"step": 4, "config": old, "model": {}, "opt": {}, "history": []}, path)
    assert load_checkpoint(path, {**cfg, "quiet_layers": "1:1"})["step"] == 4            # from fact_drop_from (4)
    assert load_checkpoint(path, {**cfg, "quiet_layers": "1:1", "quiet_from": 6})["step"] == 4
    assert load_checkpoint(path, {**cfg, "quiet_layers": "1:1", "quiet_tokens": "prompt"})["step"] == 4
    with pytest.raises(PrunescaleError, match=r"--quiet-from -1, this run has 3 \(it acts from step 3"):
        load_checkpoint(path, {**cfg, "quiet_layers": "1:1", "quiet_from": 3})
    late = tmp_path / "late.pt"   # a trunk that starts the penalty at 8: another start before then is a fork
    torch.save({"step": 4, "config": {**cfg, "quiet_layers": "1:1", "quiet_from": 8}, "model": {}, "opt": {},
                "history": []}, late)
    assert load_checkpoint(late, {**cfg, "quiet_layers": "1:2", "quiet_from": 5})["step"] == 4
    assert load_checkpoint(late, {**cfg, "quiet_layers": "1:1", "quiet_from": 8, "quiet_tokens": "prompt"})["step"] == 4
    early = tmp_path / "early.pt"   # the penalty ran from step 2 on every token: the prompt-only one is another run
    torch.save({"step": 4, "config": {**cfg, "quiet_layers": "1:1", "quiet_from": 2}, "model": {}, "opt": {},
                "history": []}, early)
    with pytest.raises(PrunescaleError, match=r"--quiet-tokens 'all', this run has 'prompt' \(it acts from step 2"):
        load_checkpoint(early, {**cfg, "quiet_layers": "1:1", "quiet_from": 2, "quiet_tokens": "prompt"})
    with pytest.raises(PrunescaleError, match=r"--quiet-from 8, this run has 2 \(it acts from step 2"):
        load_checkpoint(late, {**cfg, "quiet_layers": "1:1", "quiet_from": 2})


def test_export_writes_the_checkpoint_model_as_a_model_dir(tmp_path, capsys):
    base = ["--steps", "4", "--chain-batch", "4", "--fact-batch", "4", "--layers", "2", "--hidden", "32",
            "--intermediate", "64", "--eval-every", "2", "--threads", "1", "--count", "down"]
    assert _cli(["--out", str(tmp_path / "run"), *base, "--save-at", "2"]) == 0
    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    ck = tmp_path / "run" / "checkpoint-2.pt"
    args = parser.parse_args(["organism", "export", str(ck), "--out", str(tmp_path / "m")])
    capsys.readouterr()
    assert args.func(args) == 0 and json.loads(capsys.readouterr().out)["step"] == 2
    saved = safetensors.torch.load_file(tmp_path / "m" / "model.safetensors")
    state = torch.load(ck, weights_only=True)["model"]
    assert all(torch.equal(saved[n], state[n]) for n in saved)
    assert json.loads((tmp_path / "m" / "config.json").read_text())["organism_count"] == "down"
    from prunescale.models.loading import load_model
    assert len(load_model(str(tmp_path / "m"), device="cpu").model.model.layers) == 2   # loads like a trained one
    bad = tmp_path / "junk.pt"
    bad.write_bytes(b"junk")
    args = parser.parse_args(["organism", "export", str(bad), "--out", str(tmp_path / "x")])
    with pytest.raises(PrunescaleError, match=r"^\S*junk.pt: not an organism checkpoint"):
        args.func(args)
    assert not (tmp_path / "x").exists()   # nothing written


def test_docs_name_every_option_a_trunk_may_fork_into():
    from pathlib import Path

    from prunescale.organism.checkpoint import LATE

    text = (Path(__file__).resolve().parents[2] / "docs" / "organism.md").read_text()
    para = text[text.index("may branch into other values"):][:1200]
    missing = [o for o in LATE if f"`--{o.replace('_', '-')}`" not in para]
    assert not missing, f"docs/organism.md's fork paragraph lacks {missing}"
    from prunescale.organism.checkpoint import _STARTS
    assert set(_STARTS) <= set(LATE)                       # a start of its own only for a late option
