"""The openai backend on the embedded organism (a special ``</think>`` token) against a real `transformers serve`:
the end of thinking read from what the server returns, accuracy equal to the hf backend's, dead replicas."""

import json
import subprocess
import sys

import pytest

from prunescale.errors import PrunescaleError
from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling

from .conftest import free_port

GREEDY = Sampling(temperature=0)
ORGANISM = PROFILES["organism"]


@pytest.fixture(scope="module")
def organism_dir() -> str:
    from prunescale.models.loading import resolve_path

    return str(resolve_path("embedded:organism"))


@pytest.fixture(scope="module")
def served(organism_dir, transformers_serve):
    with transformers_serve(organism_dir) as url:
        yield url


def _backend(organism_dir, urls, **kw):
    from transformers import AutoTokenizer

    kw = {"retries": 1, "backoff": 0.01, **kw}
    return BACKENDS.get("openai")(urls, organism_dir, AutoTokenizer.from_pretrained(organism_dir), ORGANISM, **kw)


# What a server may return, read without a server --------------------------------------------------------------
@pytest.mark.parametrize("choice, want", [
    ({"text": "1 la\n</think>", "finish_reason": "stop"}, ("1 la\n", "stop")),               # stop string kept
    ({"text": "1 la\n", "finish_reason": "stop", "stop_reason": "</think>"}, ("1 la\n", "stop")),      # vLLM
    ({"text": "1 la\n", "finish_reason": "stop", "matched_stop": "</think>"}, ("1 la\n", "stop")),    # SGLang
    ({"text": "1 la\n", "finish_reason": "stop", "token_ids": [9, 5]}, ("1 la\n", "stop")),          # </think> id
    ({"text": "1 la\n", "finish_reason": "stop", "token_ids": [9, 3]}, ("1 la\n", "eos")),           # EOS id
    ({"text": "1 la\n<|im_end|>", "finish_reason": "stop"}, ("1 la\n", "eos")),                     # EOS kept
    ({"text": "1 la\n", "finish_reason": "stop"}, ("1 la\n", "inferred")),      # transformers serve: stripped
    ({"text": "1 la\n", "finish_reason": "length"}, ("1 la\n", None)),
    ({"text": "1 la\n", "finish_reason": "abort"}, ("1 la\n", None)),
])
def test_end_of_thinking_read_from_the_reply(organism_dir, choice, want):
    be = _backend(organism_dir, ["http://127.0.0.1:9"])
    assert be._read_end(choice, choice["text"], ["</think>"]) == want


@pytest.mark.parametrize("think, want", [
    ({"finish_reason": "stop", "stop_reason": "</think>"}, (True, True)),    # vLLM: answer asked, finished
    ({"finish_reason": "stop", "token_ids": [9, 3]}, (False, True)),         # EOS: done like hf, no answer
    ({"finish_reason": "abort"}, (False, False)),                            # the server gave up: unfinished
])
def test_forcing_follows_the_reported_end(organism_dir, monkeypatch, think, want):
    """The forcing loop on replies a server other than transformers serve gives (vLLM, SGLang)."""
    be = _backend(organism_dir, ["http://127.0.0.1:9"])
    replies = iter([{"choices": [{"text": "1 la\n", **think}], "usage": {"completion_tokens": 6}},
                    {"choices": [{"text": "\nFinal Answer: la", "finish_reason": "stop"}]}])
    bodies = []
    monkeypatch.setattr(be, "_call", lambda path, body: bodies.append(body) or next(replies))
    s = be.generate([Request("start=ab steps=1", 0)], Forcing(budget=64, answer_tokens=32), GREEDY)[0]
    assert (bool(s.answer), s.finished) == want and s.thinking_tokens == 5 and not s.forced
    assert bodies[0]["skip_special_tokens"] is False and bodies[0]["stop"] == ["</think>"]


# Against transformers serve ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_special_end_of_thinking_starts_the_answer(organism_dir, served):
    """transformers serve strips the special </think> (and rejects skip_special_tokens): the early stop is
    read as the end of thinking, the answer follows, and the row is finished."""
    from prunescale.tasks import get_task

    p = get_task("organism-chain:k=8").load(limit=1)[0]
    be = _backend(organism_dir, [served])
    s = be.generate([Request(p.prompt, 0)], Forcing(budget=64, answer_tokens=32), GREEDY)[0]
    assert not be._keep_special   # learnt from the server's HTTP 422, then asked without it
    assert (s.forced, s.finished, s.thinking_tokens, s.extra) == (False, True, 41, {"think_end": "inferred"})
    assert s.answer.startswith("\nFinal Answer:") and s.answer.split(":")[1].strip() == p.answer
    assert s.text == s.thinking + "</think>" + s.answer


