"""Grading: model text never runs, the misgrades of issue 11, worker death, linear extraction, maj@k bounds."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from prunescale.analysis.text import final_answer
from prunescale.scaling.metrics import answer_classes, maj_at_k
from prunescale.tasks import get_task
from prunescale.tasks.equivalence import answer_key, grading_failures, math_equal
from prunescale.tasks.extract import extract_math, last_boxed
from prunescale.tasks.grader import Grader, shared_grader

HANGS = r"\frac{9^{9^{9}}}{7}"   # sympy computes 9^387420489 when comparing it


def _payloads(marker: Path) -> list[str]:
    m = str(marker)
    return [f"__import__('pathlib').Path('{m}').write_text('y')", f"__import__('os').system('touch {m}')",
            "().__class__.__base__.__subclasses__()", "().__class__.__bases__[0].__subclasses__()[0]",
            "lambda: __import__('os')._exit(3)", "(lambda: __import__('os')._exit(3))()", "os._exit(3)",
            "__import__('os')._exit(3)", f"exec(\"open('{m}', 'w')\")", f"open('{m}', 'w').write('y')",
            "getattr(__import__('os'), '_exit')(3)", "__builtins__.__import__('os').kill(0, 9)"]


WRAPS = ["{}", r"The answer is \boxed{{{}}}.", "Final Answer: {}", r"$\boxed{{{}}}$", r"\boxed{{\text{{{}}}}}",
         r"\boxed{{\left({}\right)}}", r"\boxed{{\frac{{{}}}{{1}}}}", r"\boxed{{\sqrt{{{}}}}}", r"\boxed{{x = {}}}"]


def test_payloads_do_nothing_and_are_graded_wrong(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "pwned"
    task = get_task("math500")
    gold = type("P", (), {"answer": "2"})()
    before = dict(grading_failures())
    for payload in _payloads(marker):
        for wrap in WRAPS:
            response = wrap.format(payload)
            extracted = extract_math(response)
            assert not task.is_correct(extracted, gold), response
            if extracted is not None:   # a non-number gold sends it through math-verify in the worker
                assert not math_equal(extracted, r"\sqrt{x}")
    pid = shared_grader().pid
    assert pid is not None and _alive(pid)   # the worker that read every payload is still the same process
    assert not marker.exists() and not list(tmp_path.iterdir())
    assert grading_failures().get("worker died", 0) == before.get("worker died", 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


@pytest.mark.parametrize("pred,gold", [
    ("−5", "-5"), ("x = 5", "5"), ("5", "x = 5"), (r"\frac12", "0.5"), ("30°", "30"), (r"30^\circ", "30"),
    (r"\$18", "18"), (r"5\text{ cm}", "5"), (r"\mbox{Evelyn}", "Evelyn"), (r"\{1,2\}", "1,2"), ("0.5", r"\frac12"),
    (r"\{2, 1\}", r"\{1,2\}"), ("5.0", "5"), (r"\text{(B)}", "(B)"), (r"10^{\circ}", "10"), ("1,000", "1000")])
def test_equal_forms(pred, gold):
    assert math_equal(pred, gold)


@pytest.mark.parametrize("pred,gold", [
    ("123456789", "123456790"), ("100000001", "100000000"), ("1e-7", "0"), ("0.333333", r"\frac{1}{3}"),
    ("-5", "5"), ("x = 6", "5"), (r"5\text{ cm}", "6"), (r"\mbox{Evelyn}", "Evelin"), ("1,2", "1,2,3"), ("", "")])
def test_unequal_forms(pred, gold):
    assert not math_equal(pred, gold)


def test_decimals_within_the_stated_tolerance():
    assert math_equal("0.1000000000001", "0.1") and not math_equal("0.100001", "0.1")
    assert math_equal("1.5e3", "1500") and math_equal("-0.25", r"-\frac{1}{4}")


def test_worker_death_is_a_recorded_wrong_answer():
    grader = Grader(timeout=20.0)
    try:
        assert grader.verdict("x+x", "2x").equal
        first = grader.pid
        threading.Timer(1.0, os.kill, (first, signal.SIGKILL)).start()
        v = grader.verdict(HANGS, "1")
        assert v == type(v)(False, "worker died") and grader.failures == {"worker died": 1}
        assert grader.verdict("y y", "y^2").equal and grader.pid != first   # a fresh worker took over
        os.kill(grader.pid, signal.SIGKILL)   # killed while idle: restarted, nothing lost
        time.sleep(0.2)
        assert grader.verdict("2y", "y+y").equal and grader.failures == {"worker died": 1}
    finally:
        grader.close()


def test_shared_worker_killed_mid_answer_run_goes_on():
    grader = shared_grader()
    assert math_equal("a+a", "2a")
    before = grading_failures().get("worker died", 0)
    threading.Timer(1.0, os.kill, (grader.pid, signal.SIGKILL)).start()
    assert not get_task("math500").is_correct(HANGS, type("P", (), {"answer": "1"})())
    assert grading_failures()["worker died"] == before + 1
    assert math_equal("b+b", "2b")


def test_nested_boxes_extract_in_linear_time_and_memory():
    text = "\\boxed{" * 20000 + "1" + "}" * 20000   # 0.16 MB; the old extraction held 1.5 GB
    tracemalloc.start()
    start = time.perf_counter()
    assert extract_math(text) == "1" and last_boxed(text) == "1" and final_answer(text) == "1"
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * len(text) and elapsed < 5, (peak, elapsed)
    assert last_boxed(r"\boxed{\boxed{2} and \boxed{3}}") == "3" and final_answer(r"\boxed{a}\boxed{ }") == "a"


def test_maj_groups_by_key_without_comparing():
    calls = []

    def same(a, b):
        calls.append((a, b))
        return math_equal(a, b)

    answers = ["0.5", r"\frac12", "1/2", r"\dfrac{1}{2}", "3", "3.0", None]
    assert answer_classes(answers, same, answer_key) == [0, 0, 0, 0, 1, 1, None]
    assert len(calls) <= 1   # "3" vs "0.5" only: number keys merge 0.5 = 1/2 and 3 = 3.0
    assert maj_at_k(answers, [True] * 4 + [False] * 3, 7, same, answer_key) == 1.0


def test_maj_with_answers_that_time_out_is_bounded():
    grader = Grader(timeout=1.0)
    try:
        answers = [rf"\frac{{9^{{9^{{9}}}}}}{{{k}}}" for k in range(2, 10)]   # 8 distinct, every pair hangs
        same = lambda a, b: grader.verdict(a, b).equal  # noqa: E731
        start = time.perf_counter()
        classes = answer_classes(answers, same, answer_key, budget_s=2.0)
        elapsed = time.perf_counter() - start
        assert classes == list(range(8)) and grader.failures["timeout"] <= 3
        assert elapsed < 15, elapsed   # unbounded: 28 pairs x (1 s + restart)
        assert maj_at_k(answers, [True] + [False] * 7, 8, same, answer_key, budget_s=0.0) == 1.0
    finally:
        grader.close()


@pytest.mark.slow
def test_fuzz_answers_never_crash_or_hang():
    # In its own process: peak memory is the grader's, not whatever this test process loaded before.
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_grader_fuzz.py"
    run = subprocess.run([sys.executable, str(script), "--n", "300", "--timeout", "1", "--seed", "3"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["max_answer_s"] < 10 and result["worker_peak_rss_mb"] < 1500 and result["peak_rss_mb"] < 1500, result
    assert set(result["failures"]) <= {"timeout"}, result
