"""``--calibration traces[:TASK]``: the model's own budget-forced thinking traces, with where thinking and answer
lie, cached per model and seed. Properties only: the organism's weights change, its traces with them."""

from __future__ import annotations

import json

import pytest
import torch

from prunescale.errors import PrunescaleError
from prunescale.generate.base import render_prompt
from prunescale.generate.profiles import PROFILES
from prunescale.models.loading import load_model
from prunescale.organism.tokenizer import END_THINK
from prunescale.prune import trace_calibration as traces
from prunescale.prune.calibration import load_calibration


@pytest.fixture(scope="module")
def organism():
    return load_model("embedded:organism")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNESCALE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "traces"


@pytest.fixture
def generations(monkeypatch):
    """Counts calls of the generator (a cache hit makes none)."""
    calls = []
    real = traces.generate_traces

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(traces, "generate_traces", counted)
    return calls


def _traces(lm, spec="traces", samples=6, max_seq_len=112, seed=0):
    return load_calibration(spec, lm.model, lm.tokenizer, samples=samples, max_seq_len=max_seq_len, batch_size=4,
                            seed=seed)


def test_traces_are_prompt_thinking_answer_with_their_positions(organism):
    tok = organism.tokenizer
    cal = _traces(organism)
    assert len(cal.sequences) == len(cal.spans) == 6 and sum(len(b["input_ids"]) for b in cal.batches) == 6
    end_id = tok.convert_tokens_to_ids(END_THINK)
    for seq, span in zip(cal.sequences, cal.spans):
        assert len(seq) <= 112
        prompt = tok.decode(seq[:span.think_start])
        assert prompt.startswith("<|im_start|>user\nstart=") and prompt.endswith("<think>\n")
        assert prompt == render_prompt(tok, PROFILES["organism"], prompt.split("\n")[1].split("<|im_end|>")[0])
        assert span.think_start < span.think_end <= len(seq)
        assert end_id not in seq[span.think_start:span.think_end]      # thinking holds no delimiter
        if span.answer_start is not None:
            assert seq[span.think_end] == end_id                        # the delimiter sits between them
            between = tok.decode(seq[span.think_end:span.answer_start])
            assert between in (END_THINK, END_THINK + "\nFinal Answer:")   # natural end / forced end
            assert span.answer_start < len(seq)
    # the built-in organism prompts are chains, as long as the budget allows (k from half the longest up)
    hi = traces.longest_chain(tok, PROFILES["organism"], 112)
    ks = [int(tok.decode(s).split("steps=")[1].split("<")[0]) for s in cal.sequences]
    assert hi >= 2 and all(max(1, hi // 2) <= k <= hi for k in ks)
    assert cal.describe()["thinking_tokens"] == sum(s.think_end - s.think_start for s in cal.spans)


def test_forced_traces_put_the_answer_after_the_forced_text(organism):
    tok = organism.tokenizer
    # 16-step chains cannot finish in the budget 96 tokens leave: every trace is forced.
    cal = _traces(organism, "traces:organism-chain:k=16", samples=3, max_seq_len=96)
    for seq, span in zip(cal.sequences, cal.spans):
        assert "steps=16" in tok.decode(seq[:span.think_start])
        assert tok.decode(seq[span.think_end:span.answer_start]) == END_THINK + "\nFinal Answer:"


def test_second_call_reads_the_cache(organism, cache, generations):
    first = _traces(organism, samples=4)
    assert len(generations) == 1
    files = list(cache.glob("*.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert record["key"]["spec"] == "traces" and record["key"]["samples"] == 4 and record["key"]["seed"] == 0
    second = _traces(organism, samples=4)
    assert len(generations) == 1                                      # nothing generated
    assert second.sequences == first.sequences and second.spans == first.spans
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(first.batches, second.batches))
    _traces(organism, samples=4, seed=1)                              # another seed: another file
    _traces(organism, samples=4, max_seq_len=100)                     # another length: another file
    assert len(generations) == 3 and len(list(cache.glob("*.json"))) == 3
    files[0].write_text("{not json")                                  # a damaged file is made again
    assert _traces(organism, samples=4).sequences == first.sequences and len(generations) == 4


def test_other_weights_are_another_cache_entry(organism, generations):
    _traces(organism, samples=2)
    before = traces.model_fingerprint(organism.model, organism.tokenizer)
    p = organism.model.model.layers[3].mlp.down_proj.weight
    saved = p.detach().clone()
    with torch.no_grad():
        p.add_(1e-3)
    try:
        assert traces.model_fingerprint(organism.model, organism.tokenizer) != before
        _traces(organism, samples=2)
        assert len(generations) == 2
    finally:
        with torch.no_grad():
            p.copy_(saved)
    assert traces.model_fingerprint(organism.model, organism.tokenizer) == before


def test_traces_feed_every_calibration_method(organism):
    from prunescale.prune import METHODS

    cal = _traces(organism, samples=4)
    plan = METHODS.get("shortgpt")().plan(organism.model, 2, cal)
    assert len(plan.removed) == 2 and len(plan.scores) == 8


def test_spans_are_found_in_transcripts(organism):
    cal = load_calibration("organism", organism.model, organism.tokenizer, samples=8, max_seq_len=128)
    tok = organism.tokenizer
    for seq, span in zip(cal.sequences, cal.spans):
        assert tok.decode(seq[:span.think_start]).endswith("<think>\n")
        assert tok.decode(seq[span.answer_start:]).startswith("\nFinal Answer:")


def test_builtin_prompts_for_other_models_are_math_word_problems():
    generic = PROFILES["generic"]
    a = traces.builtin_prompts(generic, None, 5, 256, seed=0)
    assert len(a) == 5 and set(a) <= set(traces.MATH_PROMPTS)
    assert a == traces.builtin_prompts(generic, None, 5, 256, seed=0)
    assert a != traces.builtin_prompts(generic, None, 5, 256, seed=1)
    assert len(traces.builtin_prompts(generic, None, 1000, 256, seed=0)) == len(traces.MATH_PROMPTS)


@pytest.mark.parametrize("spec, max_seq_len, message", [
    ("traces:", 112, "names no task"),
    ("traces", 40, "too short for organism traces"),
    ("traces:organism-chain:k=4", 50, "thinking tokens for traces"),
    ("tracez", 112, "traces, traces:TASK"),
    ("traces:no-such-task", 112, "unknown task 'no-such-task'"),
])
def test_bad_specs_are_one_line_errors(organism, spec, max_seq_len, message):
    with pytest.raises(PrunescaleError, match=message) as e:
        _traces(organism, spec, max_seq_len=max_seq_len)
    assert "\n" not in str(e.value)


def test_fingerprint_samples_stay_inside_large_tensors():
    # 2**24 + 3 values: a float32 linspace of indices rounds the last one past the end
    import torch

    from prunescale.prune.trace_calibration import model_fingerprint

    class Tok:
        chat_template, eos_token = None, "x"

        def __len__(self):
            return 3

    class Cfg:
        def to_dict(self):
            return {}

    model = torch.nn.Linear(1, 2**24 + 3, bias=False)
    model.config = Cfg()
    a = model_fingerprint(model, Tok())
    with torch.no_grad():
        model.weight[-1] += 1.0     # the last value is sampled
    assert model_fingerprint(model, Tok()) != a
