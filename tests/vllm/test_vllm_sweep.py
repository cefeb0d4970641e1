"""Shared-prefix budget sweeps on vLLM (CPU): every budget derived from one run per sample equals the run
generated at that budget on its own, greedy and seeded, with Waits and no cap, in fewer engine tokens."""

import pytest

pytest.importorskip("vllm", reason="vllm is not importable here: `make test` runs these tests in .venv-vllm "
                    "(`make vllm-venv`)")

from dataclasses import replace

from prunescale.generate import Forcing, Request, Sampling
from prunescale.generate.base import Backend, build
from prunescale.tasks import get_task

from .conftest import vllm_config


@pytest.fixture(scope="module")
def engine():
    v = build(vllm_config())
    yield v.backend
    v.backend.close()


@pytest.fixture(scope="module")
def chains():
    return [Request(p.prompt, 100 + i, key=(p.id,)) for i, p in
            enumerate(get_task("organism-chain:k=2-16").load(None, 8))]


def both(be, reqs, budgets, forcing, sampling):
    """(shared, independent) sweeps without wall times, and the segments each sent."""
    strip = lambda out: {b: [replace(s, wall_s=0.0) for s in v] for b, v in out.items()}  # noqa: E731
    n0 = be.segments
    shared = strip(be.generate_sweep(reqs, budgets, forcing, sampling))
    n1 = be.segments
    independent = strip(Backend.generate_sweep(be, reqs, budgets, forcing, sampling))
    return shared, independent, n1 - n0, be.segments - n1


@pytest.mark.parametrize("waits", [0, 1, 2])
def test_greedy_shared_equals_independent(engine, chains, waits):
    forcing = Forcing(budget=None, waits=waits, answer_tokens=24, max_tokens=300)
    budgets = [8, 24, 40, 64, 120, None]
    shared, independent, n_shared, n_independent = both(engine, chains, budgets, forcing, Sampling(temperature=0))
    assert shared == independent
    assert all(s.forced for s in shared[8])
    if waits:   # Waits before the cut are kept, those after it are not
        assert any(a.waits < b.waits for a, b in zip(shared[24], shared[None]))
    else:       # some rows ended before 64 (that budget's sample is the lead's), some did not
        assert 0 < sum(not s.forced for s in shared[64]) < len(chains)
    assert n_shared < n_independent


def test_seeded_shared_equals_independent(engine, chains):
    """Each segment samples with the request's seed: a lead's thinking segment extends the smaller budget's,
    and a twin's answer segment is the one the smaller run sends."""
    forcing = Forcing(budget=None, waits=1, answer_tokens=16, max_tokens=200)
    shared, independent, *_ = both(engine, chains, [16, 40, 64, None], forcing, Sampling(temperature=1.0))
    assert shared == independent
    assert len({s.text for s in shared[None]}) > 1


def test_eval_cli_shared_equals_independent(tmp_path):
    """`prunescale eval --backend vllm`, both sweeps: the same rows."""
    import sqlite3

    from prunescale.cli.main import main

    args = ["--model", "embedded:organism", "--backend", "vllm", "--enforce-eager", "--task",
            "organism-chain:k=8", "--budgets", "16,40,none", "--samples", "2", "--limit", "4", "--wait", "1",
            "--temperature", "0", "--answer-tokens", "24", "--max-tokens", "200"]
    rows = {}
    for mode in ("shared", "independent"):
        assert main(["eval", *args, "--sweep", mode, "--out", str(tmp_path / mode)]) == 0
        with sqlite3.connect(tmp_path / mode / "results.sqlite") as db:
            rows[mode] = db.execute("SELECT task, problem_id, budget, seed, sample_idx, text, thinking, answer_text, "
                                    "thinking_tokens, answer_tokens, forced, waits, finished, correct "
                                    "FROM generations ORDER BY 1, 2, 3, 4, 5").fetchall()
    assert len(rows["shared"]) == 4 * 2 * 3 and rows["shared"] == rows["independent"]
