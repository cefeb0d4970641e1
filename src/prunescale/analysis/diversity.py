"""Diversity across the N parallel samples of one problem: cross-sample Self-BLEU and distinct-n."""

from __future__ import annotations

from typing import Sequence

from .selfbleu import bleu_against_others
from .text import clean_markers, words
from ..stats import mean_in_order


def cross_sample_self_bleu(texts: Sequence[str]) -> float | None:
    """Mean BLEU-4 of each sample (as one token sequence) against the other samples; higher = more alike.

    This is Self-BLEU in its original, cross-sample sense (Zhu et al., Texygen). None for fewer than 2.
    """
    if len(texts) < 2:
        return None
    return mean_in_order(bleu_against_others([words(clean_markers(t)) for t in texts]))


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Distinct n-grams over all n-grams, pooled over the samples (n-grams never cross samples).

    Lower = the samples reuse the same phrasing. None when there is no n-gram at all.
    """
    seen: set = set()
    total = 0
    for t in texts:
        toks = words(clean_markers(t))
        grams = list(zip(*(toks[k:] for k in range(n))))
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else None


def sample_diversity(texts: Sequence[str], max_n: int = 4) -> dict:
    """Cross-sample Self-BLEU and distinct-1..max_n for one problem's samples."""
    out = {"n_samples": len(texts), "cross_self_bleu": cross_sample_self_bleu(texts)}
    for n in range(1, max_n + 1):
        out[f"distinct_{n}"] = distinct_n(texts, n)
    return out
