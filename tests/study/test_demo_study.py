"""The built-in demo study declares what `make demo` promises (the run itself is timed by `make demo`)."""

from __future__ import annotations

from prunescale.cli.demo import DEMO_STUDY
from prunescale.study.spec import load_study


def test_demo_study_covers_the_promised_grid():
    study = load_study(DEMO_STUDY)
    organism = [c for c in study.cells() if c.variant.model == "embedded:organism"]
    smol = [c for c in study.cells() if c.variant.model == "embedded:smollm2-135m"]
    assert {(c.variant.method, c.variant.n_removed) for c in organism} == \
        {(None, 0)} | {(m, n) for m in ("shortgpt", "reverse", "laco") for n in (1, 2)}
    chain = [c for c in organism if c.kind == "long_chain"]
    facts = [c for c in organism if c.kind == "knowledge"]
    assert len(facts) == 7 and len(chain) == 7 * (3 + 5)
    # the chain-length view: greedy chains of 1, 2, 4, 8 and 16 steps at a budget every length fits
    lengths = {c.task for c in chain if c.label.startswith("len-")}
    assert lengths == {f"organism-chain:k={k}" for k in (1, 2, 4, 8, 16)}
    assert all(c.eval["temperature"] == 0 and c.eval["budgets"] == [128] for c in chain if c.label.startswith("len-"))
    by_label = {}
    for c in chain:
        by_label.setdefault(c.label, []).append(c)
    # sequential scaling on mixed lengths (a gradual curve), parallel at T=1 with enough samples for pass@k to
    # move, and a Wait setting on the same chains
    mixed, par, wait = by_label["chain-mixed"][0].eval, by_label["chain-k8"][0].eval, by_label["chain-k8-wait"][0].eval
    assert by_label["chain-mixed"][0].task == "organism-chain:k=4-16" and len(mixed["budgets"]) >= 5
    assert par["temperature"] == 1.0 and par["samples"] >= 16
    assert wait["waits"] >= 1 and wait["temperature"] == 1.0 and wait["samples"] >= 8
    assert {c.variant.variant for c in smol} == {"base", "shortgpt-2", "reverse-2"}
    assert all(c.task == "mini-math" for c in smol)
    # the organism's answer phase ("\nFinal Answer: xy<|im_end|>") is 18 character tokens: a smaller cap
    # would cut every answer off and read as accuracy 0
    assert all(c.eval.get("answer_tokens", 512) >= 24 for c in organism)


def test_studies_demo_yaml_is_the_built_in_study():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    assert (repo / "studies" / "demo.yaml").read_text() == DEMO_STUDY.read_text()
