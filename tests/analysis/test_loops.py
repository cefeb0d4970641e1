"""Loop detection: looping responses are flagged with their spans, varied real ones are not."""

import json

import pytest

from prunescale.analysis.loops import detect_loops, loop_rate


@pytest.fixture(scope="module")
def real(shared_data):
    with open(shared_data / "s1.1-7B_aime24_lmeval_samples.jsonl") as f:
        return [r for line in f for r in json.loads(line)["resps"][0]]


def test_real_traces_are_not_looping(real):
    reports = [detect_loops(t) for t in real]
    assert [r.reasons for r in reports] == [[]] * 16
    assert loop_rate(reports) == 0.0
    assert all(0 < r.repeated_share < 0.5 and r.tail_compression > 0.3 for r in reports)


def test_verbatim_loop_at_the_end_is_flagged_and_located(real):
    head = real[2][:3000]
    cycle = " Wait, let me check that again. So the sum is 116, but is it?"
    text = head + cycle * 40
    r = detect_loops(text)
    assert r.looping and "end_cycle" in r.reasons and "tail_compression" in r.reasons
    (c,) = r.cycles
    assert c.at_end and c.copies >= 39
    start, end = r.loop_spans[0]
    assert start == len(head) + 1 and end == len(text)          # exactly the looping text, as offsets
    assert text[start:end].startswith("Wait, let me check")


def test_loop_with_changing_numbers_is_caught_by_compression(real):
    text = real[2][:3000] + "".join(f" Wait, maybe x = {i}. Then x^2 = {i * i}, which is not 116." for i in range(60))
    r = detect_loops(text)
    assert r.looping and r.reasons == ["tail_compression"] and not r.cycles


def test_escaped_loop_is_located_but_not_flagged(real):
    head, cycle = real[2][:3000], " Wait, let me check that again. So the sum is 116, but is it?"
    text = head + cycle * 10 + " " + real[3][:3000]
    r = detect_loops(text)
    assert not r.looping
    (c,) = r.cycles
    assert not c.at_end and round(c.copies) == 10


def test_loop_before_a_forced_answer_counts_as_stuck(real):
    thinking = real[2][:2000] + " Hmm, so the answer is 116 or 112." * 20
    text = thinking + "\n<|im_start|>answer\nFinal Answer: " + real[2][-3000:]
    assert not detect_loops(text).looping
    assert detect_loops(text, ends=[len(thinking)]).reasons == ["end_cycle"]


def test_mostly_repeated_text_is_flagged_by_repeated_share(real):
    block = real[5][:1500]
    text = " ".join([block, real[6][:400], block, real[7][:400], block])
    r = detect_loops(text)
    assert r.reasons == ["repeated_share"] and r.repeated_share > 0.7
    assert r.loop_spans == r.repeated_spans
    copies = [i for i in range(len(text)) if text.startswith(block, i)]
    assert len(copies) == 3
    for i in copies:  # each copy of the block lies inside one highlighted span
        assert any(a <= i + 20 and i + len(block) - 20 <= b for a, b in r.loop_spans)


def test_short_and_empty_texts():
    assert not detect_loops("").looping and detect_loops("").tail_compression is None
    assert not detect_loops("The answer is 5.").looping
    assert detect_loops("the " * 100).looping
