"""Self-BLEU: each segment scored by BLEU-4 against all the other segments, averaged.

Matches ``nltk.translate.bleu_score.sentence_bleu(others, segment,
smoothing_function=SmoothingFunction().method4)`` for every segment (tested to 1e-9; bit-equal on the log),
without NLTK and in time linear in the number of n-grams instead of quadratic in the number of segments:

- clipping: a hypothesis n-gram's clip count is its largest count in any *other* segment. Keeping the two
  largest counts per n-gram (and which segment holds the largest) makes "max excluding self" O(1).
- brevity penalty: NLTK picks the reference length closest to the hypothesis length (ties -> shorter);
  from the sorted distinct lengths and their multiplicities that is a bisection, again excluding self.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from typing import Sequence

from .text import clean_markers, sentence_spans, words
from ..stats import mean_in_order

MAX_N = 4
METHOD4_K = 5  # SmoothingFunction's default k, used by method4


def bleu_against_others(segments: Sequence[Sequence[str]], max_n: int = MAX_N) -> list[float]:
    """BLEU (uniform weights up to ``max_n``, smoothing method4) of each segment vs all the others.

    Needs at least two segments (NLTK fails with no references). Segments may be empty.
    """
    if len(segments) < 2:
        raise ValueError("bleu_against_others needs at least two segments")
    ids: dict[str, int] = {}
    seqs = [[ids.setdefault(t, len(ids)) for t in seg] for seg in segments]
    lengths = [len(s) for s in seqs]
    numerators = [[0] * max_n for _ in seqs]
    for n in range(1, max_n + 1):
        counts = [_ngram_counts(s, n) for s in seqs]
        best1: dict = {}
        owner: dict = {}
        best2: dict = {}
        for i, c in enumerate(counts):
            for g, v in c.items():
                b1 = best1.get(g, 0)
                if v > b1:
                    best2[g] = b1
                    best1[g] = v
                    owner[g] = i
                elif v > best2.get(g, 0):
                    best2[g] = v
        for i, c in enumerate(counts):
            numerators[i][n - 1] = sum(
                min(v, best2[g] if owner[g] == i else best1[g]) for g, v in c.items()
            )
    closest = _closest_other_lengths(lengths)
    return [_score(numerators[i], lengths[i], closest[i], max_n) for i in range(len(seqs))]


def self_bleu(text: str) -> float | None:
    """Self-BLEU of one response: its sentences vs each other (higher = more repetitive).

    Chat-template markers are blanked first; sentences and words come from :mod:`.text` (offline).
    None when the response has fewer than two sentences: there is nothing to compare (the study's script
    records 0.0 there, which reads as "perfectly diverse", and then fails on the empty reference list).
    """
    scores = sentence_self_bleu(text)
    return mean_in_order(scores) if scores else None


def sentence_self_bleu(text: str) -> list[float]:
    """Per-sentence BLEU vs the other sentences of ``text``; [] with fewer than two sentences."""
    clean = clean_markers(text)
    segs = [words(clean[a:b]) for a, b in sentence_spans(clean)]
    return bleu_against_others(segs) if len(segs) >= 2 else []


def _ngram_counts(seq: list[int], n: int) -> Counter:
    if n == 1:
        return Counter(seq)
    return Counter(zip(*(seq[k:] for k in range(n))))


def _closest_other_lengths(lengths: list[int]) -> list[int]:
    """For each segment, NLTK's closest_ref_length over all the other segments' lengths."""
    mult = Counter(lengths)
    uniq = sorted(mult)
    out = []
    for h in lengths:
        if mult[h] >= 2:
            out.append(h)
            continue
        j = bisect_left(uniq, h)  # uniq[j] == h: its only copy is the hypothesis itself
        cands = []
        if j > 0:
            cands.append(uniq[j - 1])
        if j + 1 < len(uniq):
            cands.append(uniq[j + 1])
        out.append(min(cands, key=lambda r: (abs(r - h), r)))
    return out


def _score(nums: list[int], hyp_len: int, ref_len: int, max_n: int) -> float:
    # Mirrors corpus_bleu + method4 step by step (same operations, same order) so floats agree exactly.
    if nums[0] == 0:
        return 0.0  # NLTK returns 0 before smoothing when no unigram matches (also for an empty hypothesis)
    precisions: list[float] = []
    inc = 1
    for n, num in enumerate(nums, start=1):
        den = max(1, hyp_len - n + 1)
        if num == 0 and hyp_len > 1:
            precisions.append((1 / (2**inc * METHOD4_K / math.log(hyp_len))) / den)
            inc += 1
        else:
            # num == 0 with a one-word hypothesis stays 0 and NLTK then *skips* it in the geometric mean.
            precisions.append(num / den)
    w = 1 / max_n  # NLTK's default weights are (0.25,) * 4 == 1 / 4 exactly
    s = math.fsum(w * math.log(p) for p in precisions if p > 0)
    bp = 1 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(s)
