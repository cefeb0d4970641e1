"""The organism's problem generators and grading: seeded, deterministic, correct by construction."""

import random
import string

import pytest

from prunescale.organism import chain_problems, extract_answer, fact_problems, grade
from prunescale.organism.problems import (FACTS, MAX_K, STEP, WAIT_LINE, chain_failure, corrupt, make_trace,
                                         noisy_states, render_trace, step)


def test_chain_generator_is_seeded_and_deterministic():
    a = chain_problems(20, 8, seed=3)
    assert a == chain_problems(20, 8, seed=3)
    assert a != chain_problems(20, 8, seed=4)
    assert chain_problems(5, 8, seed=3) == a[:5]          # problem i does not depend on n
    assert len({p["id"] for p in a}) == 20
    assert {p["k"] for p in a} == {8}


def test_chain_solution_follows_the_step_table():
    assert sorted(STEP) == sorted(STEP.values())          # a permutation ...
    c, seen = "a", set()
    for _ in range(26):
        seen.add(c)
        c = STEP[c]
    assert len(seen) == 26 and c == "a"                   # ... that is one 26-cycle
    for k in (1, 5, MAX_K):
        for p in chain_problems(10, k, seed=1):
            lines = p["thinking"].split("\n")
            assert len(lines) == k
            cur = p["start"]
            for i, line in enumerate(lines, 1):
                cur = step(cur)
                assert line == f"{i} {cur}" + ("." if i == k else "")   # the last line ends the sentence
            assert p["answer"] == cur
            assert p["prompt"] == f"start={p['start']} steps={k}"


def test_fact_problems_are_seeded_and_cover_the_table():
    a = fact_problems(300, seed=0)
    assert a == fact_problems(300, seed=0)
    assert a[:50] != fact_problems(50, seed=1)
    first = a[: len(FACTS)]
    assert len({p["id"] for p in first}) == len(FACTS)     # one full pass before any repeat
    for p in a:
        assert FACTS[(p["entity"], p["relation"])] == p["answer"]
        assert p["prompt"] == f"What is the {p['relation']} of {p['entity']}?"


def test_grading_is_exact_match_after_final_answer():
    assert grade("1 ab\n2 cd\nFinal Answer: cd", "cd")
    assert grade("Final Answer:  cd \n", "cd")
    assert not grade("Final Answer: cde", "cd")
    assert not grade("Final Answer: CD", "cd")
    assert extract_answer("x Final Answer: a\nFinal Answer: b\nmore") == "b"
    assert extract_answer("just cd") == "just cd"


def test_training_traces_carry_step_errors_and_exact_check_passes():
    import random

    from prunescale.organism.problems import WAIT_LINE, make_trace

    clean = make_trace(random.Random(1), 8)
    assert clean["passes"] == 0 and clean["answer"] == clean["gold"] and "check" not in clean["thinking"]
    # every step wrong, no check: the chain follows its own errors and the trace's answer is wrong
    bad = make_trace(random.Random(2), 8, p_err=1.0)
    lines = bad["thinking"].split("\n")
    assert len(lines) == 8 and bad["answer"] != bad["gold"] and lines[-1] == f"8 {bad['answer']}."
    # a check pass re-derives every step from the start, exactly: the answer is the gold one again
    checked = make_trace(random.Random(3), 8, p_err=1.0, p_check=1.0)
    lines = checked["thinking"].split("\n")
    assert checked["passes"] == 1 and lines[8] == WAIT_LINE and len(lines) == 17
    cur = checked["start"]
    for i, line in enumerate(lines[9:], 1):
        cur = step(cur)
        assert line == f"check {i} {cur}."
    assert checked["answer"] == checked["gold"] == cur
    twice = make_trace(random.Random(4), 3, p_err=0.5, p_check=1.0, p_recheck=1.0)
    assert twice["passes"] == 2 and twice["thinking"].count(WAIT_LINE) == 2
    four = make_trace(random.Random(4), 3, p_check=1.0, p_recheck=1.0, max_passes=4)
    assert four["passes"] == 4 and four["thinking"].count(WAIT_LINE) == 4 and four["answer"] == four["gold"]
    # max_passes=2 draws exactly as the v2 recipe did: the committed weights' data stream is unchanged
    for seed in range(20):
        a, b = random.Random(seed), random.Random(seed)
        assert make_trace(a, 5, 0.2, 0.5, 0.5) == make_trace(b, 5, 0.2, 0.5, 0.5, max_passes=2)
        assert a.random() == b.random()
    # seeded: the same generator state gives the same trace
    assert make_trace(random.Random(5), 6, 0.3, 0.5, 0.5) == make_trace(random.Random(5), 6, 0.3, 0.5, 0.5)


def test_varied_prompts_move_the_start_and_keep_both_fields():
    import random

    from prunescale.organism.problems import varied_prompt

    rng = random.Random(0)
    prompts = [varied_prompt("aw", 8, rng) for _ in range(200)]
    for p in prompts:
        fields = p.split(" ")
        assert "start=aw" in fields and "steps=8" in fields and len(fields) <= 3
        assert all(f.startswith(("start=", "steps=", "id=")) for f in fields)
        tag = [f for f in fields if f.startswith("id=")]
        assert not tag or (tag[0][3:].isdigit() and 1 <= len(tag[0]) - 3 <= 30)
    # the start's distance from the prompt's end takes many values, so no fixed offset finds it
    assert len({len(p) - p.index("start=") for p in prompts}) > 20
    assert "start=aw steps=8" in prompts   # the evaluation prompt is one of them


