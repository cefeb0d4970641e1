"""The built-in demo study declares what `make demo` promises (the run itself is timed by `make demo`)."""

from __future__ import annotations

from prunescale.cli.demo import DEMO_STUDY
from prunescale.study.spec import load_study


def test_demo_study_covers_the_promised_grid():
    study = load_study(DEMO_STUDY)
    organism = [c for c in study.cells() if c.variant.model == "embedded:organism"]
    smol = [c for c in study.cells() if c.variant.model == "embedded:smollm2-135m"]
    assert {(c.variant.method, c.variant.n_removed) for c in organism} == \
        {(None, 0)} | {(m, n) for m in ("shortgpt", "reverse", "laco") for n in (1, 2, 3)}
    chain = [c for c in organism if c.kind == "long_chain"]
    facts = [c for c in organism if c.kind == "knowledge"]
    assert chain and facts and len(chain) == len(facts) == 10
    assert all(len(c.eval["budgets"]) >= 4 and c.eval["samples"] == 8 for c in chain)
    assert {c.variant.variant for c in smol} == {"base", "shortgpt-2", "reverse-2"}
    assert all(c.task == "mini-math" for c in smol)
    # the organism's answer phase ("\nFinal Answer: xy<|im_end|>") is 18 character tokens: a smaller cap
    # would cut every answer off and read as accuracy 0
    assert all(c.eval.get("answer_tokens", 512) >= 24 for c in organism)
