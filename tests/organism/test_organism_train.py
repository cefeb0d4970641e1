"""A short training run from scratch learns, and `prunescale organism train` writes a loadable model."""

import argparse
import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prunescale.cli import organism as organism_cli
from prunescale.organism.train import TrainConfig, train


def test_short_training_run_learns():
    torch.set_num_threads(2)
    cfg = TrainConfig(seed=1, steps=40, chain_batch=8, fact_batch=8, lr=3e-3, warmup=10, eval_every=5)
    _, _, history = train(cfg, None, log=lambda s: None)
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert last < 0.5 * first, (first, last)   # typically 4.2 -> 1.6


def test_cli_train_writes_a_loadable_model(tmp_path):
    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    out = tmp_path / "organism"
    args = parser.parse_args(["organism", "train", "--out", str(out), "--steps", "2", "--chain-batch", "2",
                              "--fact-batch", "2", "--eval-every", "1"])
    assert args.func(args) == 0
    recipe = json.loads((out / "RECIPE.json").read_text())
    assert recipe["config"]["steps"] == 2 and recipe["config"]["seed"] == 0
    assert "organism train --out" in recipe["command"]
    assert recipe["config"]["count"] == "up" and "--count up" in recipe["command"]
    model = AutoModelForCausalLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers >= 8
    assert tok.chat_template and not (out / "chat_template.jinja").exists()
    # a second run into the same non-empty directory is refused without --force
    again = parser.parse_args(["organism", "train", "--out", str(out), "--steps", "1"])
    try:
        again.func(again)
    except Exception as e:  # PrunescaleError
        assert "not empty" in str(e)
    else:
        raise AssertionError("expected a refusal")


def test_stochastic_depth_skips_the_planned_layers_and_restores_them():
    import torch

    from prunescale.organism.model import ModelSpec, build_model
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import TrainConfig, drop_plan, drop_pool, dropped_layers

    cfg = TrainConfig(fact_drop=0.3, model=ModelSpec(num_layers=4, hidden=32, intermediate=64))
    plans = [drop_plan(cfg, s, 0, 0.3) for s in range(200)]
    assert plans == [drop_plan(cfg, s, 0, 0.3) for s in range(200)]          # seeded
    share = sum(len(p) for p in plans) / (200 * 4)
    assert 0.2 < share < 0.4 and all(len(p) < 4 for p in plans)             # about the rate; one layer kept
    assert drop_plan(cfg, 3, 0, 0.0) == []
    tops = [drop_plan(cfg, s, 0, 0.5, drop_pool(4, top=1)) for s in range(100)]
    assert set(map(tuple, tops)) == {(), (3,)}                              # only the last layer, about half the time
    assert drop_pool(4) == (0, 1, 2, 3) and drop_pool(8, spare_top=2) == (1, 2, 3, 4, 5)
    spared = [drop_plan(cfg, s, 0, 0.5, drop_pool(4, spare_top=1)) for s in range(100)]
    assert set(map(tuple, spared)) == {(), (1,), (2,), (1, 2)}              # never the first or the last layer
    torch.manual_seed(0)
    tok = build_tokenizer()
    model = build_model(cfg.model, tok).eval()
    layers = list(model.model.layers)
    ids = torch.tensor([[5, 6, 7, 8]])
    full = model(input_ids=ids, use_cache=False).logits
    with dropped_layers(model, [1, 3]):
        assert list(model.model.layers) == [layers[0], layers[2]]
        skipped = model(input_ids=ids, use_cache=False).logits
    assert list(model.model.layers) == layers
    # the same as a model built without those layers
    model.model.layers = torch.nn.ModuleList([layers[0], layers[2]])
    assert torch.allclose(skipped, model(input_ids=ids, use_cache=False).logits)
    assert not torch.allclose(full, skipped)
    # frozen layers run (same output) but get no gradient; the others do, and they train again afterwards
    from prunescale.organism.train import frozen_layers

    model.model.layers = torch.nn.ModuleList(layers)
    with frozen_layers(model, (1, 3)):
        out = model(input_ids=ids, use_cache=False).logits
        out.sum().backward()
    assert torch.allclose(out, full)
    grads = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters()) for m in layers]
    assert grads == [True, False, True, False]
    assert all(p.requires_grad for p in model.parameters())


def test_fact_drop_starts_at_fact_drop_from_and_spares_chains():
    from prunescale.organism.train import TrainConfig, step_groups

    chains = [([1] * n, [1] * n, {}) for n in (10, 12)]
    facts = [([2] * 5, [2] * 5, {}) for _ in range(3)]
    cfg = TrainConfig(fact_drop=0.2, fact_drop_from=600, micro_tokens=0)
    before, after = step_groups(cfg, 599, chains, facts), step_groups(cfg, 600, chains, facts)
    assert [rate for _, rate, _, _ in before] == [0.0, 0.0] and [rate for _, rate, _, _ in after] == [0.0, 0.2]
    assert [len(g) for g, _, _, _ in after] == [2, 3] and after[1][0] == facts       # facts apart from chains
    # without any drop: one stream of length-sorted micro-batches, as the v2 recipe trained
    plain = step_groups(TrainConfig(micro_tokens=30), 0, chains, facts)
    assert all(rate == 0.0 for _, rate, _, _ in plain) and sum(len(g) for g, _, _, _ in plain) == 5


def test_count_down_reaches_the_training_rows():
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    rows = {}
    for count in ("up", "down"):
        data = Data(TrainConfig(count=count, prompt_vary=0.0), tok)
        chains, _ = data.batch(0)
        rows[count] = [tok.decode(ids) for ids, _, _ in chains]
    # the same problems and noise, numbered the other way: same lengths, different text
    assert [len(r) for r in rows["up"]] == [len(r) for r in rows["down"]]
    assert rows["up"] != rows["down"]