def test_chain_failure_tells_a_broken_stop_from_a_wrong_step():
    start, k = "aw", 4
    states = noisy_states(start, k, random.Random(0), 0.0)
    right, _ = render_trace(start, states)
    wrong_step = right.replace(f"4 {states[3]}", f"4 {corrupt(states[3], random.Random(1))}")
    early, _ = render_trace(start, states[:2])
    late, _ = render_trace(start, noisy_states(start, 6, random.Random(0), 0.0))
    checked, _ = render_trace(start, states, passes=2)        # check lines are not forward steps
    wrap = "{}\n</think>\nFinal Answer: {}".format
    bad = corrupt(states[3], random.Random(1))
    assert chain_failure(wrap(wrong_step, bad), k) == "step"          # the answer copies the wrong last line
    assert chain_failure(wrap(wrong_step, "zz"), k) == "answer"
    assert chain_failure(wrap(right, "zz"), k) == "answer"             # right steps, the copy broke
    assert chain_failure(wrap(early, states[1]), k) == "early"
    assert chain_failure(wrap(late, "zz"), k) == "late"
    assert chain_failure(wrap(checked.replace(f"check 4 {states[3]}", f"check 4 {bad}"), bad), k) == "step"
    assert chain_failure(wrap(checked, "zz"), k) == "answer"          # the answer copies the last check line
    # A raw decode ends with the end-of-turn token: the copy is judged without it.
    assert chain_failure(wrap(wrong_step, bad) + "<|im_end|>", k) == "step"
    assert chain_failure(wrap(right, "zz") + "<|im_end|>", k) == "answer"
    # A step line written after the end of thinking (a garbled answer) does not count.
    assert chain_failure(wrap(early, "x") + "\n3 ab\n4 cd", k) == "early"


def test_count_down_numbers_steps_left_and_keeps_every_character_count():
    states = noisy_states("aw", 12, random.Random(0), 0.0)
    up, a_up = render_trace("aw", states, passes=1)
    down, a_down = render_trace("aw", states, passes=1, count="down")
    assert a_up == a_down == states[-1]
    assert len(up) == len(down)                 # same thinking budget per chain length
    lines = down.splitlines()
    assert lines[0] == f"12 {states[0]}" and lines[11] == f"1 {states[11]}."
    assert lines[12] == WAIT_LINE and lines[13].startswith("check 12 ") and lines[-1].startswith("check 1 ")
    # a longer chain passes through every count a shorter one writes (nested), not so counting up
    short, _ = render_trace("aw", states[:4], count="down")
    assert [ln.split()[0] for ln in short.splitlines()] == [ln.split()[0] for ln in lines[8:12]]
    assert chain_failure(down + "\n</think>\nFinal Answer: zz", 12) == "answer"
    assert chain_failure(down + f"\n</think>\nFinal Answer: {states[-1]}", 12) == "step"
    trace = make_trace(random.Random(3), 5, p_check=1.0, count="down")
    assert trace["thinking"].startswith("5 ") and "\ncheck 1 " in trace["thinking"]
    with pytest.raises(ValueError, match="sideways"):
        render_trace("aw", states, count="sideways")


def test_chain_avoiding_never_reads_an_avoided_letter():
    from prunescale.organism.problems import STEP_LINE, chain_avoiding, cycle_order

    order = cycle_order()
    assert sorted(order) == list(string.ascii_lowercase) and all(STEP[a] == b for a, b in zip(order, order[1:]))
    half = set(order[:13])
    rng = random.Random(3)
    probs = [chain_avoiding(rng, half, "down") for _ in range(300)]
    assert probs == [chain_avoiding(r, half, "down") for r in [random.Random(3)] for _ in range(300)]   # seeded
    for p in probs:
        read = [p["start"]] + STEP_LINE.findall(p["thinking"])[:-1]     # every state a step reads
        assert not set("".join(read)) & half
        assert p["answer"] == STEP_LINE.findall(p["thinking"])[-1] and 1 <= p["k"] <= 13
    assert {p["k"] for p in probs} == set(range(1, 14))                 # every length the free arc allows
    with pytest.raises(ValueError):
        chain_avoiding(rng, set(order))


def test_pass_states_read_the_state_each_pass_ends_on():
    from prunescale.organism.problems import WAIT_LINE, pass_states

    start, k = "aw", 5
    right = noisy_states(start, k, random.Random(0), 0.0)
    wrong = right[:2] + [corrupt(right[2], random.Random(1))]
    wrong += noisy_states(wrong[-1], k - 3, random.Random(0), 0.0)   # the chain follows the wrong state
    for count in ("up", "down"):
        trace, answer = render_trace(start, wrong, passes=2, count=count)
        assert pass_states(trace) == [wrong[-1], right[-1], right[-1]] and answer == right[-1]
        plain, _ = render_trace(start, right, count=count)
        assert pass_states(plain) == [right[-1]]
    assert pass_states(plain + WAIT_LINE + "\n") == [right[-1], None]   # a pass cut before its first line
