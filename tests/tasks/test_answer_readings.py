"""tasks/extract.py owns both answer readings; they differ on purpose (grading vs reporting what was stated)."""

from __future__ import annotations

import pytest

from prunescale.analysis import text
from prunescale.tasks.extract import extract_math, final_answer


@pytest.mark.parametrize("response, graded, stated", [
    (r"so \boxed{4}.", "4", "4"),
    (r"\fbox{3}", "3", None),                                      # fbox: grading only
    (r"\boxed{1} then \boxed{ }", "1", "1"),                       # grading: empty last box, then the last number
    (r"\boxed{ } and no number", None, None),
    ("Answer: 5 apples, because each of the three baskets holds more", "5 apples, because each of the three "
     "baskets holds more", None),                                  # long answer lines: grading only
    ("we get x = 12", "12", None),                                 # a bare number: grading only
    ("**Final Answer:** $7$", "7", "7"),                            # markdown stripped by both
    ("the answer: 9 here", "9 here", None),                        # mid-line "answer:": grading only
])
def test_grading_and_reporting_read_answers_differently(response, graded, stated):
    assert extract_math(response) == graded
    assert final_answer(response) == stated


def test_the_analysis_reads_answers_with_the_tasks_extractor():
    assert text.final_answer is final_answer