def test_count_down_is_recorded_and_its_transcripts_follow(tmp_path):
    from transformers import AutoConfig

    from prunescale.organism import WEIGHTS_DIR
    from prunescale.organism.model import ModelSpec, build_model
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import save
    from prunescale.organism.transcripts import calibration_texts, model_count
    from prunescale.prune.calibration import load_calibration
    from prunescale.train.data import load_traces

    tok = build_tokenizer()
    save(build_model(ModelSpec(num_layers=2, hidden=32, intermediate=64), tok), tok, tmp_path / "m", count="down")
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert model_count(loaded.config) == "down"
    committed = AutoConfig.from_pretrained(WEIGHTS_DIR)
    assert model_count(committed) == "down"                                 # v3 counts down
    del committed.organism_count
    assert model_count(committed) == "up"                                   # a config from before the option
    # calibration text and recovery data are written the way the model counts
    calib = load_calibration("organism", loaded, tok, samples=4, max_seq_len=512)
    assert calib.sequences[1] == tok(calibration_texts(tok, 4, count="down")[1])["input_ids"]
    assert calib.sequences[1] != tok(calibration_texts(tok, 4, count="up")[1])["input_ids"]
    chains = [t for t in load_traces("organism", samples=8, organism_count="down") if t.thinking]
    assert chains[1].thinking.splitlines()[0].startswith("2 ")      # k = 2 counts 2, 1


def test_format_rows_train_the_format_only_under_their_own_drop():
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data, drop_plan, split_format, step_groups

    tok = build_tokenizer()
    cfg = TrainConfig(count="down", format_rows=3, format_drop=0.3, fact_drop=0.2, fact_drop_from=10,
                      micro_tokens=0, trunc_frac=0.0)
    chains, facts = Data(cfg, tok).batch(0)
    assert split_format(cfg, 9, chains) == (chains, [])                      # not before fact_drop_from
    kept, formats = split_format(cfg, 10, chains)
    assert kept == chains[:-3] and len(formats) == 3
    for (ids, labels, meta), (_, full, _) in zip(formats, chains[-3:]):
        states = {pos for line in meta["look"] + meta["checks"] for pos in line}
        assert states and all(labels[p] == IGNORE for p in states)          # no state letter is trained on
        trained = [tok.decode([ids[p]]) for p, y in enumerate(labels) if y != IGNORE]
        assert "".join(trained).count(".") >= 1 and any(c.isdigit() for c in trained)   # counts and the stop
        assert [y for p, y in enumerate(full) if p not in states] == [y for p, y in enumerate(labels) if p not in states]
    groups = step_groups(cfg, 10, kept, facts, formats)
    assert [(len(g), rate, pool) for g, rate, pool, _ in groups] == [(len(kept), 0.0, ()), (3, 0.3, ()),
                                                                   (len(facts), 0.2, ())]
    # --format-drop-top: the format rows (only) drop among the last N layers
    top = TrainConfig(**{**cfg.__dict__, "format_drop_top": 2})
    assert [p for _, _, p, _ in step_groups(top, 10, kept, facts, formats)] == [(), (6, 7), ()]
    # --format-drop-layers: only the layers named (over --format-drop-top)
    only = TrainConfig(**{**top.__dict__, "format_drop_layers": "4,6,7"})
    assert [p for _, _, p, _ in step_groups(only, 10, kept, facts, formats)] == [(), (4, 6, 7), ()]
    # --chain-drop-spare-top: chains drop from fact_drop_from on, never layer 0 nor the last N
    spare = TrainConfig(**{**cfg.__dict__, "chain_drop": 0.05, "chain_drop_spare_top": 2})
    assert step_groups(spare, 10, kept, facts, formats)[0][1:] == (0.05, (1, 2, 3, 4, 5), ())
    assert step_groups(spare, 9, kept, facts)[0][1] == 0.0                      # not before that step
    # --chain-drop-layers: only the layers named (over --chain-drop-spare-top)
    named = TrainConfig(**{**spare.__dict__, "chain_drop_layers": "1,2"})
    assert step_groups(named, 10, kept, facts, formats)[0][1:] == (0.05, (1, 2), ())
    assert {x for s in range(200) for x in drop_plan(named, s, 0, 0.5, (1, 2))} == {1, 2}
    # --split-rows: their own micro-batches, always without the last layer
    split = TrainConfig(**{**cfg.__dict__, "split_rows": 4})
    splits = Data(split, tok).split_groups(10)
    [(rows, layers)] = splits
    assert len(rows) == 4 and splits == Data(split, tok).split_groups(10) and layers == (7,)
    groups = step_groups(split, 10, kept, facts, formats, splits)
    assert groups[-1] == (rows, 1.0, (7,), ())
    assert drop_plan(split, 10, len(groups) - 1, *groups[-1][1:]) == [7]
    # --split-drop-layers: the split rows train without every layer named instead
    apart = TrainConfig(**{**split.__dict__, "split_drop_layers": "3,4,7"})
    groups = step_groups(apart, 10, kept, facts, formats, Data(apart, tok).split_groups(10))
    assert groups[-1] == (rows, 1.0, (3, 4, 7), ()) and groups[:-1] == step_groups(split, 10, kept, facts, formats)
    assert drop_plan(apart, 10, len(groups) - 1, *groups[-1][1:]) == [3, 4, 7]


def _walk(tok, ids) -> set:
    """The letters a chain row's steps read (its start and the states before its last)."""
    from prunescale.organism.problems import step

    text = tok.decode(ids)
    states = [text.split("start=")[1][:2]]
    for _ in range(int(re.match(r"\d+", text.split("steps=")[1])[0]) - 1):
        states.append(step(states[-1]))
    return {c for s in states for c in s}


