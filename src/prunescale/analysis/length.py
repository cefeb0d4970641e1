"""Where a response's thinking ends, whether the budget forced that end, and whether it reached an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .text import words
from ..tasks.extract import final_answer

# s1 (lm-eval fork): thinking opens with "<|im_start|>think"; a natural end is the model's own
# "<|im_start|>answer" followed by "Answer:", a budget-forced end appends "<|im_start|>answer\nFinal Answer:".
# Qwen3: "<think>" ... "</think>".
_THINK_OPEN = re.compile(r"<\|im_start\|>think|<think>")
_THINK_CLOSE = re.compile(r"<\|im_start\|>answer|</think>")
_FORCED_TAIL = re.compile(r"\s*Final Answer:")


@dataclass
class LengthInfo:
    thinking_end: int | None        # character offset where the (first) thinking part stops; None: no markers
    thinking_words: int             # word tokens in the thinking part (the whole text without markers)
    thinking_tokens: int | None     # model tokens, when given or countable
    forced: bool | None             # None when the format does not tell
    answer_found: bool
    final_answer: str | None


def thinking_bounds(text: str) -> tuple[int, int] | None:
    """(start, end) of the first thinking part, or None when the text has no thinking markers."""
    close = _THINK_CLOSE.search(text)
    if close is None:
        return None
    opened = _THINK_OPEN.search(text, 0, close.start())
    return (opened.end() if opened else 0), close.start()


def detect_forced(text: str) -> bool | None:
    """True if the thinking part ends with s1's budget-forcing suffix, False if it ends naturally."""
    close = _THINK_CLOSE.search(text)
    if close is None or close.group() != "<|im_start|>answer":
        return None
    return bool(_FORCED_TAIL.match(text, close.end()))


def length_info(
    text: str,
    thinking_tokens: int | None = None,
    forced: bool | None = None,
    count_tokens: Callable[[str], int] | None = None,
    thinking_end: int | None = None,
) -> LengthInfo:
    """Length facts of one response; given values (from the run's own log) win over detection.

    ``thinking_end``: where thinking stops in ``text`` when the text has no markers to tell.
    """
    bounds = thinking_bounds(text) or ((0, thinking_end) if thinking_end is not None else None)
    thinking = text[bounds[0]:bounds[1]] if bounds else text
    if thinking_tokens is None and count_tokens is not None:
        thinking_tokens = count_tokens(thinking)
    # The answer is looked for after the thinking part when there is one: a \boxed{} the model wrote while
    # still thinking does not mean the response delivered it.
    answer = final_answer(text[bounds[1]:] if bounds else text)
    return LengthInfo(
        thinking_end=bounds[1] if bounds else None,
        thinking_words=len(words(_THINK_OPEN.sub(" ", thinking))),
        thinking_tokens=thinking_tokens,
        forced=detect_forced(text) if forced is None else forced,
        answer_found=answer is not None,
        final_answer=answer,
    )
