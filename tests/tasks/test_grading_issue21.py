"""Issue 21's grading cases: standard answer formats, integers exact whatever their spelling, approximations
against exact values, units on both sides, percent both ways; and the adversarial pairs of
benchmarks/misgrade_counts.py graded right through extraction."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from prunescale.tasks.equivalence import answer_key, math_equal, read
from prunescale.tasks.extract import extract_math

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("response, answer", [
    ("Final Answer: The final answer is $7$. I hope it is correct.", "7"),                # lm-eval minerva_math
    (r"Final Answer: The final answer is $\frac{3}{4}$. I hope it is correct.", r"\frac{3}{4}"),
    ("Final Answer: The final answer is 3.5. I hope it is correct.", "3.5"),
    ("Answer: The answer is 7", "7"),
    ("Final Answer:Final answer: $X$", "X"),
    ("Final Answer: Final answer: $x^2+1$", "x^2+1"),
    ("**Final Answer:** $7$", "7"),
    (r"**Final Answer**: $\frac{1}{2}$", r"\frac{1}{2}"),
    (r"so the final answer is $\frac{1}{2}$.", r"\frac{1}{2}"),
    ("Answer: $9$ (the other root is negative)", "9"),
    ("Answer: 5 apples, because each basket holds more", "5 apples, because each basket holds more"),
])
def test_answer_lines_read_the_stated_answer(response, answer):
    assert extract_math(response) == answer


@pytest.mark.parametrize("gold, pred, equal", [
    ("1000000000.0", "1000000001", False), ("123456789011.0", "123456789012", False),
    ("1e18", "999999999999999999", False), ("150000000000000000001", r"1.5\times10^{20}", False),
    (r"1.5\times10^{20}", "150000000000000000001", False), ("1000000000", "1000000000.5", False),
    ("4.0e15", "4000000000000001", False), ("0", "1e-7", False),
    ("27.0", "27", True), ("27", "27.0", True), ("1e18", "1000000000000000000", True),
    ("150000000000000000000", r"1.5 \times 10^{20}", True), ("300000", r"3\cdot10^{5}", True),
    ("1000000000.0", "10^9", True), ("0.1", "0.1000000000001", True),
])
def test_integers_compare_exactly_whatever_their_spelling(gold, pred, equal):
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize("gold, pred, equal", [
    (r"\sqrt{2}", "1.41421356", False), (r"\pi", "3.14159265", False), (r"\frac{\sqrt{3}}{2}", "0.8660254", False),
    ("e", "2.718281828", False), (r"\frac{1}{3}", "0.333333333", False), (r"(\sqrt{2}, 1)", "(1.41421356, 1)", False),
    (r"\frac{\pi}{4}", "0.785398", False),
    ("2^{-2}", "0.25", True), (r"\frac{\pi}{2}", r"0.5\pi", True),            # decimals that are exact
    ("1.41421356", r"\sqrt{2}", True), ("1.41", r"\sqrt{2}", True), ("3.14", r"\pi", True),   # gold's precision
    ("1.42", r"\sqrt{2}", False), ("3.15", r"\pi", False),
])
def test_approximations_are_not_the_exact_value(gold, pred, equal):
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize("gold, pred, equal", [
    (r"3\text{m}", r"3\text{cm}", False), (r"5\text{ cm}", r"5\text{ m}", False),
    (r"12\text{ inches}", r"12\text{ feet}", False), (r"\$18", r"18\text{ cents}", False),
    (r"4\text{ cm}^2", r"4\text{ cm}", False), (r"12^\circ\text{C}", r"12^\circ\text{F}", False), ("5", "6 apples", False),
    ("12", r"12^{\circ}\text{C}", True), ("12", r"12^{\circ} C", True), (r"3\text{m}", "3 meters", True),
    (r"864 \mbox{ inches}^2", r"864\text{ square inches}", True), (r"90^\circ", r"90\text{ degrees}", True),
    (r"90^\circ", "90", True), (r"\$18.90", r"18.90\text{ dollars}", True), ("5", r"5\text{ cm}", True),
    (r"\frac{270}7\text{ degrees}", r"\frac{270}{7}^\circ", True), (r"7\text{ cm}", "7 centimeters", True),
])
def test_units_count_when_both_sides_have_one(gold, pred, equal):
    assert math_equal(pred, gold) is equal


@pytest.mark.parametrize("a, b, equal", [
    (r"10\%", "0.1", True), (r"50\%", r"\frac12", True), (r"10\%", "10", True), (r"25\%", r"\frac{1}{4}", True),
    (r"37.5\%", "0.375", True), ("40 percent", "0.4", True), (r"40\%", r"40\text{ percent}", True),
    (r"10\%", "1", False), (r"1\%", "0.1", False), (r"10\%", r"0.1\%", False), (r"50\%", r"\frac13", False),
    (r"20\%", "0.02", False), (r"2\%", "0.2", False),
])
def test_percent_both_readings_both_directions(a, b, equal):
    assert math_equal(a, b) is equal and math_equal(b, a) is equal


def test_reading_splits_value_unit_and_percent():
    assert read(r"$12^{\circ}\text{C}$") == read(r"12\text{ degrees Celsius}")
    assert read(r"864 \mbox{ inches}^2").unit == "in^2" and read(r"\$5").unit == "$"
    assert read(r"10\%").percent and read(r"10\%").value == "10" and read("2\\text{i}").unit is None


@pytest.mark.parametrize("a, b", [(r"3\text{ cm}", r"3\text{ m}"), (r"10\%", "10"), ("1000000001", "1000000000.0"),
                                  (r"10\%", r"0.1")])
def test_grouping_keys_stay_sound(a, b):
    """maj@k: equal keys must be equal answers (a percent or a unit is part of the key)."""
    assert answer_key(a) != answer_key(b)
    assert answer_key("27.0") == answer_key("27") and answer_key(r"3\text{ cm}") == answer_key("3 centimeters")


def test_the_benchmark_pairs_grade_right():
    spec = importlib.util.spec_from_file_location("misgrade_counts", ROOT / "benchmarks" / "misgrade_counts.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    wrong = [(g, a, want) for g, a, want in bench.PAIRS
             if ((e := extract_math(bench.response(a))) is not None and math_equal(e, g)) != want]
    assert not wrong
