"""Repetition loops: is a response stuck repeating itself, and where.

Three signals, each on word tokens of the response (chat-template markers blanked):

- cycles: maximal runs that repeat exactly with some period p (1..MAX_PERIOD tokens), at least MIN_COPIES
  copies and MIN_LOOP_TOKENS tokens long. A cycle that reaches the end of the text (or of the thinking
  part) means the model never got out of it.
- repeated_share: the share of tokens covered by an NGRAM-token n-gram that occurs more than once.
- tail_compression: zlib-compressed size / raw size of the last TAIL_CHARS characters (natural reasoning
  text sits around 0.3-0.45; a verbatim loop, even with changing numbers, drops far below).

A response is flagged ``looping`` when any of these holds (``reasons`` says which):
``end_cycle``: a cycle ends within END_SLACK tokens of an end; ``tail_compression`` <= MAX_TAIL_COMPRESSION
(with at least MIN_TAIL_CHARS characters); ``repeated_share`` >= MAX_REPEATED_SHARE.
On the 16 real s1.1-7B AIME24 traces in shared/data none fires: no cycle >= 30 tokens, repeated_share
<= 0.17, tail compression >= 0.36; a verbatim loop sits near 0.05 and a loop with changing numbers near 0.14.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .text import clean_markers, word_spans

MAX_PERIOD = 400            # tokens; longer cycles are rare and cost O(N) each to test
MIN_COPIES = 3
MIN_LOOP_TOKENS = 30
END_SLACK = 64              # tokens; a cycle ending this close to an end counts as "stuck at the end"
NGRAM = 20                  # tokens (~10 words): shorter repeats are normal restated equations
MAX_REPEATED_SHARE = 0.5
TAIL_CHARS = 2000
MIN_TAIL_CHARS = 500
MAX_TAIL_COMPRESSION = 0.2

THRESHOLDS = {
    "max_period": MAX_PERIOD, "min_copies": MIN_COPIES, "min_loop_tokens": MIN_LOOP_TOKENS, "end_slack": END_SLACK,
    "ngram": NGRAM, "max_repeated_share": MAX_REPEATED_SHARE, "tail_chars": TAIL_CHARS,
    "min_tail_chars": MIN_TAIL_CHARS, "max_tail_compression": MAX_TAIL_COMPRESSION,
}


@dataclass
class Cycle:
    """An exactly repeating stretch: characters [start, end) of the text, period in tokens."""

    start: int
    end: int
    period: int
    copies: float
    at_end: bool


@dataclass
class LoopReport:
    looping: bool
    reasons: list[str]
    cycles: list[Cycle]
    repeated_share: float
    repeated_spans: list[tuple[int, int]]      # character ranges inside repeated NGRAM-token n-grams
    tail_compression: float | None
    compression: float | None                  # whole text
    n_tokens: int
    loop_spans: list[tuple[int, int]] = field(default_factory=list)   # what a report should highlight

    def to_dict(self) -> dict:
        return asdict(self)


def detect_loops(text: str, ends: Sequence[int] = ()) -> LoopReport:
    """Loop signals of ``text``. ``ends``: extra character offsets that count as an end (e.g. where the
    thinking part stops before a forced answer); the end of the text always counts."""
    clean = clean_markers(text)
    spans = word_spans(clean)
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(clean[a:b], len(vocab)) for a, b in spans), dtype=np.int64, count=len(spans))
    end_tokens = {len(spans)} | {_tokens_before(spans, e) for e in ends}
    cycles = [
        Cycle(spans[s][0], spans[e - 1][1], p, round((e - s) / p, 2), any(0 <= t - e <= END_SLACK for t in end_tokens))
        for s, e, p in _cycles(ids)
    ]
    share, rep_tok = _repeated(ids)
    rep_spans = [(spans[a][0], spans[b - 1][1]) for a, b in rep_tok]
    tail = clean.rstrip()[-TAIL_CHARS:].encode()
    tail_c = _ratio(tail) if len(tail) >= MIN_TAIL_CHARS else None
    reasons = []
    if any(c.at_end for c in cycles):
        reasons.append("end_cycle")
    if tail_c is not None and tail_c <= MAX_TAIL_COMPRESSION:
        reasons.append("tail_compression")
    if share >= MAX_REPEATED_SHARE:
        reasons.append("repeated_share")
    highlight = [(c.start, c.end) for c in cycles] or (rep_spans if "repeated_share" in reasons else [])
    return LoopReport(
        looping=bool(reasons), reasons=reasons, cycles=cycles, repeated_share=share, repeated_spans=rep_spans,
        tail_compression=tail_c, compression=_ratio(clean.encode()) if clean.strip() else None,
        n_tokens=len(spans), loop_spans=sorted(highlight),
    )


def _tokens_before(spans: list[tuple[int, int]], offset: int) -> int:
    lo, hi = 0, len(spans)
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][1] <= offset:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _ratio(data: bytes) -> float:
    return len(zlib.compress(data, 9)) / len(data)


def _cycles(ids: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end, period) token ranges of maximal exact tandem repeats, non-overlapping."""
    found = []
    n = len(ids)
    for p in range(1, min(MAX_PERIOD, n // MIN_COPIES) + 1):
        eq = np.concatenate(([False], ids[:-p] == ids[p:], [False])).astype(np.int8)
        edges = np.diff(eq)
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        length = stops - starts + p          # tokens [start, stop + p) repeat with period p
        keep = (length >= MIN_COPIES * p) & (length >= MIN_LOOP_TOKENS)
        found += [(int(s), int(s + L), p) for s, L in zip(starts[keep], length[keep])]
    # Multiples of a period find the same stretch again: keep the longest, then the shortest period.
    found.sort(key=lambda c: (-(c[1] - c[0]), c[2]))
    chosen: list[tuple[int, int, int]] = []
    for c in found:
        if all(c[1] <= o[0] or c[0] >= o[1] for o in chosen):
            chosen.append(c)
    return sorted(chosen)


def _repeated(ids: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Share of tokens inside an NGRAM-gram seen twice or more, and those token ranges merged."""
    n = len(ids)
    if n < NGRAM:
        return 0.0, []
    seq = ids.tolist()
    grams = list(zip(*(seq[k:] for k in range(NGRAM))))
    counts = Counter(grams)
    cover = np.zeros(n + 1, dtype=np.int32)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            cover[i] += 1
            cover[i + NGRAM] -= 1
    inside = np.cumsum(cover[:-1]) > 0
    edges = np.diff(np.concatenate(([0], inside.astype(np.int8), [0])))
    ranges = list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
    return float(inside.mean()), ranges


def loop_rate(reports: Sequence[LoopReport]) -> float | None:
    """Share of responses flagged as looping."""
    return sum(r.looping for r in reports) / len(reports) if reports else None
