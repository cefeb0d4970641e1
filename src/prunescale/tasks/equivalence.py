"""Is a final answer equal to the gold one? Cheap canonical forms and exact numbers first, math-verify last.

``grade(pred, gold)`` decides in this order:
1. equal canonical strings (unicode minus, ``$``, ``\\text``/``\\mbox``, trailing units, degrees, ``\\$``, ``%``,
   a leading ``x =``, set braces ``\\{ \\}``, spaces, thousands commas) -> equal;
2. both plain numbers (integers, decimals, ``1e-7``, ``a/b``, ``\\frac{a}{b}``) -> integers and fractions compare
   exactly; if either side has a decimal point or an exponent, within a relative tolerance of ``REL_TOL`` (so
   ``1e-7`` is not ``0`` and ``123456789`` is not ``123456790``);
3. otherwise math-verify (``grader``), in a worker process under a hard time limit; answers longer than
   ``MAX_LEN`` characters are compared as plain strings (no real final answer is that long; it keeps every
   regex here on short strings and the worker fast).
No model text is ever evaluated here: steps 1-2 are regexes and ``fractions.Fraction``.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .grader import FAILURES, Verdict, shared_grader

REL_TOL = 1e-9
MAX_LEN = 1000

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-"})
_TEXT_CMD = r"\\(?:text|textrm|textbf|textit|mbox)\s*"
# A unit after a value: "5\text{ cm}", "18 dollars", "3\mbox{ m}^2" ("2\mathrm{i}" is not a unit: mathrm is kept).
_UNIT_TEXT = re.compile(r"(?<=[\w})\]])\s*" + _TEXT_CMD + r"\{(?:\s[^{}]*|[A-Za-z]{2,}[A-Za-z .]*)\}(?:\^\{?\d\}?)?\s*$")
_UNIT_WORDS = re.compile(r"^([-+]?[\d.,/]+)\s+(?:[A-Za-z]{2,}\.?\s*){1,3}$")
_TEXT = re.compile(_TEXT_CMD + r"\{")
_ASSIGN = re.compile(r"^[A-Za-z](?:_\{?[A-Za-z0-9]{1,8}\}?)?\s*=\s*(?=\S)")
_REWRITES = [
    (re.compile(r"\\left\b|\\right\b|\\displaystyle\b"), ""),
    (re.compile(r"\\[!,;:](?![a-zA-Z])|\\q?quad\b"), " "),
    (re.compile(r"\\[dt]frac\b"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt\s*(\d)"), r"\\sqrt{\1}"),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b"), ""),
    (re.compile(r"\\?%|\\\$"), ""),
    (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),
]
_DEC = r"(?:\d{1,400}(?:\.\d{0,400})?|\.\d{1,400})(?:[eE][+-]?\d{1,3})?"
_NUMBER = re.compile(rf"[+-]?{_DEC}")
_FRAC = re.compile(rf"([+-]?)\\frac\{{([+-]?{_DEC})\}}\{{([+-]?{_DEC})\}}|([+-]?{_DEC})/([+-]?{_DEC})")


def _unwrap_text(s: str) -> str:
    """``\\text{...}`` / ``\\mbox{...}`` replaced by their content, braces balanced (``\\text{\\frac{1}{2}}``)."""
    while (m := _TEXT.search(s)) is not None:
        depth, end = 1, m.end()
        while end < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[end], 0)
            end += 1
        s = s[:m.start()] + s[m.end():end - 1 if depth == 0 else end] + s[end:]
    return s


def clean(ans: str) -> str:
    """Meaning-preserving clean-up of an answer's LaTeX (spaces kept): what math-verify is given."""
    s = re.sub(r"(?<!\\)\$", "", ans.translate(_MINUS)).strip()   # math delimiters first: "$5\text{ cm}$"
    s = _UNIT_TEXT.sub("", s)
    s = _unwrap_text(s)
    for pattern, rep in _REWRITES:
        s = pattern.sub(rep, s)
    s = _UNIT_WORDS.sub(r"\1", s.strip())
    if s.count("=") == 1:
        s = _ASSIGN.sub("", s)
    return s.strip().rstrip(".").strip()


def canonical(ans: str) -> str:
    """The cleaned answer without spaces and set braces: equal canonical forms are equal answers."""
    return re.sub(r"\s+|\\[{}]", "", clean(ans))


def as_number(s: str) -> tuple[Fraction, bool] | None:
    """(value, exact) of a canonical answer that is a plain number; exact: no decimal point and no exponent."""
    try:
        if _NUMBER.fullmatch(s):
            return Fraction(s), not re.search(r"[.eE]", s)
        m = _FRAC.fullmatch(s)
        if m:
            sign, num, den = m.group(1) or "", m.group(2) or m.group(4), m.group(3) or m.group(5)
            value = Fraction(num) / Fraction(den)
            return (-value if sign == "-" else value), not re.search(r"[.eE]", num + den)
    except (ValueError, ZeroDivisionError):
        pass
    return None


def numbers_equal(x: tuple[Fraction, bool], y: tuple[Fraction, bool]) -> bool:
    (a, exact_a), (b, exact_b) = x, y
    if exact_a and exact_b:
        return a == b
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def answer_key(ans: str) -> str:
    """A cheap key for grouping answers (maj@k): equal keys imply equal answers."""
    if len(ans) > MAX_LEN:
        return ans.strip()
    c = canonical(ans)
    n = as_number(c)
    return f"number:{n[0]}" if n else c


def grade(pred: str, gold: str, timeout: float = 5.0) -> Verdict:
    """The verdict on ``pred`` against ``gold`` (see the module docstring for the order of checks)."""
    if max(len(pred), len(gold)) > MAX_LEN:   # keeps every regex below on short strings
        return Verdict(pred.strip() == gold.strip() != "")
    cp, cg = canonical(pred), canonical(gold)
    if cp == cg:
        return Verdict(bool(cp))
    x, y = as_number(cp), as_number(cg)
    if x is not None and y is not None:
        return Verdict(numbers_equal(x, y))
    p, g = clean(pred), clean(gold)
    if not cp or not cg:
        return Verdict(False)
    return shared_grader(timeout).verdict(p, g)


def math_equal(pred: str, gold: str, timeout: float = 5.0) -> bool:
    return grade(pred, gold, timeout).equal


def grading_failures() -> dict[str, int]:
    """How many answers this process graded wrong without a verdict, by reason ("timeout", "worker died")."""
    return dict(FAILURES)
