"""The openai backend against a real `transformers serve` on 127.0.0.1 serving a model pruned by our own code."""

import subprocess
import sys
from dataclasses import replace

import pytest

from prunescale.errors import PrunescaleError
from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling

from .conftest import free_port

DOT = replace(PROFILES["generic"], name="dot", think_end=".", force_suffix=" Final Answer:", wait=" Wait")
GREEDY = Sampling(temperature=0)


@pytest.fixture(scope="module")
def served(tmp_path_factory, transformers_serve):
    from prunescale.prune.run import PruneSpec, prune

    model_dir = tmp_path_factory.mktemp("served") / "pruned2"
    # The two layers ShortGPT removes (by index, no calibration needed): the model stays coherent.
    prune(PruneSpec(model="embedded:smollm2-135m", method="selection", layers=[13, 14]), model_dir)
    with transformers_serve(model_dir) as url:
        yield url, str(model_dir)


def _backend(served, profile=DOT, urls=None, **kw):
    from transformers import AutoTokenizer

    url, model_dir = served
    return BACKENDS.get("openai")(urls or [url], model_dir, AutoTokenizer.from_pretrained(model_dir), profile, **kw)


@pytest.mark.slow
def test_budget_forcing_and_waits_over_http(served):
    be = _backend(served)
    be.check()
    forced = be.generate([Request("Write a long story about a dragon", 0)], Forcing(budget=4, answer_tokens=6),
                         GREEDY)[0]
    assert forced.forced and forced.thinking_tokens == 4 and forced.answer.startswith(" Final Answer:")
    natural = be.generate([Request("What is the capital of France?", 0)], Forcing(budget=200, answer_tokens=4),
                          GREEDY)[0]
    assert not natural.forced and natural.waits == 0 and natural.thinking_tokens < 200
    waited = be.generate([Request("What is the capital of France?", 0)],
                         Forcing(budget=200, waits=2, answer_tokens=4), GREEDY)[0]
    assert waited.waits == 2 and waited.thinking.count(" Wait") == 2
    assert waited.thinking.startswith(natural.thinking)


@pytest.mark.slow
def test_agrees_with_the_hf_backend(served):
    from prunescale.models.loading import load_model

    loaded = load_model(served[1])
    reqs = [Request("What is the capital of France?", 0)]
    f = Forcing(budget=5, answer_tokens=4)
    here = BACKENDS.get("hf")(loaded.model, loaded.tokenizer, DOT).generate(reqs, f, GREEDY)[0]
    there = _backend(served).generate(reqs, f, GREEDY)[0]
    assert (there.forced, there.thinking_tokens) == (here.forced, here.thinking_tokens)
    assert there.thinking.strip() == here.thinking.strip()


@pytest.mark.slow
def test_replicas_round_robin_and_dead_urls(served):
    url = served[0]
    be = _backend(served, urls=[url, url + "/"], concurrency=2)
    be.generate([Request("Hi", i) for i in range(4)], Forcing(budget=2, answer_tokens=2), GREEDY)
    assert all(n > 0 for n in be.requests_per_url)
    dead = f"http://user:secret@127.0.0.1:{free_port()}"
    with pytest.raises(PrunescaleError, match="unreachable after 2 tries") as e:
        _backend(served, urls=[dead], retries=1).check()
    assert "secret" not in str(e.value)


@pytest.mark.slow
def test_eval_cli_over_the_openai_backend(served, shared_data, tmp_path):
    import json

    url, model_dir = served
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "prunescale", "eval", "--model", model_dir, "--backend", "openai",
                        "--base-url", url, "--task", "gsm8k", "--data", str(shared_data / "gsm8k_test.jsonl"),
                        "--limit", "2", "--budgets", "4", "--answer-tokens", "4", "--temperature", "0",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cell = json.loads((out / "summary.json").read_text())["tasks"]["gsm8k"]["budgets"]["4"]
    assert cell["n_samples"] == 2 and cell["forced_share"] == 1.0 and cell["thinking_tokens_mean"] == 4