def _eval(backend: str, out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prunescale", "eval", "--model", "embedded:organism",
                           "--backend", backend, *extra, "--task", "organism-chain:k=8", "--limit", "8",
                           "--budgets", "32,40,64", "--answer-tokens", "32", "--temperature", "0",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)


def _rows(out) -> dict:
    from prunescale.scaling.store import Store

    store = Store(out / "results.sqlite")
    try:
        keys = ("text", "extracted", "correct", "forced", "finished", "thinking_tokens", "waits")
        return {(r["budget"], r["problem_id"]): {k: r[k] for k in keys} for r in store.rows()}
    finally:
        store.close()


@pytest.mark.slow
def test_accuracy_equals_the_hf_backend_through_the_cli(organism_dir, served, tmp_path):
    """Full pipeline, greedy: the same answers, grades and forcing per row, hence the same accuracy per
    budget; the openai run has a dead replica first in its list, which costs a warning and nothing else."""
    r = _eval("hf", tmp_path / "hf")
    assert r.returncode == 0, r.stderr
    dead = f"http://user:secret@127.0.0.1:{free_port()}"
    r = _eval("openai", tmp_path / "oa", "--base-url", dead, "--base-url", served, "--served-model", organism_dir)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0] and "secret" not in r.stderr
    hf, oa = _rows(tmp_path / "hf"), _rows(tmp_path / "oa")
    assert len(hf) == 24 and oa == hf
    acc = {b: c["accuracy"] for b, c in
           json.loads((tmp_path / "oa" / "summary.json").read_text())["tasks"]["organism-chain:k=8"]["budgets"].items()}
    # 40 thinking tokens hold every step line of k=8 but the last newline: the forced answer is nearly always right
    assert acc["32"] < 0.5 and acc["40"] >= 0.75 and acc["64"] == 1.0


# Replicas -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_dead_replica_leaves_the_rotation(organism_dir, served, capsys):
    dead = f"http://user:secret@127.0.0.1:{free_port()}"
    be = _backend(organism_dir, [dead, served], concurrency=4)
    reqs = [Request("start=ab steps=2", i) for i in range(6)]
    samples = be.generate(reqs, Forcing(budget=16, answer_tokens=8), GREEDY)   # no check(): found mid-run
    assert all(s.finished for s in samples) and list(be.dead) == [0]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "127.0.0.1" in err[0] and "out of rotation" in err[0] and "secret" not in err[0]
    be2 = _backend(organism_dir, [served, dead])
    be2.check()   # tolerated, with a warning
    assert list(be2.dead) == [1] and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_no_replica_answering_is_one_line_error(organism_dir, capsys):
    urls = [f"http://user:secret@127.0.0.1:{free_port()}" for _ in range(2)]
    with pytest.raises(PrunescaleError, match="no server answers") as e:
        _backend(organism_dir, urls).check()
    assert "\n" not in str(e.value) and "secret" not in str(e.value) and "unreachable after 2 tries" in str(e.value)
    with pytest.raises(PrunescaleError, match="no server answers"):
        _backend(organism_dir, urls).generate([Request("start=ab steps=2", 0)], Forcing(budget=8), GREEDY)
    assert "secret" not in capsys.readouterr().err


# Shared-prefix sweeps ----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("waits", [0, 1])
def test_shared_sweep_equals_independent(organism_dir, served, waits):
    """One run per sample at the largest budget, the smaller budgets' answers asked alone: the samples of
    each budget run on its own, in fewer requests."""
    from dataclasses import replace

    from prunescale.generate.base import Backend
    from prunescale.tasks import get_task

    be = _backend(organism_dir, [served], concurrency=4)
    reqs = [Request(p.prompt, 100 + i, key=(p.id,)) for i, p in
            enumerate(get_task("organism-chain:k=2-16").load(None, 4))]
    forcing, budgets = Forcing(budget=None, waits=waits, answer_tokens=24, max_tokens=160), [8, 24, 40, 64, None]
    strip = lambda out: {b: [replace(s, wall_s=0.0) for s in v] for b, v in out.items()}  # noqa: E731
    shared = strip(be.generate_sweep(reqs, budgets, forcing, GREEDY))
    n_shared = sum(be.requests_per_url)
    independent = strip(Backend.generate_sweep(be, reqs, budgets, forcing, GREEDY))
    assert shared == independent
    assert all(s.forced for s in shared[8])
    if waits:   # Waits before the cut are kept, those after it are not
        assert any(a.waits < b.waits for a, b in zip(shared[24], shared[None]))
    else:       # some rows ended before 64: that budget's sample is the lead's
        assert not all(s.forced for s in shared[64])
    assert n_shared < sum(be.requests_per_url) - n_shared
