"""Final-answer extraction: the last \\boxed{}, else an "Answer:" line, else the final number."""

from __future__ import annotations

import re

_ANSWER_LINE = re.compile(r"(?:final answer|answer)\s*[:：]\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def boxed_contents(text: str, pattern: re.Pattern = _BOX) -> list[str]:
    """Contents of every box opened by ``pattern`` (ending in "{"), braces balanced; unclosed boxes skipped.

    One pass pairs every brace (a stack), so a response that opens thousands of boxes and closes none stays
    linear."""
    boxes = list(pattern.finditer(text))
    if not boxes:
        return []
    closing, stack = {}, []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            closing[stack.pop()] = i
    return [text[m.end():closing[m.end() - 1]].strip() for m in boxes if m.end() - 1 in closing]


def last_boxed(text: str) -> str | None:
    """Content of the last closed \\boxed{...} or \\fbox{...}; None if there is none."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None


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


def normalize(ans: str) -> str:
    s = ans.strip().strip("$").strip()
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\(?:left|right|displaystyle|!|,|;)", "", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("^\\circ", "").replace("^{\\circ}", "")
    s = s.replace("\\%", "").replace("%", "").replace(" ", "")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    return s.rstrip(".")


def to_number(s: str) -> float | None:
    s = normalize(s)
    m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", s) or re.fullmatch(r"(-?\d+)/(\d+)", s)
    try:
        if m:
            return int(m.group(1)) / int(m.group(2))
        return float(s)
    except (ValueError, ZeroDivisionError):
        return None


def math_equal(a: str, b: str) -> bool:
    """String match after normalising, else numeric (ints, decimals, simple fractions), else symbolic (sympy,
    under a hard time limit in a worker process)."""
    na, nb = normalize(a), normalize(b)
    if na == nb:
        return True
    x, y = to_number(a), to_number(b)
    if x is not None and y is not None:
        return abs(x - y) <= 1e-6 * max(1.0, abs(y))
    if not na or not nb:
        return False
    from .symbolic import symbolic_equal

    return symbolic_equal(na, nb)
