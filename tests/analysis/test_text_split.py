"""Offline sentence / word splitting, template markers and answer extraction."""

import pytest

from prunescale.analysis.text import clean_markers, final_answer, sentence_spans, sentences, words


def test_sentences_split_at_terminal_punctuation_and_blank_lines():
    text = "We have x = 3.14 here. Is it right? Yes!\n\n\\[ x^2 \\]\nSo e.g. this stays. Done"
    assert sentences(text) == ["We have x = 3.14 here.", "Is it right?", "Yes!", "\\[ x^2 \\]\nSo e.g. this stays.",
                               "Done"]


def test_enumerators_do_not_end_sentences():
    text = "Plan:\n1. Find the radius.\n2. Then the height."
    assert sentences(text) == ["Plan:\n1. Find the radius.", "2. Then the height."]


def test_spans_point_into_the_text_and_skip_whitespace():
    text = "  One.   Two.  \n\n  "
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["One.", "Two."]
    assert sentence_spans("") == [] and sentence_spans(" \n\n ") == []


def test_words_keep_contractions_and_split_punctuation():
    assert words("Let's check: f(2)=4, don't stop.") == ["Let's", "check", ":", "f", "(", "2", ")", "=", "4", ",",
                                                          "don't", "stop", "."]


def test_clean_markers_keeps_offsets():
    text = "<|im_start|>think\nWait.<|im_start|>answer\nAnswer: 5"
    clean = clean_markers(text)
    assert len(clean) == len(text)
    assert "<|im_start|>" not in clean and "think" not in clean and clean.index("Wait.") == text.index("Wait.")
    assert sentences(clean) == ["Wait.", "Answer: 5"]


def test_final_answer_prefers_last_nonempty_box_then_short_answer_line():
    assert final_answer(r"so \boxed{1} or \boxed{\frac{1}{2}} and \boxed{}") == r"\frac{1}{2}"
    assert final_answer("blah\nFinal Answer: 960\n\nGiven three spheres") == "960"
    assert final_answer("Final Answer: Given three spheres with radii 11, 13 and 19, we use the plane") is None
    assert final_answer(r"unclosed \boxed{12") is None


@pytest.mark.timeout(20)
def test_degenerate_responses_stay_linear():
    # Pruned models write things like this; each used to take minutes in a naive brace scan.
    from prunescale.analysis.records import Record
    from prunescale.analysis.summary import analyze_response

    for text in ["\\boxed{" * 20000, "{" * 100000 + "}", "e.g. " * 20000, "wait " * 50000]:
        row = analyze_response(Record("p", 0, text))
        assert row["chars"] == len(text)
    assert final_answer("\\boxed{" * 20000 + "7}") == "7"
