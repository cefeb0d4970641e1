"""s1 budget forcing, written once: token by token for the in-process backend (hf), by segments for the others.

:class:`TokenForcer` applies the rules to each token a backend samples and hands back the token to feed next:
text the forcing appends ("Wait", the end-of-thinking delimiter, "Final Answer:") is queued as tokens and fed
through the same decoding loop, so it extends the KV cache like any other token.

A segment is "continue this text for at most N tokens, stopping at the end of thinking". One :class:`Forcer`
per sample holds the s1 state machine: the thinking segment runs with ``max_tokens`` = the remaining budget
and the end-of-thinking delimiter as a stop; a natural end with Waits left appends ``Wait`` and continues; a
budget that runs out appends the delimiter and the force suffix ("Final Answer:"); then the answer segment
runs. The accounting is :class:`TokenForcer`'s: thinking tokens are the sampled ones before the delimiter
(appended text not counted), answer tokens those after it (EOS not counted).

A backend supplies only "generate these segments": :func:`run_each` drives one sample at a time through a
``complete(segment) -> Reply`` function (a server, from a thread pool); :func:`drive` keeps a continuous
engine busy through ``submit(key, segment)`` / ``poll() -> [(key, Reply)]`` (vLLM: a continuation is added the
moment its segment ends, all samples of all problems in flight together).

Shared-prefix sweeps (:func:`plan_sweep`, :func:`shared_sweep`): the run at budget b is, token for token, the
run at a larger budget up to the moment its count of thinking tokens FIRST reaches b (a spelled-out end may
lower the count later; the b-run had forced by then). So a sweep generates one lead run per sample at its
largest budget and derives each smaller b from it: a lead that never reached b is the b-run exactly; else the
b-run is the lead cut at that first crossing, with the Waits that came before it (``--wait N``: Waits after
the crossing belong to larger budgets only), the forced end + suffix appended, and only the answer generated.
By tokens (:class:`TokenForcer`) the lead row forks at the crossing with a copy of its generator state, so
even a sampled derived answer draws what the b-run would. By segments (:class:`Forcer`) each segment samples
with the request's seed, so a lead's thinking segment extends the b-run's: the crossing reply is cut at
``b - used`` tokens and the twin sends the very answer segment the b-run would.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from .base import Forcing, Request, Sample
from .profiles import ThinkingProfile

THINK, ANSWER, DONE = "think", "answer", "done"


def thinking_cap(forcing: Forcing) -> int:
    """The most thinking tokens a sample may sample: the budget, else the hard token cap."""
    return forcing.budget if forcing.budget is not None else forcing.max_tokens


# shared-prefix sweeps -------------------------------------------------------------------------------------------
def plan_sweep(budgets, max_tokens: int) -> tuple[int | None, list[int], list[int | None]]:
    """``(lead, derived, alone)``: the budget whose run is generated (the largest thinking cap), the smaller
    budgets derived from it (ascending, caps strictly below the lead's), and budgets generated on their own (no
    cap when a budget reaches ``max_tokens``: it stops unfinished there, the budget forces)."""
    budgets = list(dict.fromkeys(budgets))
    cap = lambda b: max_tokens if b is None else b  # noqa: E731
    lead = max(budgets, key=lambda b: (cap(b), b is not None))   # a tie: the budget leads, no cap alone
    derived = sorted(b for b in budgets if b is not None and b < cap(lead))
    alone = [b for b in budgets if b != lead and b not in derived]
    return lead, derived, alone


def shared_sweep(generate: Callable, run_lead: Callable, requests: list[Request], budgets, forcing: Forcing,
                 sampling) -> dict:
    """``{budget: [Sample]}`` of a sweep generated once per sample: ``run_lead(requests, forcing, derived)``
    generates the lead runs and returns ``(samples, forks)``, ``forks[i]`` the derived samples of request i by
    budget (a budget its lead never reached is missing: the lead's sample is that run); ``generate`` makes the
    budgets generated on their own."""
    lead, derived, alone = plan_sweep(budgets, forcing.max_tokens)
    out = {b: generate(requests, replace(forcing, budget=b), sampling) for b in alone}
    if not derived:
        out[lead] = generate(requests, replace(forcing, budget=lead), sampling)
        return out
    leads, forks = run_lead(requests, replace(forcing, budget=lead), derived)
    out[lead] = leads
    for b in derived:
        out[b] = [f[b] if b in f else replace(s, extra=dict(s.extra)) for s, f in zip(leads, forks)]
    return out


# token by token (hf) -------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One sample forced token by token."""

    request: Request
    budget: float
    waits_left: int
    gen: object                                    # the row's own torch.Generator (the backend samples with it)
    phase: str = THINK
    queue: deque = field(default_factory=deque)
    ids: list = field(default_factory=list)        # everything fed after the prompt
    think_end_at: int | None = None                # index in ids where the end-of-thinking text begins
    think_end_len: int = 0                         # tokens the end-of-thinking text took (spelled out: several)
    thinking_tokens: int = 0
    answer_tokens: int = 0
    forced: bool = False
    waits: int = 0
    finished: bool = False
    complete: bool = False                         # ended by EOS / answer cap, not by the hard token cap
    end_time: float = 0.0
    eos_id: int | None = None                      # the EOS that ended the row (not fed, but written)
    sweep: list = field(default_factory=list)      # a lead row: smaller budgets still to cross, ascending
    forks: dict = field(default_factory=dict)      # a lead row: budget -> the row forked where it first reached it
    forked: list = field(default_factory=list)     # forks made this step, for the backend to add to its batch


class TokenForcer:
    """The s1 rules for a backend that feeds every token itself: ``next_token`` says what a row feeds next
    (a queued forced token, or the freshly sampled one after the rules), ``sample`` what the row became.
    ``encode`` (text -> ids, no special tokens added) and ``decode`` (ids -> text, special tokens kept) are
    the model's tokenizer; ``eos`` its end-of-sequence ids."""

    def __init__(self, profile: ThinkingProfile, encode: Callable[[str], list[int]],
                 decode: Callable[[list[int]], str], eos: set[int]):
        self.profile, self.decode, self.eos = profile, decode, eos
        enc = lambda s: encode(s) if s else []  # noqa: E731
        self.end_ids = enc(profile.think_end) if profile.think_end else []
        self.suffix_ids = enc(profile.force_suffix)
        self.force_ids = self.end_ids + self.suffix_ids
        self.wait_ids = enc(profile.wait)

    def step_limit(self, forcing: Forcing) -> int:
        """Decoding steps enough for every row to end: sampled tokens plus everything appended."""
        return int(thinking_cap(forcing) + forcing.answer_tokens + len(self.force_ids)
                   + forcing.waits * (len(self.wait_ids) + 1) + 2)

    def next_token(self, r: Row, sample: Callable[[], int], forcing: Forcing) -> int | None:
        """The token row ``r`` feeds next (None: it has ended); ``sample()`` draws one, called only when no
        forced token is queued."""
        if r.finished:
            return None
        if r.queue:
            tok = r.queue.popleft()
        else:
            tok = self.advance(r, sample(), forcing)
            if tok is None:
                return None
        r.ids.append(tok)
        if r.phase == DONE and not r.queue:
            self.finish(r, finished=True)
        return tok

    def advance(self, r: Row, tok: int, forcing: Forcing) -> int | None:
        """Apply the forcing rules to a freshly sampled token; None ends the row without feeding it."""
        if tok in self.eos:
            r.eos_id = tok
        if r.phase == THINK:
            if self.end_ids and tok == self.end_ids[0]:
                if r.waits_left > 0:   # s1: suppress the end of thinking, append "Wait", keep thinking
                    r.waits_left -= 1
                    r.waits += 1
                    r.queue.extend(self.wait_ids[1:])
                    return self.wait_ids[0]
                r.queue.extend(self.end_ids[1:])
                self._to_answer(r, 0)
                return tok
            spelled = self.spelled_end(r, tok)
            if spelled:
                # A damaged model may write the delimiter as plain text ("<", "/", "t", ...) rather than its
                # special token; a server's stop string sees the same text, so both backends agree.
                r.thinking_tokens -= spelled - 1
                r.phase = ANSWER
                r.think_end_at, r.think_end_len = len(r.ids) - (spelled - 1), spelled
                return tok
            if tok in self.eos:
                self.finish(r, finished=True)
                return None
            r.thinking_tokens += 1
            if r.sweep and r.thinking_tokens == r.sweep[0]:   # the count first reaches a smaller budget
                self.fork(r, r.sweep.pop(0), tok)
            if r.thinking_tokens >= r.budget:
                if forcing.budget is None:   # hard token cap, not a thinking budget: stop unfinished
                    r.ids.append(tok)
                    self.finish(r, finished=False)
                    return None
                r.forced = True
                r.queue.extend(self.force_ids)
                self._to_answer(r, 1)
            return tok
        # answer phase
        if tok in self.eos:
            self.finish(r, finished=True)
            return None
        r.answer_tokens += 1
        if r.answer_tokens >= forcing.answer_tokens:
            r.phase = DONE
        return tok

    def fork(self, r: Row, budget: int, tok: int) -> Row:
        """The row the run at ``budget`` is at this crossing: the same ids (``tok`` fed, as the b-run feeds it),
        counts and Waits, forced, with a copy of the generator state after ``tok`` was drawn (the b-run draws its
        answer from that state). Kept in ``r.forks`` and queued in ``r.forked`` for the backend's batch."""
        gen = r.gen
        if gen is not None:   # a torch.Generator: a fresh one of its kind, at the same state
            gen = type(r.gen)()
            gen.set_state(r.gen.get_state())
        twin = Row(r.request, budget, r.waits_left, gen, ids=r.ids + [tok], thinking_tokens=budget, forced=True,
                   waits=r.waits, eos_id=r.eos_id)
        twin.queue.extend(self.force_ids)
        twin.phase, twin.think_end_at, twin.think_end_len = ANSWER, len(r.ids) + 1, len(self.end_ids)
        r.forks[budget] = twin
        r.forked.append(twin)
        return twin

    def _to_answer(self, r: Row, offset: int) -> None:
        # The end-of-thinking text starts here (forced: after the token being fed now).
        r.phase = ANSWER
        r.think_end_at = len(r.ids) + offset
        r.think_end_len = len(self.end_ids)

    def spelled_end(self, r: Row, tok: int) -> int:
        """How many tokens (ending with ``tok``) spell the end-of-thinking text; 0 if they do not."""
        end = self.profile.think_end
        if not end or len(self.end_ids) == 0 or end[-1] not in self.decode([tok]):
            return 0
        window = r.ids[-(len(end) + 2):] + [tok]
        for start in range(len(window) - 1, -1, -1):
            text = self.decode(window[start:])
            if text.endswith(end):
                return len(window) - start
            if len(text) > len(end) + 8:
                break
        return 0

    @staticmethod
    def finish(r: Row, finished: bool) -> None:
        """The row ends: ``finished`` when it reached an end (EOS / answer cap) rather than the hard token cap."""
        r.phase = DONE
        r.finished = True
        r.complete = finished
        r.end_time = time.perf_counter()

    def sample(self, r: Row, start: float, keep_ids: bool = False) -> Sample:
        """The row as a :class:`Sample`; ``keep_ids`` adds its ids and where its thinking ended to ``extra``
        (``ids``, ``think_end_at``, ``think_end_len``, ``eos``)."""
        ids = r.ids
        cut = r.think_end_at if r.think_end_at is not None else len(ids)
        dec = self.decode
        extra = dict(ids=list(ids), think_end_at=r.think_end_at, think_end_len=r.think_end_len,
                     eos=r.eos_id) if keep_ids else {}
        return Sample(key=r.request.key, text=dec(ids), thinking=dec(ids[:cut]),
                      answer=dec(ids[cut + r.think_end_len:]) if r.think_end_at is not None else "",
                      thinking_tokens=r.thinking_tokens, answer_tokens=r.answer_tokens, forced=r.forced,
                      waits=r.waits, finished=r.complete, wall_s=r.end_time - start, extra=extra)


# by segments (openai, vllm) ------------------------------------------------------------------------------------


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
                 encode: Callable[[str], list[int]] | None = None, sweep=(),
                 cut: Callable[[Reply, int], Reply] | None = None):
        """``sweep`` (a lead run): smaller budgets to fork a twin at; ``cut(reply, k)``: the reply's first ``k``
        tokens as a ``length`` reply (the backend knows its tokens)."""
        self.r, self.p, self.f, self.prefix, self.encode = request, profile, forcing, prefix, encode
        self.sweep, self.cut = sorted(sweep), cut
        self.derived: dict[int, Forcer] = {}   # budget -> the twin forked where the count first reached it
        self.forked: list[Forcer] = []         # twins not yet handed to the driver
        self.budget = thinking_cap(forcing)
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
        while self.sweep and self.sweep[0] <= self.used + rep.tokens:   # crossed inside this reply
            self._fork(self.sweep.pop(0), rep)
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

    def _fork(self, budget: int, rep: Reply) -> None:
        """The b-run's forcer at this crossing: this state, fed the reply cut where the count reaches ``budget``
        (what the b-run's segment, capped at ``budget - used``, returns): it is forced and asks for its answer."""
        twin = copy.copy(self)
        twin.sweep, twin.derived, twin.forked = [], {}, []
        twin.f, twin.budget = replace(self.f, budget=budget), budget
        twin.feed(self.cut(rep, budget - self.used))
        self.derived[budget] = twin
        self.forked.append(twin)

    def take_forked(self) -> list["Forcer"]:
        """Twins forked since the last call (their answer segments are still to run)."""
        out, self.forked = self.forked, []
        return out

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
    """Drive one sample to its end, one segment at a time (a lead's twins too, each as it forks)."""
    while (seg := forcer.next()) is not None:
        forcer.feed(complete(seg))
        for twin in forcer.take_forked():
            run_each(twin, complete)
    return forcer.sample()