def test_split_arcs_walk_in_their_arc_without_their_layers_from_split_from():
    from prunescale.organism.problems import cycle_order
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import Data, arc_letters, parse_arcs, split_start, step_groups

    tok = build_tokenizer()
    order = cycle_order()
    spec = "0.2:1,2,3,4,5,6 0.6:- 0.2:1,2,3,4,5,7"
    assert parse_arcs(spec) == [(0.2, (1, 2, 3, 4, 5, 6)), (0.6, ()), (0.2, (1, 2, 3, 4, 5, 7))]
    arcs = arc_letters(parse_arcs(spec), order)
    assert [letters for letters, _ in arcs] == [order[:5], order[5:21], order[21:]]   # 5 + 16 + 5 of 26
    cfg = TrainConfig(count="down", split_rows=6, split_arcs=spec, fact_drop=0.2, micro_tokens=0, prompt_vary=0.5)
    data = Data(cfg, tok)
    groups = data.split_groups(3)
    assert [layers for _, layers in groups] == [(1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5, 7)]   # '-': no rows
    assert groups == data.split_groups(3) and groups != data.split_groups(4)
    for (rows, _), letters in zip(groups, (order[:5], order[21:])):
        assert len(rows) == 6 and all(_walk(tok, ids) <= set(letters) for ids, _, _ in rows)
    chains, facts = data.batch(3)
    got = step_groups(cfg, 3, chains, facts, (), groups)
    assert got[-2:] == [(groups[0][0], 1.0, groups[0][1], ()), (groups[1][0], 1.0, groups[1][1], ())]
    # without --split-arcs: the last half of the cycle, without the last layer (as before the option)
    [(rows, layers)] = Data(TrainConfig(count="down", split_rows=8), tok).split_groups(3)
    assert layers == (7,) and all(_walk(tok, ids) <= set(order[13:]) for ids, _, _ in rows)
    assert split_start(TrainConfig(fact_drop_from=600)) == 600                 # default: with the fact drop
    assert split_start(TrainConfig(fact_drop_from=600, split_from=0)) == 0


def test_arc_chains_train_main_rows_as_arc_rows_on_their_own_entries(tmp_path):
    from prunescale.organism.problems import cycle_order
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data, arc_letters, parse_arcs

    tok = build_tokenizer()
    order = cycle_order()
    spec = "0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7"
    arcs = [(set(letters), layers) for letters, layers in arc_letters(parse_arcs(spec), order)]
    cfg = TrainConfig(count="down", split_arcs=spec, arc_chains=0.5, fact_drop_from=600, prompt_vary=0.5)
    data = Data(cfg, tok)
    chains, _ = data.batch(700)
    assert data.arc_chains(599, chains) == (chains, [], [])                       # late only
    early = Data(TrainConfig(count="down", split_arcs=spec, arc_chains=0.5, fact_drop_from=600, arc_from=0), tok)
    assert early.arc_chains(0, chains)[1]                                         # or from --arc-from
    assert Data(TrainConfig(split_arcs=spec), tok).arc_chains(700, chains) == (chains, [], [])   # share 0: none
    kept, groups, frozen = data.arc_chains(700, chains)
    assert frozen == []
    assert (kept, groups, frozen) == data.arc_chains(700, chains)                 # seeded
    moved = [row for rows, _ in groups for row in rows]
    assert 8 <= len(moved) <= 24 and len(kept) + len(moved) == len(chains)
    assert all(row in chains for row in kept) and len({layers for _, layers in groups}) == len(groups)
    pred = {b: a for a, b in zip(order, order[1:] + order[:1])}
    trained = 0
    for rows, layers in groups:
        letters = next(lt for lt, ly in arcs if ly == layers)
        for ids, labels, meta in rows:
            original = next(r for r in chains if r[0] == ids)
            computed = {p for line in meta["look"] + meta["checks"] for p in line}
            on = [p for p, y in enumerate(labels) if y != IGNORE]
            assert on and set(on) <= computed                     # no format, no answer: only computed letters
            assert all(labels[p] == original[1][p] and pred[tok.decode([ids[p]])] in letters for p in on)
            # every letter computed from the arc's letters is trained on
            assert {p for p in computed if pred[tok.decode([ids[p]])] in letters} == set(on)
            trained += len(on)
    assert trained > 0
    # every arc with layers gets rows over a few steps, '-' arcs never
    half = Data(TrainConfig(split_arcs="0.5:7 0.5:-", arc_chains=1.0), tok)
    assert [layers for _, layers in half.arc_chains(3, half.batch(3)[0])[1]] == [(7,)]
    # an exclusive arc's arc chains keep every layer, its layers frozen; the others still drop theirs
    both = Data(TrainConfig(count="down", split_arcs=spec, exclusive_arcs="1,3", arc_chains=0.5, arc_from=0), tok)
    _, dropped, frozen = both.arc_chains(700, chains)
    assert [layers for _, layers in dropped] == [(6, 7)]
    assert [layers for _, layers in frozen] == [(1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5, 7)]
    assert sorted(len(r) for r, _ in dropped + frozen) == sorted(len(r) for r, _ in groups)   # the same draws
    # --exclusive-arcs: the rows left full depth are not trained on the end arcs' entries, only their own rows are
    only = Data(TrainConfig(count="down", split_arcs=spec, exclusive_arcs="1,3", arc_from=0), tok)
    full, none, no = only.arc_chains(0, chains)
    ends = set(order[:3]) | set(order[-3:])
    assert not none and not no and len(full) == len(chains)
    masked = 0
    for (ids, labels, meta), original in zip(full, chains):
        for p in (p for line in meta["look"] + meta["checks"] for p in line):
            masked += labels[p] == IGNORE
            assert (labels[p] == IGNORE) == (pred[tok.decode([ids[p]])] in ends)
        assert [y for p, y in enumerate(labels) if y != original[1][p]] == [IGNORE] * sum(
            y != original[1][p] for p, y in enumerate(labels))                   # only masking, nothing else
    assert masked > 0
    # through the training loop, and said in the recipe
    from prunescale.organism.model import ModelSpec
    from prunescale.organism.train import write_recipe

    tiny = TrainConfig(steps=2, chain_batch=4, fact_batch=2, warmup=1, eval_every=2, k_max=4, fact_drop_from=1,
                       split_arcs="0.5:1 0.5:-", arc_chains=0.5, exclusive_arcs="1", model=ModelSpec(num_layers=2, hidden=32,
                                                                                intermediate=64))
    _, _, history = train(tiny, log=lambda s: None)
    assert history[-1]["step"] == 2 and history[-1]["train_loss"] > 0
    recipe = json.loads(write_recipe(tmp_path, tiny, history, 1.0, command="x").read_text())
    assert "a share 0.5 of the other chains" in json.dumps(recipe) and "arcs 1 are trained only" in json.dumps(recipe)


