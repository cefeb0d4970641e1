"""Late options of the organism's recipe: forget rows (unlikelihood on the exclusive arcs' letters without their
homes) and the annealed step error. Both change nothing before their first step, so a trunk forks into them."""

import argparse
import json
import tempfile
from dataclasses import replace

import pytest
import torch

from prunescale.cli import organism as organism_cli
from prunescale.errors import PrunescaleError
from prunescale.organism.checkpoint import load_checkpoint
from prunescale.organism.model import ModelSpec, build_model
from prunescale.organism.problems import cycle_order
from prunescale.organism.tokenizer import build_tokenizer
from prunescale.organism.train import (IGNORE, Data, TrainConfig, collate, dropped_layers, train, unlikelihood,
                                       write_recipe)

ARCS = dict(count="down", split_rows=3, split_from=0, arc_chains=0.5, arc_from=0, exclusive_arcs="1,3",
            split_arcs="0.12:1,2,3,4,5,6 0.76:6,7 0.12:1,2,3,4,5,7", fact_drop_from=20, prompt_vary=0.5)
TINY = TrainConfig(seed=2, steps=4, chain_batch=6, fact_batch=2, warmup=1, eval_every=4, k_max=4, split_rows=2,
                   split_from=0, split_arcs="0.3:1,2 0.4:3 0.3:1,3", arc_chains=1.0, arc_from=0,
                   exclusive_arcs="1,3", fact_drop_from=1, model=ModelSpec(num_layers=4, hidden=32, intermediate=64))


def _weights(cfg):
    torch.manual_seed(0)
    model, _, _ = train(cfg, None, log=lambda s: None)
    return {k: p.detach().clone() for k, p in model.named_parameters()}


def test_forget_rows_read_an_exclusive_arc_and_are_labelled_on_its_letters_only():
    tok = build_tokenizer()
    order = cycle_order()
    before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}
    exclusive = set(order[:3]) | set(order[-3:])
    cfg = TrainConfig(**ARCS)
    plain = Data(cfg, tok)
    more = Data(replace(cfg, forget_rows=24, forget_layers="6,7", forget_from=25), tok)
    assert plain.forget_rows(30) == [] and more.forget_rows(24) == []        # if asked, and from forget_from
    rows = more.forget_rows(25)
    assert len(rows) == 24
    for ids, labels, meta in rows:
        trained = [p for p, y in enumerate(labels) if y != IGNORE]
        assert trained and all(before[tok.decode([ids[p]]).strip()] in exclusive for p in trained)
        assert len(ids) == trained[-1] + 1                                       # nothing after the last letter
    assert more.forget_rows(25) == rows and more.forget_rows(26) != rows         # seeded by the step
    assert more.batch(25) == plain.batch(25)                                     # the main rows as they were
    assert more.forget_rows(40) == Data(replace(cfg, forget_rows=24, forget_layers="6,7"), tok).forget_rows(40)


def test_forget_letters_are_unlearned_without_the_layers_and_trained_only_at_full_depth_from_forget_from():
    tok = build_tokenizer()
    order = cycle_order()
    before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}
    exclusive = set(order[:3]) | set(order[-3:])
    cfg = TrainConfig(**ARCS)
    moved = Data(replace(cfg, forget_rows=24, forget_layers="6,7", forget_from=25, forget_letters="h"), tok)
    plain = Data(cfg, tok)

    def reads_of(rows):   # the entries each row is trained on
        return [{before[tok.decode([ids[p]]).strip()] for p, y in enumerate(labels)
                 if y != IGNORE and tok.decode([ids[p]]).strip() in before} for ids, labels, _ in rows]

    rows = moved.forget_rows(25)
    assert all(r <= exclusive | {"h"} for r in reads_of(rows)) and any("h" in r for r in reads_of(rows))
    for step, trains_h in ((24, True), (25, False)):
        splits = [r for rows, _ in moved.split_groups(step) for r in rows]
        assert splits and any("h" in r for r in reads_of(splits)) == trains_h
        chains = moved.batch(step)[0]
        kept, arcs, frozen = moved.arc_chains(step, chains)
        assert any("h" in r for rows, _ in arcs for r in reads_of(rows)) == trains_h
        assert (kept, frozen) == plain.arc_chains(step, chains)[::2]      # full-depth rows as they were
    # the other labels of a split row stay: counts, stop and answer included
    a = [r for rows, _ in moved.split_groups(25) for r in rows]
    b = [r for rows, _ in plain.split_groups(25) for r in rows]
    for (ids, la, meta), (_, lb, _) in zip(a, b):
        reads = moved._reads(ids, meta)
        assert all(x == y or reads.get(p) == "h" for p, (x, y) in enumerate(zip(la, lb)))


