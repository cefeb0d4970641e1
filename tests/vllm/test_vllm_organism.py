"""The vllm backend on the organism, against the hf backend: greedy equality, budget forcing, Waits, the CLI."""

import pytest

pytest.importorskip("vllm", reason="vllm is not importable here: `make test` runs these tests in .venv-vllm "
                    "(`make vllm-venv`)")

import json


from prunescale.generate import PROFILES, Forcing, Request, Sampling
from prunescale.generate.base import build
from prunescale.tasks import get_task

from .conftest import vllm_config

GREEDY = Sampling(temperature=0)


@pytest.fixture(scope="module")
def engines():
    from prunescale.scaling.evaluate import EvalConfig

    v = build(vllm_config())
    h = build(EvalConfig(model="embedded:organism", tasks=[], out="unused"))
    yield v.backend, h.backend
    v.backend.close()


@pytest.fixture(scope="module")
def problems():
    return get_task("organism-chain:k=8").load(None, 12)


def _pairs(engines, problems, forcing, sampling=GREEDY):
    v, h = engines
    reqs = [Request(p.prompt, 100 + i, key=(p.id,)) for i, p in enumerate(problems)]
    return v.generate(reqs, forcing, sampling), h.generate(reqs, forcing, sampling)


def _same(a, b):
    for x, y in zip(a, b):
        assert (x.thinking, x.answer, x.text) == (y.thinking, y.answer, y.text)
        assert (x.thinking_tokens, x.answer_tokens, x.forced, x.waits, x.finished) == \
            (y.thinking_tokens, y.answer_tokens, y.forced, y.waits, y.finished)


def test_greedy_equals_hf_natural_and_forced(engines, problems):
    assert engines[0].profile == PROFILES["organism"]
    for budget in (64, 40, 32):   # 64: natural ends; 40: one token short of the chain (41), forced; 32: early
        v, h = _pairs(engines, problems, Forcing(budget=budget, answer_tokens=32))
        _same(v, h)
        if budget == 32:
            assert all(s.forced and s.thinking_tokens == 32 and s.answer.startswith("\nFinal Answer:") for s in v)
        if budget == 40:
            assert all(s.forced and s.thinking_tokens == 40 for s in v)
            # the forced answer after every step line but the last newline is nearly always right (0.99 on 100)
            assert sum(s.answer.strip().endswith(p.answer) for s, p in zip(v, problems)) >= 0.75 * len(problems)
        if budget == 64:
            assert not any(s.forced for s in v) and all(s.thinking_tokens < 64 for s in v)


def test_waits_equal_hf(engines, problems):
    # each Wait buys a check pass of about 130 tokens (Wait, let me check. + a line per step): room for two
    v, h = _pairs(engines, problems[:4], Forcing(budget=400, waits=2, answer_tokens=16))
    _same(v, h)
    assert all(s.waits == 2 and s.thinking.count("Wait") == 2 for s in v)


def test_sampled_reproducible_whatever_the_batch(engines, problems):
    v = engines[0]
    reqs = [Request(p.prompt, 7 + i, key=(p.id,)) for i, p in enumerate(problems)]
    f, s = Forcing(budget=48, answer_tokens=16), Sampling(temperature=1.0)
    all_at_once = v.generate(reqs, f, s)
    alone = v.generate(reqs[3:4], f, s)[0]
    assert (alone.text, alone.thinking_tokens) == (all_at_once[3].text, all_at_once[3].thinking_tokens)


def test_eval_cli_summary_equals_hf(tmp_path, monkeypatch):
    """The Done-when command (greedy here, so the summaries are equal), in process: one more engine."""
    from prunescale.cli.main import main

    args = ["--model", "embedded:organism", "--task", "organism-chain:k=8", "--budgets", "32,40,64",
            "--samples", "4", "--limit", "16", "--temperature", "0"]
    assert main(["eval", "--backend", "vllm", "--enforce-eager", *args, "--out", str(tmp_path / "v")]) == 0
    assert main(["eval", *args, "--out", str(tmp_path / "h")]) == 0
    v, h = (_untimed(json.loads((tmp_path / d / "summary.json").read_text())["tasks"]) for d in "vh")
    assert v == h
    acc = {b: t["accuracy"] for b, t in v["organism-chain:k=8"]["budgets"].items()}
    assert acc["32"] == 0.0 and acc["40"] >= 0.75 and acc["64"] == 1.0, acc


def _untimed(x):
    """The summary without wall-clock figures (the only thing two backends may differ in, greedy)."""
    if isinstance(x, dict):
        return {k: _untimed(v) for k, v in x.items() if not any(w in k for w in ("wall", "per_s", "seconds"))}
    return x