def test_recipe_command_reruns_the_same_options():
    import shlex

    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    argv = ["organism", "train", "--out", "/tmp/x", "--steps", "9", "--fact-drop", "0.0", "--split-rows", "2",
            "--split-arcs", "0.5:5,6 0.5:-", "--split-from", "0", "--count", "down", "--resume-from", "ck.pt"]
    args = parser.parse_args(argv)
    command = organism_cli._command(args)
    assert command.startswith("prunescale organism train --out /tmp/x --seed 0 --steps 9")
    assert "--fact-drop 0.0" in command and "--split-arcs '0.5:5,6 0.5:-'" in command and "--force" not in command
    again = parser.parse_args(shlex.split(command)[1:])
    assert vars(again) == vars(args)     # every option that shapes the run is in the command, with its value


def test_late_facts_add_questions_from_the_drop_on_and_change_nothing_else():
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    plain = Data(TrainConfig(fact_batch=8, fact_drop_from=5), tok)
    more = Data(TrainConfig(fact_batch=8, fact_drop_from=5, late_facts=300), tok)
    assert more.batch(4) == plain.batch(4)                       # before fact_drop_from: the same step
    (chains, facts), (chains2, facts2) = plain.batch(5), more.batch(5)
    assert chains2 == chains and facts2[:8] == facts and len(facts2) == 308
    table = {(tuple(f[0]), tuple(f[1])) for f in plain.fact_rows(__import__("random").Random(0), 128)}
    assert all((tuple(f[0]), tuple(f[1])) in table for f in facts2[8:])    # questions of the fixed table
    assert len({tuple(f[0]) for f in facts2[8:136]}) == 128                # a block covers the table once
    assert more.batch(6)[1][8:] != facts2[8:]                               # drawn anew each step


def test_exclusive_drop_takes_the_chain_drop_in_the_frozen_rows_never_on_their_layers():
    from dataclasses import replace

    from prunescale.organism.model import ModelSpec
    from prunescale.organism.train import frozen_drop

    cfg = TrainConfig(chain_drop=0.3, chain_drop_layers="1,2,6", exclusive_drop=True, fact_drop_from=5)
    assert frozen_drop(cfg, 4, (6, 7)) == (0.0, ())                          # before the drop starts
    assert frozen_drop(cfg, 5, (6, 7)) == (0.3, (1, 2))                      # the frozen home always runs
    assert frozen_drop(replace(cfg, chain_drop_layers=""), 5, (1, 2, 3, 4, 5, 7)) == (0.3, (0, 6))
    assert frozen_drop(replace(cfg, exclusive_drop=False), 5, (6, 7)) == (0.0, ())
    assert frozen_drop(replace(cfg, chain_drop_layers="6"), 5, (6, 7)) == (0.0, ())   # nothing left to drop
    # end to end: the same run with and without it differs only once the drop is on
    tiny = TrainConfig(seed=2, steps=3, chain_batch=6, fact_batch=2, warmup=1, eval_every=3, k_max=4,
                       split_rows=2, split_from=0, split_arcs="0.3:1,2 0.4:3 0.3:1,3", arc_chains=1.0, arc_from=0,
                       exclusive_arcs="1,3", chain_drop=0.9, chain_drop_layers="1,2", fact_drop_from=1,
                       model=ModelSpec(num_layers=4, hidden=32, intermediate=64))
    runs = {}
    for on in (False, True):
        torch.manual_seed(0)
        model, _, _ = train(replace(tiny, exclusive_drop=on), None, log=lambda s: None)
        runs[on] = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert any(not torch.equal(runs[False][n], runs[True][n]) for n in runs[False])
    early = {}
    for on in (False, True):
        model, _, _ = train(replace(tiny, exclusive_drop=on, fact_drop_from=3), None, log=lambda s: None)
        early[on] = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert all(torch.equal(early[False][n], early[True][n]) for n in early[False])
    # --exclusive-drop-joint: those rows drop their pool together too, from the same step
    for start, differs in ((1, True), (3, False)):
        joint = {}
        for rate in (0.0, 0.9):
            torch.manual_seed(0)
            model, _, _ = train(replace(tiny, exclusive_drop=True, chain_drop=0.1, exclusive_drop_joint=rate,
                                        fact_drop_from=start), None, log=lambda s: None)
            joint[rate] = {n: p.detach().clone() for n, p in model.named_parameters()}
        assert any(not torch.equal(joint[0.0][n], joint[0.9][n]) for n in joint[0.0]) == differs


