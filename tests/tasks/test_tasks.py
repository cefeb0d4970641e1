"""Tasks on the real benchmark files; extraction and equivalence on real and constructed answers."""

import json

import pytest

from prunescale.errors import PrunescaleError
from prunescale.tasks import get_task
from prunescale.tasks.extract import extract_math, last_boxed, math_equal


def test_load_real_files(shared_data):
    aime = get_task("aime24").load(str(shared_data / "aime24.jsonl"), limit=3)
    assert len(aime) == 3 and aime[0].answer and "\\boxed{}" in aime[0].prompt
    gsm = get_task("gsm8k").load(str(shared_data / "gsm8k_test.jsonl"), limit=2)
    assert gsm[0].answer == "18" and not get_task("gsm8k").long_chain
    m = get_task("math500").load(str(shared_data / "math500.jsonl"))
    assert len(m) == 500 and m[0].meta.get("level")
    j = get_task(f"jsonl:{shared_data / 'gsm8k_test.jsonl'}").load(limit=1)
    assert j[0].prompt.startswith(json.loads((shared_data / "gsm8k_test.jsonl").open().readline())["question"])


def test_bad_task_and_bad_data(tmp_path):
    with pytest.raises(PrunescaleError, match="unknown task 'nope'"):
        get_task("nope")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "1+1", "answer": "2"}\n{"problem": "2+2"}\n')
    with pytest.raises(PrunescaleError, match="line 2 has no field 'answer'"):
        get_task("math500").load(str(bad))


def test_extraction_matches_the_harness_on_real_traces(shared_data):
    task = get_task("aime24")
    for line in (shared_data / "s1.1-7B_aime24_lmeval_samples.jsonl").open():
        d = json.loads(line)
        got = [task.extract(r) for r in d["resps"][0]]
        assert got == d["extracted_answers"]
        assert [int(task.is_correct(g, type("P", (), {"answer": d["target"]})())) for g in got] == d["exact_matches"]


def test_extraction_rules():
    assert last_boxed(r"so \boxed{\frac{1}{2}} and then \boxed{3^{2}}") == "3^{2}"
    assert last_boxed(r"\boxed{" * 5000) is None
    assert extract_math("blah\nFinal Answer: 42.") == "42"
    assert extract_math("I think it is 1,234 apples") == "1234"
    assert extract_math("no answer here") is None


@pytest.mark.parametrize("a,b", [(r"\frac{1}{2}", "0.5"), (r"\dfrac{3}{4}", "3/4"), (r"10^\circ", "10"),
                                 ("1,000", "1000"), (r"\text{(B)}", "(B)"), ("$5$", "5")])
def test_equivalent(a, b):
    assert math_equal(a, b)


def test_not_equivalent():
    assert not math_equal("0.5", "0.6") and not math_equal("x+1", "x+2")


def test_organism_tasks_are_seeded():
    a = get_task("organism-chain:k=8").load(limit=5)
    b = get_task("organism-chain:k=8").load(limit=5)
    assert [p.prompt for p in a] == [p.prompt for p in b] and a[0].meta["k"] == 8
    facts = get_task("organism-facts").load(limit=4)
    t = get_task("organism-facts")
    assert t.extract("<think>\n</think>\nFinal Answer: " + facts[0].answer + "<|im_end|>") == facts[0].answer
    assert not t.long_chain and get_task("organism-chain:k=3").long_chain


def test_mmlu_file_and_letter_grading(shared_data):
    task = get_task("mmlu")
    probs = task.load(str(shared_data / "mmlu_stem_test.jsonl"), limit=5)
    row = json.loads((shared_data / "mmlu_stem_test.jsonl").open().readline())
    assert probs[0].answer == "ABCD"[row["answer"]] and probs[0].choices == row["choices"]
    assert "A. " in probs[0].prompt and not task.long_chain
    assert task.extract("Thinking... (B) looks wrong. Answer: C") == "C"
    assert task.extract(r"so \boxed{D}") == "D"
    assert task.is_correct(task.extract(f"Answer: {probs[0].answer}"), probs[0])


def test_gpqa_options_shuffled_with_recorded_seed(tmp_path):
    rows = [{"Question": f"Q{i}?", "Correct Answer": "right", "Incorrect Answer 1": "w1",
             "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"} for i in range(12)]
    path = tmp_path / "gpqa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    a = get_task("gpqa_diamond").load(str(path))
    b = get_task("gpqa_diamond:seed=0").load(str(path))
    c = get_task("gpqa_diamond:seed=5").load(str(path))
    assert [p.answer for p in a] == [p.answer for p in b] != [p.answer for p in c]
    assert all(p.choices[ord(p.answer) - 65] == "right" and p.meta["shuffle_seed"] in (0, 5) for p in a + c)
    assert len({p.answer for p in a}) > 1 and get_task("gpqa_diamond").long_chain


@pytest.mark.parametrize("a,b", [(r"3\sqrt{2}", r"\sqrt{18}"), (r"\frac{\pi}{2}", r"\pi/2"), ("2x+2", "2(x+1)"),
                                 (r"(1, \frac{1}{2})", "(1, 0.5)"), (r"x^2-1", "(x-1)(x+1)")])
def test_symbolic_equivalence(a, b):
    assert math_equal(a, b)


def test_symbolic_rejects_and_pathological_answer_times_out():
    import time

    from prunescale.tasks.grader import Grader

    assert not math_equal(r"\sqrt{2}", r"\sqrt{3}") and not math_equal("(1, 2)", "(1, 2, 3)")
    grader = Grader(timeout=2.0)
    try:
        assert grader.verdict("x+x", "2*x").equal   # warm the worker
        start = time.perf_counter()
        v = grader.verdict(r"\frac{9^{9^{9}}}{7}", "1")   # sympy computes 9^387420489
        assert not v.equal and v.reason == "timeout" and grader.failures["timeout"] == 1
        assert time.perf_counter() - start < 6
        assert grader.verdict("y*y", "y^2").equal   # a fresh worker took over
    finally:
        grader.close()