def sweep_forks(forcers: list[Forcer]) -> list[dict]:
    """Per lead forcer, its twins' samples by budget (``shared_sweep``'s ``forks``)."""
    return [{b: t.sample() for b, t in f.derived.items()} for f in forcers]


def drive(forcers: list[Forcer], submit: Callable[[int, Segment], None],
          poll: Callable[[], Iterable[tuple[int, Reply]]],
          on_done: Callable[[Sample], None] | None = None) -> list[Sample]:
    """Drive every sample at once on a continuous engine: each segment's continuation is submitted as soon
    as the segment ends. ``poll`` returns the segments that ended since the last call (blocking as needed).
    A lead's twins (shared sweep) join as they fork: their answer segments run beside everything else. Returns
    the samples of ``forcers`` (twins: ``sweep_forks``)."""
    n, forcers = len(forcers), list(forcers)
    out: list[Sample | None] = [None] * n
    pending = 0
    for i, f in enumerate(forcers):
        submit(i, f.next())
        pending += 1
    while pending:
        for i, rep in poll():
            pending -= 1
            f = forcers[i]
            f.feed(rep)
            for twin in f.take_forked():
                forcers.append(twin)
                submit(len(forcers) - 1, twin.next())
                pending += 1
            seg = f.next()
            if seg is None:
                sample = f.sample()
                if i < n:
                    out[i] = sample
                if on_done:
                    on_done(sample)
            else:
                submit(i, seg)
                pending += 1
    return out   # type: ignore[return-value]