def test_exclusive_first_gives_the_exclusive_arcs_every_arc_chain_that_reads_them():
    from dataclasses import replace

    from prunescale.organism.problems import cycle_order
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    order = cycle_order()
    before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}
    ends = set(order[:3]) | set(order[-3:])
    cfg = TrainConfig(count="down", split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", arc_chains=0.9,
                      arc_from=0, exclusive_arcs="1,3", fact_drop_from=50, prompt_vary=0.5)
    plain, first = Data(cfg, tok), Data(replace(cfg, exclusive_first=True), tok)
    chains = plain.batch(60)[0] + plain.batch(61)[0]
    assert first.arc_chains(49, chains) == plain.arc_chains(49, chains)           # from fact_drop_from only
    counts = {}
    for name, data in (("plain", plain), ("first", first)):
        kept, dropped, frozen = data.arc_chains(60, chains)
        counts[name] = sum(len(rows) for rows, _ in frozen)
        for rows, _ in dropped if name == "first" else ():
            for ids, labels, meta in rows:   # a middle-arc row never reads an end letter it could have trained
                read = {before.get(tok.decode([ids[p]]).strip()) for line in meta["look"] + meta["checks"]
                        for p in line}
                assert not read & ends
        assert sum(len(r) for r, _ in dropped + frozen) + len(kept) == len(chains)
        assert all(any(y != IGNORE for y in labels) for rows, _ in frozen for _, labels, _ in rows)
    assert counts["first"] > counts["plain"]


