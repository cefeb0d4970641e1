"""The committed organism weights load with the Auto classes and solve both task families greedily."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prunescale.organism import WEIGHTS_DIR, chain_problems, fact_problems, grade
from prunescale.organism.check import FORCED_SUFFIX, run_budget

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "model.safetensors").exists(), reason="no committed weights")


@pytest.fixture(scope="module")
def organism():
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(WEIGHTS_DIR)
    tok = AutoTokenizer.from_pretrained(WEIGHTS_DIR)
    model.eval()
    return model, tok


def _greedy(model, tok, problems, max_new=160):
    """Plain model.generate from the chat prompt, no budget: the model thinks and answers on its own."""
    prompts = [tok.apply_chat_template([{"role": "user", "content": p["prompt"]}], tokenize=False,
                                       add_generation_prompt=True) for p in problems]
    batch = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new, do_sample=False, eos_token_id=tok.eos_token_id,
                             pad_token_id=tok.pad_token_id)
    return [tok.decode(row[batch["input_ids"].shape[1]:], skip_special_tokens=True) for row in out]


def test_weights_are_small_and_standard():
    assert (WEIGHTS_DIR / "model.safetensors").stat().st_size < 20e6
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "RECIPE.json"):
        assert (WEIGHTS_DIR / name).exists(), name


def test_facts_and_k8_chains_are_solved_greedily(organism):
    model, tok = organism
    facts = fact_problems(64, seed=99)
    acc = sum(grade(t, p["answer"]) for t, p in zip(_greedy(model, tok, facts, 24), facts)) / len(facts)
    assert acc >= 0.95
    chains = chain_problems(48, 8, seed=99)
    texts = _greedy(model, tok, chains)
    assert "</think>" not in texts[0]                     # special tokens skipped; the answer line follows
    acc = sum(grade(t, p["answer"]) for t, p in zip(texts, chains)) / len(chains)
    assert acc >= 0.9


def test_a_tiny_thinking_budget_breaks_long_chains(organism):
    model, tok = organism
    chains = chain_problems(48, 8, seed=98)
    forced = run_budget(model, tok, chains, 8)
    assert all(s.forced and s.text.count(FORCED_SUFFIX) == 1 for s in forced)
    full = run_budget(model, tok, chains, 1024)
    assert not any(s.forced for s in full)
    assert sum(s.correct for s in forced) / len(chains) <= 0.2
    assert sum(s.correct for s in full) / len(chains) >= 0.9


def test_every_copy_of_the_training_command_trains_the_committed_config():
    """RECIPE.json's command, the weights' README.md and docs/organism.md each show the command: all must
    parse to the config the weights were trained with (a changed recipe changes all three)."""
    import argparse
    import json
    import re
    import shlex
    from pathlib import Path

    from prunescale.cli import organism as organism_cli

    recipe = json.loads((WEIGHTS_DIR / "RECIPE.json").read_text())
    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    run_only = {"out", "force", "resume_from", "save_at", "threads", "eval_every", "func", "cmd", "organism_cmd"}

    def options(command):
        args = vars(parser.parse_args(shlex.split(command)[1:]))
        return {k: v for k, v in args.items() if k not in run_only}

    want = options(recipe["command"])
    assert "resume_from" not in recipe["command"] and want["seed"] == recipe["config"]["seed"]
    assert want["steps"] == recipe["config"]["steps"] and want["split_arcs"] == recipe["config"]["split_arcs"]
    docs = Path(__file__).resolve().parents[2] / "docs" / "organism.md"
    for path in (WEIGHTS_DIR / "README.md", docs):
        found = re.findall(r"prunescale organism train --out \S+ [^\n`]*--seed[^\n`]*", path.read_text())
        assert found, path
        for command in found:
            assert options(command) == want, (path, command)
