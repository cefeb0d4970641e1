"""Final-answer extraction: the last \\boxed{}, else an "Answer:" line, else the final number.

Ours, not math-verify's: on the real s1.1 log this reproduces lm-eval's extracted answers exactly (a test checks
it), where math-verify's ``parse`` of a whole response picks by priority among boxes, "final answer is" phrases
and any LaTeX, and returns sympy objects rather than the answer text a report shows. Equivalence of the
extracted text is math-verify's (``equivalence.grade``). Linear in time and memory in the response length.
"""

from __future__ import annotations

import re

from .equivalence import math_equal  # noqa: F401  (graders import it from here)

_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*[:：]\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def boxed_spans(text: str, pattern: re.Pattern = _BOX) -> list[tuple[int, int]]:
    """(start, end) of the content of every box opened by ``pattern`` (ending in "{"), braces balanced, in
    order of opening; unclosed boxes skipped. One pass pairs every brace, so memory stays linear even for
    thousands of nested boxes (their contents are not copied)."""
    opens = [m.end() for m in pattern.finditer(text)]
    if not opens:
        return []
    closing, stack = {}, []
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            closing[stack.pop()] = m.start()
    return [(i, closing[i - 1]) for i in opens if i - 1 in closing]


def boxed_contents(text: str, pattern: re.Pattern = _BOX) -> list[str]:
    """Contents of every box (see ``boxed_spans``), stripped; copies nested contents, so quadratic for deep
    nesting: use ``boxed_spans`` where only some are needed."""
    return [text[a:b].strip() for a, b in boxed_spans(text, pattern)]


def last_boxed(text: str) -> str | None:
    """Content of the last opened closed \\boxed{...} or \\fbox{...}; None if there is none."""
    spans = boxed_spans(text)
    return text[spans[-1][0]:spans[-1][1]].strip() if spans else None


def extract_math(text: str) -> str | None:
    boxed = last_boxed(text)
    if boxed:
        return boxed
    lines = _ANSWER_LINE.findall(text)
    if lines:
        ans = lines[-1].strip().rstrip(".").strip()
        inner = last_boxed(ans)
        return inner or ans.strip("$ ") or None
    nums = _NUMBER.findall(text)
    return nums[-1].replace(",", "") if nums else None