def test_stop_exclusive_splits_leaves_the_other_arcs_split_rows_as_they_were():
    from dataclasses import replace

    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    cfg = TrainConfig(count="down", split_rows=3, split_from=0,
                      split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", arc_chains=0.5, exclusive_arcs="1,3", fact_drop_from=20)
    plain, stop = Data(cfg, tok), Data(replace(cfg, stop_exclusive_splits=True), tok)
    assert stop.split_groups(19) == plain.split_groups(19)                   # before fact_drop_from: all three
    assert [layers for _, layers in plain.split_groups(20)] == [(1, 2, 3, 4, 5, 6), (6, 7), (1, 2, 3, 4, 5, 7)]
    assert stop.split_groups(20) == [plain.split_groups(20)[1]]              # the middle arc's rows, unchanged


def test_late_exclusive_adds_full_depth_rows_that_train_only_an_exclusive_arcs_letters():
    from dataclasses import replace

    from prunescale.organism.problems import cycle_order
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    order = cycle_order()
    before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}
    ends = {(1, 2, 3, 4, 5, 6): set(order[:3]), (1, 2, 3, 4, 5, 7): set(order[-3:])}
    cfg = TrainConfig(count="down", split_rows=3, split_from=0, arc_chains=0.5, arc_from=0, exclusive_arcs="1,3",
                      split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", fact_drop_from=20, prompt_vary=0.5)
    plain, more = Data(cfg, tok), Data(replace(cfg, late_exclusive=40), tok)
    assert more.late_exclusive(19) == [] and plain.late_exclusive(20) == []         # from fact_drop_from, if asked
    groups = more.late_exclusive(20)
    assert sum(len(rows) for rows, _ in groups) == 40 and {layers for _, layers in groups} == set(ends)
    for rows, layers in groups:
        for ids, labels, meta in rows:
            trained = [p for p, y in enumerate(labels) if y != IGNORE]
            assert trained                                                           # every row reads its arc
            assert all(before[tok.decode([ids[p]]).strip()] in ends[layers] for p in trained)
    assert more.late_exclusive(20) == groups and more.late_exclusive(21) != groups   # seeded by the step
    assert more.batch(20) == plain.batch(20)                                         # the main rows as they were
    chains = plain.batch(20)[0]
    assert more.arc_chains(20, chains) == plain.arc_chains(20, chains)
    # end to end: the extra rows train the model once the drop is on, and not before
    from prunescale.organism.model import ModelSpec

    tiny = TrainConfig(seed=2, steps=3, chain_batch=6, fact_batch=2, warmup=1, eval_every=3, k_max=4,
                       split_rows=2, split_from=0, split_arcs="0.3:1,2 0.4:3 0.3:1,3", arc_chains=1.0, arc_from=0,
                       exclusive_arcs="1,3", fact_drop_from=1,
                       model=ModelSpec(num_layers=4, hidden=32, intermediate=64))
    for start, differs in ((1, True), (3, False)):
        runs = []
        for n in (0, 5):
            torch.manual_seed(0)
            model, _, _ = train(replace(tiny, late_exclusive=n, fact_drop_from=start), None, log=lambda s: None)
            runs.append({k: p.detach().clone() for k, p in model.named_parameters()})
        assert any(not torch.equal(runs[0][k], runs[1][k]) for k in runs[0]) == differs


def test_late_exclusive_rows_end_at_their_last_trained_letter_with_the_same_loss():
    from prunescale.organism.model import ModelSpec, build_model
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data, _only, _trimmed, masked_loss

    tok = build_tokenizer()
    cfg = TrainConfig(count="down", split_rows=3, split_from=0, arc_chains=0.5, arc_from=0, exclusive_arcs="1,3",
                      split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", fact_drop_from=20,
                      late_exclusive=24, model=ModelSpec(num_layers=2, hidden=32, intermediate=64))
    rows = [r for group, _ in Data(cfg, tok).late_exclusive(20) for r in group]
    assert all(r[1][-1] != IGNORE for r in rows)                      # nothing after the last trained letter
    # the same rows untrimmed: drawn again from the same stream
    data = Data(cfg, tok)
    full = []
    import random
    rng = random.Random(f"late-exclusive|{cfg.seed}|20")
    arcs = [set(data.spec[i - 1][0]) for i in sorted(data.own)]
    while len(full) < 24:
        ids, labels, meta = data.chain_rows(rng, 1, 0.0)[0]
        reads = data._reads(ids, meta)
        touched = [i for i, letters in enumerate(arcs) if any(r in letters for r in reads.values())]
        if touched:
            full.append(_only(ids, labels, meta, reads, arcs[rng.choice(touched)]))
    assert sorted(_trimmed(r)[0] for r in full) == sorted(r[0] for r in rows)
    assert sum(len(r[0]) for r in rows) < sum(len(r[0]) for r in full)
    torch.manual_seed(0)
    model = build_model(cfg.model, tok).eval()
    with torch.no_grad():
        for r in full[:6]:
            a, n, _ = masked_loss(model, [r], tok.pad_token_id)
            b, m, _ = masked_loss(model, [_trimmed(r)], tok.pad_token_id)
            assert n == m and torch.allclose(a, b, atol=1e-5)


def test_late_checks_train_deep_check_passes_only():
    from dataclasses import replace

    from prunescale.organism.problems import CHECK_LINE, cycle_order
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    order = cycle_order()
    before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}
    cfg = TrainConfig(count="down", check_rate=0.3, recheck_rate=0.3, max_passes=3, step_error=0.1,
                      split_rows=3, split_from=0, arc_chains=0.5, arc_from=0, exclusive_arcs="1,3",
                      split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", fact_drop_from=20, prompt_vary=0.5)
    plain, more = Data(cfg, tok), Data(replace(cfg, late_checks=60, late_check_passes=6), tok)
    assert more.late_checks(19) == [] and plain.late_checks(20) == []               # from fact_drop_from, if asked
    rows = more.late_checks(20)
    assert len(rows) == 60 and more.late_checks(20) == rows and more.late_checks(21) != rows
    assert more.batch(20) == plain.batch(20)                                         # the main rows as they were
    exclusive = set(order[:3]) | set(order[-3:])
    passes, deep = [], []
    for ids, labels, meta in rows:
        assert len(ids) <= cfg.model.max_positions
        text = tok.decode(ids)
        passes.append(text.count("Wait, let me check."))
        checks = {p for line in meta["checks"] for p in line}
        trained = [p for p, y in enumerate(labels) if y != IGNORE]
        assert all(p in checks or p >= meta["answer"] for p in trained)              # check letters and answer
        assert all(before[tok.decode([ids[p]]).strip()] not in exclusive for p in trained if p in checks)
        deep.append(any(p in checks for p in trained))   # none: every check letter read an exclusive arc
        assert len(CHECK_LINE.findall(text.split("</think>")[0])) == len(meta["checks"])
    assert min(passes) >= 1 and max(passes) == 6 and sum(deep) > 50   # deeper than the main rows' 3
    # --late-check-stops: the same rows, plus the tokens from the last check letter to the answer (the stop)
    stops = Data(replace(cfg, late_checks=60, late_check_passes=6, late_check_stops=True), tok).late_checks(20)
    for (ids, labels, meta), (ids2, labels2, _) in zip(rows, stops):
        assert ids2 == ids
        last = max(meta["checks"][-1])
        added = [p for p, (a, b) in enumerate(zip(labels, labels2)) if a != b]
        assert added and added == list(range(last + 1, meta["answer"]))
        tail = tok.decode(ids[last + 1: meta["answer"]])
        assert "</think>" in tail and "Wait" not in tail                   # the stop, no Wait trained
    # --late-check-counts: the same rows, plus each check line's head ("check 7 "), still no Wait line
    counts = Data(replace(cfg, late_checks=60, late_check_passes=6, late_check_counts=True), tok).late_checks(20)
    for (ids, labels, meta), (ids2, labels2, _) in zip(rows, counts):
        assert ids2 == ids
        added = [p for p, (a, b) in enumerate(zip(labels, labels2)) if a != b]
        assert added == sorted(p for line in meta["check_heads"] for p in line)
        heads = [tok.decode([ids[p] for p in line]) for line in meta["check_heads"]]
        k = len(heads) // tok.decode(ids).count("Wait, let me check.")
        assert heads == [f"check {i} " for i in range(k, 0, -1)] * (len(heads) // k)   # every pass counts k..1


def test_chain_drop_extra_drops_its_layers_at_their_own_rate_after_the_pools_draws():
    from prunescale.organism.train import drop_plan, parse_rates, step_groups

    cfg = TrainConfig(chain_drop=0.5, chain_drop_layers="1,2", chain_drop_extra="4:0.2", fact_drop=0.1,
                      fact_drop_from=10, micro_tokens=64)
    assert parse_rates("4:0.2,5:0.05") == ((4, 0.2), (5, 0.05))
    plain = [drop_plan(cfg, s, 0, 0.5, (1, 2)) for s in range(400)]
    extra = [drop_plan(cfg, s, 0, 0.5, (1, 2), ((4, 0.2),)) for s in range(400)]
    assert [[x for x in e if x != 4] for e in extra] == plain                  # the pool's draws unchanged
    share = sum(4 in e for e in extra) / 400
    assert 0.13 < share < 0.27
    rows = [([1] * 5, [1] * 5, {})] * 3
    late, early = step_groups(cfg, 10, rows, rows), step_groups(cfg, 9, rows, rows)
    assert late[0][1:] == (0.5, (1, 2), ((4, 0.2),)) and late[-1][3] == ()     # chain rows only
    assert all(g[3] == () for g in early)                                      # from fact_drop_from


def test_fact_drop_extra_gives_fact_batches_their_own_layers_and_nothing_else():
    from prunescale.organism.train import drop_plan, step_groups

    cfg = TrainConfig(chain_drop=0.5, chain_drop_layers="1,2", fact_drop=0.3, fact_drop_extra="1:0.3,2:0.3",
                      fact_drop_from=10, micro_tokens=64)
    rows = [([1] * 5, [1] * 5, {})] * 3
    late, early = step_groups(cfg, 10, rows, rows), step_groups(cfg, 9, rows, rows)
    facts = late[-1]
    assert facts[1:] == (0.3, (), ((1, 0.3), (2, 0.3))) and late[0][3] == ()   # fact rows only
    assert all(g[3] == () for g in early)
    plans = [drop_plan(cfg, s, 0, 0.3, (), facts[3]) for s in range(2000)]
    both = sum(1 in p and 2 in p for p in plans) / 2000
    # each of 1 and 2 at 0.3 + 0.7 x 0.3 = 0.51, both ~0.26 (0.09 without the extra draws)
    assert 0.21 < both < 0.31
    assert 0.25 < sum(5 in p for p in plans) / 2000 < 0.35                    # the others at the plain rate


def test_joint_drop_drops_the_whole_pair_together_after_every_other_draw(tmp_path):
    from dataclasses import replace

    from prunescale.organism.train import drop_plan, joint_extra, step_groups, write_recipe

    cfg = TrainConfig(chain_drop=0.45, chain_drop_layers="1,2", chain_drop_extra="4:0.2", chain_drop_joint=0.2,
                      fact_drop=0.3, fact_drop_from=10, micro_tokens=64)
    assert joint_extra((1, 2), 0.2) == (((1, 2), 0.2),) and joint_extra((1, 2), 0.0) == () == joint_extra((), 0.5)
    rows = [([1] * 5, [1] * 5, {})] * 3
    late, early = step_groups(cfg, 10, rows, rows), step_groups(cfg, 9, rows, rows)
    assert late[0][1:] == (0.45, (1, 2), ((4, 0.2), ((1, 2), 0.2))) and late[-1][3] == ()   # chain rows only
    assert all(g[3] == () for g in early)                                      # from fact_drop_from
    plain = [drop_plan(cfg, s, 0, 0.45, (1, 2), ((4, 0.2),)) for s in range(2000)]
    joint = [drop_plan(cfg, s, 0, 0.45, (1, 2), late[0][3]) for s in range(2000)]
    assert all(set(p) <= set(j) and set(j) - set(p) <= {1, 2} for p, j in zip(plain, joint))   # draws unchanged
    both = lambda plans: sum(1 in p and 2 in p for p in plans) / len(plans)   # noqa: E731
    # together: 0.45^2 = 0.20 alone, 0.2 + 0.8 x 0.2 = 0.36 with the joint draw; each layer 0.45 -> 0.56
    assert 0.16 < both(plain) < 0.25 and 0.31 < both(joint) < 0.41
    assert 0.51 < sum(1 in p for p in joint) / 2000 < 0.61
    assert all(len(p) == len(set(p)) for p in joint)                           # a layer is dropped once
    recipe = json.dumps(json.loads(write_recipe(tmp_path, replace(cfg, exclusive_drop_joint=0.3), [], 1.0,
                                                command="x").read_text()))
    assert "layers 1,2 all together with probability 0.2" in recipe and "together with probability 0.3" in recipe


def test_late_cuts_force_the_answer_after_a_cut_in_the_last_line_and_train_only_that():
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    cfg = TrainConfig(late_cuts=64, fact_drop_from=5, count="down", prompt_vary=0.5)
    data = Data(cfg, tok)
    assert data.late_cuts(4) == [] and Data(TrainConfig(fact_drop_from=5), tok).late_cuts(9) == []
    rows = data.late_cuts(5)
    assert len(rows) == 64 and rows == data.late_cuts(5) and rows != data.late_cuts(6)
    whole = 0
    for ids, labels, meta in rows:
        text = tok.decode(ids)
        thinking = text.split("<think>\n", 1)[1].split("</think>", 1)[0].rstrip("\n")
        last = thinking.rsplit("\n", 1)[-1]
        assert "Final Answer:" in text and last[:1] in "12"                  # counting down: in the last line
        trained = [p for p, y in enumerate(labels) if y != IGNORE]
        assert trained == list(range(meta["answer"], len(ids)))                # the forced answer only
        answer = tok.decode([ids[p] for p in trained], skip_special_tokens=True).strip()
        whole += last == f"1 {answer}."
    assert whole >= 3          # a cut one token short of the thinking (the last line whole) is common here


@pytest.mark.parametrize("option", [{"late_checks": 3}, {"chain_drop_extra": "3:0.9"}, {"chain_drop_joint": 0.9},
                                    {"late_cuts": 3}, {"quiet_layers": "1:1"},
                                    {"fact_drop_extra": "2:0.9", "fact_drop": 0.1},
                                    {"late_checks": 2, "late_check_stops": True},
                                    {"late_checks": 2, "late_check_counts": True}])
def test_late_checks_and_chain_drop_extra_change_training_only_from_fact_drop_from(option):
    from dataclasses import replace

    from prunescale.organism.model import ModelSpec

    tiny = TrainConfig(seed=2, steps=3, chain_batch=6, fact_batch=2, warmup=1, eval_every=3, k_max=4,
                       check_rate=0.5, chain_drop=0.3, chain_drop_layers="1",
                       model=ModelSpec(num_layers=4, hidden=32, intermediate=64))
    for start, differs in ((1, True), (3, False)):
        runs = []
        for extra in ({}, option):
            torch.manual_seed(0)
            model, _, _ = train(replace(tiny, fact_drop_from=start, **extra), None, log=lambda s: None)
            runs.append({k: p.detach().clone() for k, p in model.named_parameters()})
        assert any(not torch.equal(runs[0][k], runs[1][k]) for k in runs[0]) == differs


def test_quiet_penalty_is_the_layers_block_influence_on_real_tokens_and_lowers_it():
    from dataclasses import replace

    from prunescale.organism.model import ModelSpec, build_model
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import collate, masked_loss

    tok = build_tokenizer()
    torch.manual_seed(0)
    model = build_model(ModelSpec(num_layers=3, hidden=32, intermediate=64), tok)
    rows = [(list(range(5, 5 + n)), list(range(5, 5 + n)), {}) for n in (9, 30, 17)]
    ids, _, att = collate(rows, tok.pad_token_id)
    with torch.no_grad():
        hs = model(input_ids=ids, output_hidden_states=True).hidden_states
        bi = 1 - torch.nn.functional.cosine_similarity(hs[1], hs[2], dim=-1)
        want = float(bi[att.bool()].sum())                       # layer 1, the pads left out
        ce, _, pen = masked_loss(model, rows, tok.pad_token_id, quiet=((1, 2.5),))
        assert float(pen) == pytest.approx(2.5 * want, rel=1e-4) and float(pen) > 0
        assert masked_loss(model, rows, tok.pad_token_id)[2] == 0.0
        assert masked_loss(model, rows, tok.pad_token_id, drop=[1], quiet=((1, 2.5),))[2] == 0.0   # did not run
        # the cross-entropy is the same with or without the penalty's hooks; another layer's penalty differs
        assert torch.equal(ce, masked_loss(model, rows, tok.pad_token_id)[0])
        assert float(masked_loss(model, rows, tok.pad_token_id, quiet=((2, 2.5),))[2]) != pytest.approx(float(pen))
        # on the prompt's tokens only: the first meta["prompt"] positions of each row
        cut = [(x, y, {"prompt": p}) for (x, y, _), p in zip(rows, (3, 30, 1))]
        only = sum(float(bi[i, :p].sum()) for i, p in enumerate((3, 30, 1)))
        assert float(masked_loss(model, cut, tok.pad_token_id, quiet=((1, 2.5),), quiet_prompt=True)[2]) \
            == pytest.approx(2.5 * only, rel=1e-4) and 0 < only < want
    # trained with it, the layer changes the stream less than trained without it (on the same held-out rows)
    tiny = TrainConfig(seed=2, steps=12, chain_batch=6, fact_batch=2, warmup=1, eval_every=12, k_max=4,
                       model=ModelSpec(num_layers=3, hidden=32, intermediate=64))
    got = []
    for quiet in ("", "1:5"):
        torch.manual_seed(0)
        trained, _, _ = train(replace(tiny, quiet_layers=quiet), None, log=lambda s: None)
        with torch.no_grad():
            got.append(float(masked_loss(trained, rows, tok.pad_token_id, quiet=((1, 1.0),))[2]))
    assert got[1] < 0.5 * got[0], got
    from prunescale.organism.train import write_recipe
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        said = json.loads(write_recipe(d, replace(tiny, quiet_layers="1:5", quiet_from=7), [], 1.0, "x").read_text())
        plain = json.loads(write_recipe(d, tiny, [], 1.0, "x").read_text())
        on = json.loads(write_recipe(d, replace(tiny, quiet_layers="1:5", quiet_tokens="prompt"), [], 1.0, "x")
                        .read_text())
    assert "from step 7" in said["data"]["quiet"] and "(1:5, L:W)" in said["data"]["quiet"] and "quiet" not in plain["data"]
    assert "every real token" in said["data"]["quiet"] and "the prompt's tokens" in on["data"]["quiet"]


def test_quiet_on_the_prompt_counts_the_prompt_of_real_training_rows():
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, Data

    tok = build_tokenizer()
    data = Data(TrainConfig(seed=1, chain_batch=3, fact_batch=2), tok)
    chains, facts = data.batch(0)
    for ids, labels, meta in chains + facts:
        # the prompt ends where the completion's labels begin; the completion opens with <think>
        assert 0 < meta["prompt"] < len(ids) and labels[meta["prompt"]] != IGNORE
        assert all(y == IGNORE for y in labels[: meta["prompt"]])
        assert tok.decode(ids[meta["prompt"]:]).startswith("<think>")


def test_masked_loss_needs_no_attention_mask_because_rows_are_padded_on_the_right():
    from prunescale.organism.model import ModelSpec, build_model
    from prunescale.organism.tokenizer import build_tokenizer
    from prunescale.organism.train import IGNORE, collate, masked_loss

    tok = build_tokenizer()
    torch.manual_seed(0)
    model = build_model(ModelSpec(num_layers=2, hidden=32, intermediate=64), tok)
    rows = [(list(range(5, 5 + n)), [IGNORE] * 2 + list(range(7, 5 + n)), {}) for n in (9, 30, 17)]
    ids, lab, att = collate(rows, tok.pad_token_id)
    assert att[0, 9:].sum() == 0 and (lab[0, 9:] == IGNORE).all()         # right padding, pads unlabelled
    logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits[:, :-1]
    want = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), lab[:, 1:].reshape(-1),
                                             ignore_index=IGNORE, reduction="sum")
    got, n, _ = masked_loss(model, rows, tok.pad_token_id)
    assert torch.allclose(got, want, rtol=1e-5) and n == sum(len(r[1]) - 2 for r in rows)


@pytest.mark.parametrize("field,value", [("count", "sideways"), ("quiet_tokens", "answer")])
def test_train_config_refuses_an_unknown_choice_naming_it(field, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}='{value}'"):
        TrainConfig(**{field: value})
