"""Segment-wise s1 budget forcing, written once for every backend that generates by segments (openai, vllm).

A segment is "continue this text for at most N tokens, stopping at the end of thinking". One :class:`Forcer`
per sample holds the s1 state machine: the thinking segment runs with ``max_tokens`` = the remaining budget
and the end-of-thinking delimiter as a stop; a natural end with Waits left appends ``Wait`` and continues; a
budget that runs out appends the delimiter and the force suffix ("Final Answer:"); then the answer segment
runs. The accounting is the hf backend's: thinking tokens are the sampled ones before the delimiter (appended
text not counted), answer tokens those after it (EOS not counted).

A backend supplies only "generate these segments": :func:`run_each` drives one sample at a time through a
``complete(segment) -> Reply`` function (a server, from a thread pool); :func:`drive` keeps a continuous
engine busy through ``submit(key, segment)`` / ``poll() -> [(key, Reply)]`` (vLLM: a continuation is added the
moment its segment ends, all samples of all problems in flight together).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from .base import Forcing, Request, Sample
from .profiles import ThinkingProfile

THINK, ANSWER, DONE = "think", "answer", "done"


@dataclass
class Segment:
    text: str                    # the full text to continue (rendered prompt + everything so far)
    ids: list[int] | None        # the same as token ids, when every piece of it is known as ids
    max_tokens: int
    stop: list[str] | None       # the end-of-thinking text while thinking; None for the answer
    seed: int
    thinking: bool


@dataclass
class Reply:
    text: str            # the generated text, cut before the end of thinking if it was seen
    tokens: int          # sampled tokens in ``text`` (the end-of-thinking / EOS token not counted)
    finish: str | None   # "stop", "length" or anything else (aborted, error)
    end: str | None      # "stop": the end of thinking (token or text), "inferred", "eos", or None
    ids: list[int] | None = None   # the sampled ids of ``text`` when known (end / EOS token not included)


class Forcer:
    """One sample's s1 budget forcing over segments: ``next()`` the segment to generate, ``feed()`` its reply,
    ``sample()`` once ``next()`` returns None. ``encode`` (text -> ids), when given, lets continuations be sent
    as token ids: appended text is encoded piece by piece, as the hf backend feeds it."""

    def __init__(self, request: Request, prefix: str, profile: ThinkingProfile, forcing: Forcing,
                 encode: Callable[[str], list[int]] | None = None):
        self.r, self.p, self.f, self.prefix, self.encode = request, profile, forcing, prefix, encode
        self.budget = forcing.budget if forcing.budget is not None else forcing.max_tokens
        self.ids = encode(prefix) if encode else None
        self.thinking, self.used, self.waits = "", 0, 0
        self.forced, self.complete, self.ended, self.how = False, True, False, None
        self.answer, self.answer_tokens = "", 0
        self.phase = THINK
        self.start = time.perf_counter()
        self.end_time = 0.0

    def _append(self, text: str, ids: list[int] | None = None) -> None:
        if self.ids is not None:
            ids = ids if ids is not None else (self.encode(text) if text else [])
            self.ids = self.ids + ids if ids is not None else None

    def next(self) -> Segment | None:
        if self.phase == THINK:
            return Segment(self.prefix + self.thinking, self.ids, max(1, self.budget - self.used),
                           [self.p.think_end] if self.p.think_end else None, self.r.seed, True)
        if self.phase == ANSWER:
            return Segment(self.prefix + self.thinking + self._lead(), self.ids, self.f.answer_tokens, None,
                           self.r.seed, False)
        return None

    def _lead(self) -> str:
        return (self.p.think_end or "") + (self.p.force_suffix if self.forced else "")

    def feed(self, rep: Reply) -> None:
        if self.phase == ANSWER:
            self.answer = (self.p.force_suffix if self.forced else "") + rep.text
            self.answer_tokens = rep.tokens
            self.complete = rep.finish in ("stop", "length")   # the OpenAI values; others: aborted, filtered
            return self._done()
        self.thinking += rep.text
        self._append(rep.text, rep.ids)
        self.used += rep.tokens
        f, budget = self.f, self.budget
        if rep.end == "stop" or (rep.end == "inferred" and self.used < budget):
            if self.waits < f.waits and self.used < budget:
                self.waits += 1
                self.thinking += self.p.wait
                self._append(self.p.wait)
                return
            self.ended, self.how = True, rep.end
        elif rep.finish == "length" or self.used >= budget:
            if f.budget is None:
                self.complete = False
            else:
                self.forced = True
        elif rep.end != "eos":   # the engine gave up (abort, error): the row did not finish
            self.complete = False
        if self.ended or self.forced:
            # the end of thinking, then (forced) the force suffix: encoded separately, as hf feeds them
            self._append(self.p.think_end or "")
            if self.forced:
                self._append(self.p.force_suffix)
            self.phase = ANSWER
        else:
            self._done()

    def _done(self) -> None:
        self.phase = DONE
        self.end_time = time.perf_counter()

    def sample(self) -> Sample:
        p, closed = self.p, self.ended or self.forced
        text = self.thinking + ((p.think_end or "") + self.answer if closed else "")
        return Sample(key=self.r.key, text=text, thinking=self.thinking, answer=self.answer,
                      thinking_tokens=self.used, answer_tokens=self.answer_tokens, forced=self.forced,
                      waits=self.waits, finished=self.complete, wall_s=(self.end_time or time.perf_counter())
                      - self.start, extra={"think_end": self.how} if self.how else {})


def run_each(forcer: Forcer, complete: Callable[[Segment], Reply]) -> Sample:
    """Drive one sample to its end, one segment at a time."""
    while (seg := forcer.next()) is not None:
        forcer.feed(complete(seg))
    return forcer.sample()


def drive(forcers: list[Forcer], submit: Callable[[int, Segment], None],
          poll: Callable[[], Iterable[tuple[int, Reply]]],
          on_done: Callable[[Sample], None] | None = None) -> list[Sample]:
    """Drive every sample at once on a continuous engine: each segment's continuation is submitted as soon
    as the segment ends. ``poll`` returns the segments that ended since the last call (blocking as needed)."""
    out: list[Sample | None] = [None] * len(forcers)
    pending = 0
    for i, f in enumerate(forcers):
        submit(i, f.next())
        pending += 1
    while pending:
        for i, rep in poll():
            pending -= 1
            f = forcers[i]
            f.feed(rep)
            seg = f.next()
            if seg is None:
                out[i] = f.sample()
                if on_done:
                    on_done(out[i])
            else:
                submit(i, seg)
                pending += 1
    return out   # type: ignore[return-value]
