"""The in-process backend: exact greedy decoding, s1 budget forcing with Waits, the KV cache kept."""

from dataclasses import replace

import pytest
import torch

from prunescale.generate import BACKENDS, PROFILES, Forcing, Request, Sampling

GREEDY = Sampling(temperature=0)
# SmolLM2 has no thinking mode: a profile that treats "." as the end of thinking exercises every rule.
DOT = replace(PROFILES["generic"], name="dot", think_end=".", force_suffix=" Final Answer:", wait=" Wait")


def backend(smollm2, profile=PROFILES["generic"], **kw):
    return BACKENDS.get("hf")(smollm2.model, smollm2.tokenizer, profile, **kw)


def test_greedy_batch_equals_transformers_generate(smollm2):
    be = backend(smollm2)
    reqs = [Request("What is 2+3?", seed=1, key=(0,)), Request("Name a large ocean, please, and say why.", 2, (1,))]
    out = be.generate(reqs, Forcing(budget=None, max_tokens=24), GREEDY)
    tok = smollm2.tokenizer
    for r, s in zip(reqs, out):
        enc = tok(be.render(r.prompt), return_tensors="pt", add_special_tokens=False)
        g = smollm2.model.generate(**enc, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
        ref = tok.decode(g[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        assert ref.startswith(s.text) and len(s.text) > 5
        assert s.thinking_tokens <= 24 and s.key == r.key


def test_budget_forcing_appends_end_and_final_answer(smollm2):
    be = backend(smollm2, DOT)
    s = be.generate([Request("Write a long story about a dragon", 0)], Forcing(budget=4, answer_tokens=6), GREEDY)[0]
    assert s.forced and s.thinking_tokens == 4 and s.waits == 0
    assert s.answer.startswith(" Final Answer:") and s.answer_tokens <= 6
    assert s.text.startswith(s.thinking) and "." in s.text[len(s.thinking):]


def test_waits_replace_the_end_of_thinking(smollm2):
    be = backend(smollm2, DOT)
    base = be.generate([Request("What is the capital of France?", 0)], Forcing(budget=200, answer_tokens=4), GREEDY)[0]
    assert not base.forced and base.waits == 0      # ended thinking itself at the first "."
    s = be.generate([Request("What is the capital of France?", 0)],
                    Forcing(budget=200, waits=2, answer_tokens=4), GREEDY)[0]
    assert s.waits == 2 and s.thinking.count(" Wait") >= 2
    assert s.thinking.startswith(base.thinking)      # the same thinking up to the first suppressed end
    assert s.thinking_tokens > base.thinking_tokens


def test_cache_and_no_cache_agree_and_no_prefix_is_re_encoded(smollm2):
    calls = []
    hook = smollm2.model.register_forward_pre_hook(
        lambda m, a, k: calls.append(k["input_ids"].shape[1]), with_kwargs=True)
    try:
        reqs = [Request("Tell me about the moon", 0), Request("Count to five", 1)]
        f = Forcing(budget=6, waits=1, answer_tokens=5)
        cached = backend(smollm2, DOT).generate(reqs, f, GREEDY)
        assert calls[0] > 5 and set(calls[1:]) == {1}   # prefill once, then one token per step
        nocache = backend(smollm2, DOT, use_cache=False).generate(reqs, f, GREEDY)
    finally:
        hook.remove()
    assert [s.text for s in cached] == [s.text for s in nocache]


def test_sample_is_reproducible_on_its_own(smollm2):
    be = backend(smollm2)
    hot = Sampling(temperature=1.0)
    f = Forcing(budget=None, max_tokens=12)
    alone = be.generate([Request("Give me a random word.", 1234)], f, hot)[0]
    batch = be.generate([Request("Describe a cat.", 7), Request("Give me a random word.", 1234)], f, hot)
    assert batch[1].text == alone.text
    other = be.generate([Request("Give me a random word.", 99)], f, hot)[0]
    assert other.text != alone.text


def test_top_p_and_top_k_restrict_sampling():
    from prunescale.generate.hf import HFBackend

    logits = torch.tensor([5.0, 4.0, 0.0, -1.0])
    g = torch.Generator().manual_seed(0)
    picks = {HFBackend._sample_token(logits, g, Sampling(temperature=1.0, top_k=2)) for _ in range(200)}
    assert picks == {0, 1}
    picks = {HFBackend._sample_token(logits, g, Sampling(temperature=1.0, top_p=0.5)) for _ in range(100)}
    assert picks == {0}


def test_delimiter_spelled_out_as_plain_text_ends_thinking():
    """A damaged model may write "</think>" character by character instead of its special token: the thinking
    still ends there (as a server's stop string would see it), and the delimiter is not counted as thinking."""
    from prunescale.generate.hf import _Row
    from prunescale.models.loading import load_model

    org = load_model("embedded:organism")
    be = BACKENDS.get("hf")(org.model, org.tokenizer, PROFILES["organism"])
    chars = lambda s: [org.tokenizer.convert_tokens_to_ids(c) for c in s]  # noqa: E731
    row = _Row(request=Request("start=ab steps=1", 0), budget=64, waits_left=0, gen=torch.Generator())
    row.ids = chars("1 la\n</think")
    row.thinking_tokens = len(row.ids)
    assert be._spelled_end(row, chars(">")[0]) == len("</think>")
    assert be._advance(row, chars(">")[0], Forcing(budget=64)) == chars(">")[0]
    row.ids.append(chars(">")[0])
    assert row.phase == "answer" and row.thinking_tokens == len("1 la\n")
    assert org.tokenizer.decode(row.ids[:row.think_end_at]) == "1 la\n"
    plain = _Row(request=Request("x", 0), budget=64, waits_left=0, gen=torch.Generator())
    plain.ids = chars("1 la >")
    assert be._spelled_end(plain, chars(">")[0]) == 0


@pytest.mark.parametrize("sampling", [GREEDY, Sampling(temperature=1.0)], ids=["greedy", "t1-seeded"])
def test_finished_rows_leave_the_batch_with_the_same_samples(sampling):
    """Rows that end early (mixed chain lengths, a budget with a Wait) are dropped from the batch: every sample,
    token ids included, is what carrying them to the end gave, and later steps run on fewer rows."""
    from prunescale.models.loading import load_model
    from prunescale.tasks.base import get_task

    org = load_model("embedded:organism")
    reqs = [Request(p.prompt, seed=10 + i, key=(i,)) for i, p in
            enumerate(get_task("organism-chain:k=2-16").load(None, 6))]
    widths = []
    hook = org.model.register_forward_pre_hook(lambda m, a, k: widths.append(k["input_ids"].shape[0]),
                                               with_kwargs=True)
    try:
        out = {}
        for drop in (False, True):
            be = BACKENDS.get("hf")(org.model, org.tokenizer, PROFILES["organism"], keep_ids=True)
            be._drop_finished = drop
            widths.clear()
            out[drop] = be.generate(reqs, Forcing(budget=200, waits=1, answer_tokens=12), sampling)
            out[drop, "widths"] = list(widths)
    finally:
        hook.remove()
    strip = lambda s: replace(s, wall_s=0.0)  # noqa: E731
    assert [strip(s) for s in out[True]] == [strip(s) for s in out[False]]
    assert len({s.thinking_tokens + s.answer_tokens for s in out[True]}) > 1   # rows did end at different steps
    assert set(out[False, "widths"]) == {6}
    assert out[True, "widths"][0] == 6 and out[True, "widths"][-1] < 6
    assert sum(out[True, "widths"]) < sum(out[False, "widths"])
