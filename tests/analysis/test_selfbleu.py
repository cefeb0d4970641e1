"""Our Self-BLEU equals NLTK's sentence_bleu(method4) on the same tokens, and ranks repetition sensibly."""

import json
import random

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from prunescale.analysis.selfbleu import bleu_against_others, self_bleu, sentence_self_bleu
from prunescale.analysis.text import clean_markers, sentence_spans, words

LOG = "s1.1-7B_aime24_lmeval_samples.jsonl"
METHOD4 = SmoothingFunction().method4


def nltk_scores(segs, which=None):
    which = range(len(segs)) if which is None else which
    return [sentence_bleu(segs[:i] + segs[i + 1:], segs[i], smoothing_function=METHOD4) for i in which]


def real_responses(shared_data):
    with open(shared_data / LOG) as f:
        return [r for line in f for r in json.loads(line)["resps"][0]]


def segments(text):
    clean = clean_markers(text)
    return [words(clean[a:b]) for a, b in sentence_spans(clean)]


CONSTRUCTED = [
    [[], ["a"]],                                        # empty hypothesis: NLTK returns 0
    [["a"], ["a"]],                                     # one-word hypothesis: higher orders skipped, not smoothed
    [["a"], ["b"]],                                     # no unigram match: 0 before smoothing
    [["a", "b"], ["a", "b"], ["c"]],                    # repeats; hypothesis shorter than 4 words
    [["x"], ["x", "y", "z"], ["x", "y"]],               # brevity penalty ties -> shorter reference
    [list("abcab"), list("ab"), list("abcabc"), []],    # clipping by the max over other segments
    [list("the cat sat on the mat".split())] * 3,       # identical sentences -> 1.0
    [["w"] * 12, ["w"] * 3, ["w", "v"] * 5],           # repeated n-grams, clip counts > 1
]


@pytest.mark.parametrize("segs", CONSTRUCTED)
def test_equals_nltk_on_constructed_cases(segs):
    assert bleu_against_others(segs) == pytest.approx(nltk_scores(segs), abs=1e-9)


def test_equals_nltk_on_random_small_cases():
    rng = random.Random(0)
    for _ in range(300):
        segs = [[rng.choice("abcd") for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(2, 6))]
        assert bleu_against_others(segs) == pytest.approx(nltk_scores(segs), abs=1e-9), segs


def test_equals_nltk_on_a_whole_real_response(shared_data):
    text = min(real_responses(shared_data), key=len)  # the shortest real trace: ~120 sentences
    segs = segments(text)
    assert len(segs) > 100
    ours = bleu_against_others(segs)
    assert ours == pytest.approx(nltk_scores(segs), abs=1e-9)
    assert self_bleu(text) == pytest.approx(sum(ours) / len(ours), abs=1e-12)


def test_equals_nltk_on_sampled_sentences_of_every_real_response(shared_data):
    # NLTK is quadratic: check 6 spread-out sentences per response (all 16 responses, up to 750 sentences).
    for text in real_responses(shared_data):
        segs = segments(text)
        which = list(range(0, len(segs), max(1, len(segs) // 6)))[:6] + [len(segs) - 1]
        ours = bleu_against_others(segs)
        assert [ours[i] for i in which] == pytest.approx(nltk_scores(segs, which), abs=1e-9)


def test_undefined_below_two_sentences():
    assert self_bleu("") is None and self_bleu("Just one sentence here.") is None
    assert sentence_self_bleu("One sentence.") == []
    with pytest.raises(ValueError):
        bleu_against_others([["a"]])


def test_repetitive_text_scores_higher_than_varied_text(shared_data):
    varied = real_responses(shared_data)[0]
    loop = varied[:2000] + " Wait, let me check the sum again." * 30
    assert self_bleu(varied) < 0.7 < self_bleu(loop)
    assert self_bleu("The sum is 116. The sum is 116. The sum is 116.") == pytest.approx(1.0)