def test_unlikelihood_is_minus_log_one_minus_p_of_each_label_under_the_drop():
    tok = build_tokenizer()
    torch.manual_seed(0)
    model = build_model(ModelSpec(num_layers=3, hidden=32, intermediate=64), tok)
    rows = [(list(range(5, 5 + n)), [IGNORE] * (n - 3) + list(range(n + 2, n + 5)), {}) for n in (9, 14)]
    ids, lab, _ = collate(rows, tok.pad_token_id)
    with torch.no_grad():
        with dropped_layers(model, [2]):
            probs = torch.softmax(model(input_ids=ids).logits[:, :-1], -1)
        tgt = lab[:, 1:]
        want = sum(-torch.log(1 - probs[i, j, tgt[i, j]]) for i in range(2) for j in range(tgt.size(1))
                   if tgt[i, j] != IGNORE)
        got = unlikelihood(model, rows, tok.pad_token_id, [2])
        assert float(got) == pytest.approx(float(want), rel=1e-4) and float(got) > 0
        assert float(unlikelihood(model, rows, tok.pad_token_id, [])) != pytest.approx(float(got))
    assert len(model.model.layers) == 3                                          # the dropped layer is back


def _mean_p(model, rows, pad, drop):
    ids, lab, _ = collate(rows, pad)
    with torch.no_grad(), dropped_layers(model, drop):
        probs = torch.softmax(model(input_ids=ids).logits[:, :-1], -1)
    tgt = lab[:, 1:]
    keep = tgt != IGNORE
    return float(probs[keep].gather(1, tgt[keep].unsqueeze(1)).mean())


def test_unlikelihood_beside_the_cross_entropy_unlearns_below_the_home_only():
    """The loss train() adds: trained on the same rows with the cross-entropy at full depth, the unlikelihood
    without layers 1 and 3 leaves those letters to layers 1 and 3 (the home) and keeps them at full depth."""
    from prunescale.organism.train import masked_loss

    tok = build_tokenizer()
    rows = Data(replace(TINY, forget_rows=12, forget_layers="1,3", forget_from=0), tok).forget_rows(7)
    got = {}
    for ul in (False, True):
        torch.manual_seed(0)
        model = build_model(TINY.model, tok)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(60):
            opt.zero_grad()
            ce, n, _ = masked_loss(model, rows, tok.pad_token_id)
            loss = ce / n + (unlikelihood(model, rows, tok.pad_token_id, [1, 3]) / n if ul else 0)
            loss.backward()
            opt.step()
        model.eval()
        got[ul] = (_mean_p(model, rows, tok.pad_token_id, [1, 3]), _mean_p(model, rows, tok.pad_token_id, []))
    assert got[False][0] > 0.3 and got[True][0] < 0.1, got          # the drop path computed them, and then not
    assert got[True][1] > 0.8 * got[False][1] and got[False][1] > 0.4, got    # full depth keeps them


def test_forget_and_anneal_change_training_only_from_their_first_step():
    plain = _weights(TINY)
    for late in (dict(forget_rows=3, forget_layers="1,3"), dict(anneal_step_error=0.5)):
        start = "forget_from" if "forget_rows" in late else "anneal_from"
        assert any(not torch.equal(plain[k], v) for k, v in _weights(replace(TINY, **late, **{start: 2})).items())
        assert all(torch.equal(plain[k], v) for k, v in _weights(replace(TINY, **late, **{start: 4})).items())


