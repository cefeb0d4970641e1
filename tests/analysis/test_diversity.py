"""Cross-sample Self-BLEU and distinct-n over one problem's samples."""

import json

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from prunescale.analysis.diversity import cross_sample_self_bleu, distinct_n, sample_diversity
from prunescale.analysis.text import clean_markers, words


def problem_samples(shared_data, doc):
    with open(shared_data / "s1.1-7B_aime24_lmeval_samples.jsonl") as f:
        return [json.loads(line)["resps"][0] for line in f][doc]


def test_cross_sample_self_bleu_equals_nltk_on_real_samples(shared_data):
    texts = problem_samples(shared_data, 0)[:5]
    toks = [words(clean_markers(t)) for t in texts]
    m4 = SmoothingFunction().method4
    expected = sum(sentence_bleu(toks[:i] + toks[i + 1:], toks[i], smoothing_function=m4) for i in range(5)) / 5
    assert cross_sample_self_bleu(texts) == pytest.approx(expected, abs=1e-9)


def test_identical_samples_are_maximally_alike():
    same = ["First find b. Then c is 698, so the answer is 116."] * 4
    other = ["First find b. Then c is 698, so the answer is 116.", "Use Vieta: the roots sum to 36.",
             "Subtract the equations to get a linear one.", "Plugging x = 0 gives c + e directly."]
    assert cross_sample_self_bleu(same) == pytest.approx(1.0)
    assert cross_sample_self_bleu(other) < 0.3
    assert distinct_n(same, 2) == pytest.approx(distinct_n(same[:1], 2) / 4)
    assert distinct_n(other, 2) > 0.9


def test_distinct_n_counts_pooled_ngrams():
    assert distinct_n(["a b a b", "a b"], 1) == pytest.approx(2 / 6)
    assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)  # n-grams never cross samples
    assert distinct_n(["a"], 2) is None


def test_real_problems_differ_and_are_bounded(shared_data):
    easy, hard = sample_diversity(problem_samples(shared_data, 0)), sample_diversity(problem_samples(shared_data, 1))
    for d in (easy, hard):
        assert d["n_samples"] == 8
        assert 0 < d["cross_self_bleu"] < 1
        assert 0 < d["distinct_1"] < d["distinct_2"] < d["distinct_3"] < d["distinct_4"] < 1
    # 6 of 8 samples solve problem 0 along the same route; problem 1 sends them in different directions.
    assert easy["cross_self_bleu"] > hard["cross_self_bleu"]
    assert cross_sample_self_bleu(["only one"]) is None
