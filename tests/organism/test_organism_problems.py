"""The organism's problem generators and grading: seeded, deterministic, correct by construction."""

from prunescale.organism import chain_problems, extract_answer, fact_problems, grade
from prunescale.organism.problems import FACTS, MAX_K, STEP, step


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
                assert line == f"{i} {cur}"
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