def test_anneal_sets_the_traces_step_error_from_anneal_from():
    tok = build_tokenizer()
    cfg = TrainConfig(**ARCS, step_error=0.5, check_rate=0.0, late_checks=0)
    data = Data(replace(cfg, anneal_step_error=0.0, anneal_from=30), tok)
    assert data.step_error(29) == 0.5 and data.step_error(30) == 0.0
    assert Data(cfg, tok).step_error(10**6) == 0.5                              # off: step_error throughout
    assert Data(replace(cfg, anneal_step_error=0.1), tok).step_error(20) == 0.1  # -1: from fact_drop_from
    assert data.batch(29) == Data(cfg, tok).batch(29) and data.batch(30) != Data(cfg, tok).batch(30)
    from prunescale.organism.problems import step
    for ids, labels, meta in data.batch(30)[0]:       # no step error: every written state follows the table
        lines = [tok.decode([ids[p] for p in line]).replace(" ", "") for line in meta["look"]]
        prompt = tok.decode(ids[: meta["prompt"]])
        start = prompt.split("start=")[1][:2] if "start=" in prompt else None
        if start and len(lines[0]) == 2:
            states = [start] + lines
            assert all(step(a) == b for a, b in zip(states, states[1:])), states


def test_a_trunk_forks_into_forget_and_anneal_until_they_start(tmp_path):
    cfg = TrainConfig(seed=3, steps=8, fact_drop_from=4, model=ModelSpec(num_layers=2, hidden=32,
                                                                         intermediate=64)).to_dict()
    old = {k: v for k, v in cfg.items() if not k.startswith(("forget", "anneal"))}   # a checkpoint from before them
    path = tmp_path / "checkpoint-4.pt"
    torch.save({"step": 4, "config": old, "model": {}, "opt": {}, "history": []}, path)
    assert load_checkpoint(path, {**cfg, "forget_rows": 8, "forget_layers": "1"})["step"] == 4
    assert load_checkpoint(path, {**cfg, "forget_rows": 8, "forget_layers": "1", "forget_weight": 3.0,
                                  "forget_from": 6, "anneal_step_error": 0.0, "anneal_from": 5})["step"] == 4
    with pytest.raises(PrunescaleError, match=r"--forget-from -1, this run has 3 \(it acts from step 3"):
        load_checkpoint(path, {**cfg, "forget_rows": 8, "forget_layers": "1", "forget_from": 3})
    with pytest.raises(PrunescaleError, match=r"--anneal-from -1, this run has 2 \(it acts from step 2"):
        load_checkpoint(path, {**cfg, "anneal_step_error": 0.0, "anneal_from": 2})


def _cli(argv):
    parser = argparse.ArgumentParser(prog="prunescale")
    organism_cli.register(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(["organism", "train", *argv])
    return args.func(args)


@pytest.mark.parametrize("argv, says", [
    (["--forget-rows", "4"], "--forget-rows 4 needs --exclusive-arcs and --forget-layers"),
    (["--forget-rows", "-1"], "--forget-rows -1 must be at least 0"),
    (["--forget-layers", "1"], "--forget-layers 1 needs --forget-rows"),
    (["--forget-from", "9"], "--forget-from 9 needs --forget-rows"),
    (["--forget-from", "-4"], "--forget-from -4 must be a step"),
    (["--forget-layers", "9"], "--forget-layers"),
    (["--anneal-from", "9"], "--anneal-from 9 needs --anneal-step-error"),
    (["--forget-letters", "h"], "--forget-letters h needs --forget-rows"),
    (["--forget-letters", "hh"], "expected distinct letters a-z"),
    (["--anneal-step-error", "1.5"], "--anneal-step-error 1.5 is not in [0, 1]"),
])
def test_bad_forget_and_anneal_options_are_one_line_errors(tmp_path, argv, says):
    with pytest.raises(PrunescaleError) as e:
        _cli(["--out", str(tmp_path / "o"), "--steps", "1", "--layers", "2", *argv])
    assert says in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "o" / "config.json").exists()


def test_recipe_says_when_forget_and_anneal_act():
    cfg = replace(TINY, forget_rows=5, forget_layers="1,3", forget_weight=2.0, forget_from=7,
                  anneal_step_error=0.03, anneal_from=9, step_error=0.06)
    with tempfile.TemporaryDirectory() as d:
        data = json.loads(write_recipe(d, cfg, [], 1.0, "x").read_text())["data"]
        plain = json.loads(write_recipe(d, TINY, [], 1.0, "x").read_text())["data"]
    assert "from step 7 5 more clean chains" in data["forget"] and "without layers 1,3" in data["forget"]
    assert "2.0 x -log(1 - p)" in data["forget"]
    assert "from step 9" in data["anneal"] and "0.03 instead of 0.06" in data["anneal"]
    assert "forget" not in plain and "anneal" not in plain
