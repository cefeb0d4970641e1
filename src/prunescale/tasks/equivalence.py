"""Is a final answer equal to the gold one? Cheap canonical forms and exact numbers first, math-verify last.

``grade(pred, gold)`` reads each side (``read``) as a value, a unit and a percent sign, then decides:

1. units: when both sides have one they must be the same unit (names normalised: ``\\text{ cm}`` = ``cm`` =
   ``centimeters``, ``^\\circ`` = ``degrees``, ``\\$`` = ``dollars``; no conversion between units); when only one
   side has one it is ignored (a unit is stripped where the gold has none; a bare value answers a gold with one);
2. percent, both readings (math-verify's and lighteval's convention): when exactly one side carries ``%``
   (``\\%``, ``\\text{ percent}``), ``X%`` equals both ``X`` and ``X/100`` (``10\\%`` = ``10`` = ``0.1``); when
   both do, the numbers before the signs are compared;
3. equal canonical values (unicode minus, ``$``, ``\\text``/``\\mbox``, a leading ``x =``, set braces ``\\{ \\}``,
   spaces, thousands commas) -> equal;
4. both plain numbers (integers, decimals, ``1e-7``, ``1.5\\times10^{20}``, ``a/b``, ``\\frac{a}{b}``) are read
   as exact rationals: if either one has an integer value (``27.0`` and ``1e18`` do) or neither has a decimal
   point or exponent, they compare exactly; otherwise within a relative ``REL_TOL`` (float noise in decimals);
5. otherwise math-verify (``grader``), in a worker process under a hard time limit. An approximation is not the
   exact value: when the gold has no decimal in it, each decimal of the answer is handed over as the exact
   fraction it writes (``1.41421356`` becomes ``\\frac{141421356}{100000000}``, which is not ``\\sqrt{2}``);
   when the gold has decimals, floats are compared rounded to the fewest decimals the gold states (gold
   ``1.41421356`` or ``1.41`` accepts ``\\sqrt{2}``, gold ``1.42`` does not).

Answers longer than ``MAX_LEN`` characters are compared as plain strings (no real final answer is that long; it
keeps every regex here on short strings and the worker fast). No model text is ever evaluated here: steps 1-4
are regexes and ``fractions.Fraction``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .grader import FAILURES, Verdict, shared_grader

REL_TOL = 1e-9
MAX_LEN = 1000
DEFAULT_ROUNDING = 6   # math-verify's float_rounding when the gold states no decimals

_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-"})
_TEXT_CMD = r"\\(?:text|textrm|textbf|textit|mbox)\s*"
_TEXT = re.compile(_TEXT_CMD + r"\{")
_ASSIGN = re.compile(r"^[A-Za-z](?:_\{?[A-Za-z0-9]{1,8}\}?)?\s*=\s*(?=\S)")
_REWRITES = [
    (re.compile(r"\\left\b|\\right\b|\\displaystyle\b"), ""),
    (re.compile(r"\\[!,;:](?![a-zA-Z])|\\q?quad\b"), " "),
    (re.compile(r"\\[dt]frac\b"), r"\\frac"),
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\sqrt\s*(\d)"), r"\\sqrt{\1}"),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b"), ""),   # degrees inside an expression (sin 30°)
    (re.compile(r"\\?%|\\\$"), ""),
    (re.compile(r"(?<=\d),(?=\d{3}(?!\d))"), ""),
]
_DEC = r"(?:\d{1,400}(?:\.\d{0,400})?|\.\d{1,400})(?:[eE][+-]?\d{1,3})?"
_NUMBER = re.compile(rf"[+-]?{_DEC}")
_FRAC = re.compile(rf"([+-]?)\\frac\{{([+-]?{_DEC})\}}\{{([+-]?{_DEC})\}}|([+-]?{_DEC})/([+-]?{_DEC})")
# scientific notation written in LaTeX: 1.5\times10^{20}, 3\cdot 10^{-4}, 10^{9} (spaces already removed)
_SCI = re.compile(rf"([+-]?)(?:({_DEC})(?:\\times|\\cdot|\*))?10\^(?:\{{([+-]?\d{{1,3}})\}}|([+-]?\d))")
_DECIMAL_LITERAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")

# Units --------------------------------------------------------------------------------------------------------
_PERCENT = re.compile(r"\s*(?:\\?%|" + _TEXT_CMD + r"\{\s*(?:\\?%|percent)\s*\}|\s+percent)\s*$")
# "5\text{ cm}", "3\text{m}", "864 \mbox{ inches}^2", "5\mathrm{cm}" after a value ("2\mathrm{i}" is no unit)
_UNIT_TEXT = re.compile(r"(?<=[\w})\]])\s*(?:" + _TEXT_CMD + r"|\\mathrm\s*(?=\{[A-Za-z]{2}))"
                        r"\{(\s*[A-Za-z°][A-Za-z°. ]*(?:\^\{?\d\}?)?\s*)\}(\^\{?\d\}?)?\s*$")
_DEGREE = re.compile(r"(?<=[\w})\]])\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b)\s*(?:([CFK])\b)?\s*$")
_DOLLAR = re.compile(r"^([+-]?)\s*\\\$\s*(?=\S)")
_UNIT_WORDS = re.compile(r"^([-+]?[\d.,/]+)\s+((?:[A-Za-z]{2,}\.?\s*){1,3})$")
_UNIT_ALIASES = {
    "°": ("degree", "degrees", "deg", "\\circ", "^\\circ"),
    "C": ("celsius", "°c"), "F": ("fahrenheit", "°f"), "K": ("kelvin", "kelvins"),
    "$": ("\\$", "dollar", "dollars", "usd"), "cent": ("cents", "¢"),
    "mm": ("millimeter", "millimeters", "millimetre", "millimetres"),
    "cm": ("centimeter", "centimeters", "centimetre", "centimetres"),
    "m": ("meter", "meters", "metre", "metres"), "km": ("kilometer", "kilometers", "kilometre", "kilometres"),
    "in": ("inch", "inches"), "ft": ("foot", "feet"), "yd": ("yard", "yards"), "mi": ("mile", "miles"),
    "s": ("sec", "secs", "second", "seconds"), "min": ("mins", "minute", "minutes"),
    "h": ("hr", "hrs", "hour", "hours"), "day": ("days",), "week": ("weeks",), "year": ("years", "yr", "yrs"),
    "g": ("gram", "grams"), "kg": ("kilogram", "kilograms", "kgs"), "lb": ("lbs", "pound", "pounds"),
    "oz": ("ounce", "ounces"), "L": ("l", "liter", "liters", "litre", "litres"),
    "mL": ("ml", "milliliter", "milliliters", "millilitre", "millilitres"),
}
_UNIT_NAMES = {alias: name for name, aliases in _UNIT_ALIASES.items() for alias in aliases}
_POWER_WORDS = {"square": "^2", "sq": "^2", "sq.": "^2", "cubic": "^3", "cu": "^3"}


def unit_name(unit: str) -> str:
    """One spelling per unit: ``\\text{ cm}^2``, ``cm^{2}`` and ``square centimeters`` all read ``cm^2``."""
    s = re.sub(r"\\[,;:! ]|[{}]", " ", unit.translate(_MINUS)).replace("\\circ", " ° ").replace("°", " ° ")
    power = ""
    m = re.search(r"\^\s*(\d)\s*$", s)
    if m:
        power, s = "^" + m.group(1), s[:m.start()]
    names = []
    for word in s.replace("^", " ").split():
        low = word.lower().rstrip(".") if len(word) > 2 else word
        if low in _POWER_WORDS:
            power = _POWER_WORDS[low]
            continue
        name = _UNIT_NAMES.get(word, _UNIT_NAMES.get(low, word if word in _UNIT_ALIASES else None))
        if name is None:   # a word of its own: "apples" = "apple"
            name = low[:-1] if len(low) > 3 and low.endswith("s") and not low.endswith("ss") else low
        if name == "°" and names[-1:] == ["°"]:
            continue
        names.append(name)
    return "".join(names) + power


@dataclass(frozen=True)
class Reading:
    """An answer read for grading: ``value`` (cleaned LaTeX, what math-verify is given), its unit (normalised,
    None without one) and whether it was stated in percent."""

    value: str
    unit: str | None = None
    percent: bool = False


def _unwrap_text(s: str) -> str:
    """``\\text{...}`` / ``\\mbox{...}`` replaced by their content, braces balanced (``\\text{\\frac{1}{2}}``)."""
    while (m := _TEXT.search(s)) is not None:
        depth, end = 1, m.end()
        while end < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[end], 0)
            end += 1
        s = s[:m.start()] + s[m.end():end - 1 if depth == 0 else end] + s[end:]
    return s


def read(ans: str) -> Reading:
    """The answer's value, unit and percent sign (see the module docstring)."""
    s = re.sub(r"(?<!\\)\$", "", ans.translate(_MINUS)).strip()   # math delimiters first: "$5\text{ cm}$"
    s = s.rstrip(".").strip()
    units: list[str] = []
    percent = False
    m = _DOLLAR.match(s)
    if m:
        units.append("$")
        s = m.group(1) + s[m.end():]
    for _ in range(3):   # peel what ends the answer: "12^{\circ}\text{C}", "15\mbox{ cm}^2", "10\%"
        if not percent and (m := _PERCENT.search(s)) and m.start() > 0:
            percent, s = True, s[:m.start()].rstrip()
        elif (m := _UNIT_TEXT.search(s)) and m.start() > 0 and m.group(1).strip().lower() != "i":
            units.insert(0, m.group(1) + (m.group(2) or ""))
            s = s[:m.start()].rstrip()
        elif (m := _DEGREE.search(s)) and m.start() > 0:
            units.insert(0, "°" + (m.group(1) or ""))
            s = s[:m.start()].rstrip()
        else:
            break
    m = _UNIT_WORDS.match(s.strip())
    if m:
        units.insert(0, m.group(2))
        s = m.group(1)
    unit = unit_name(" ".join(units)) if units else None
    return Reading(_clean_value(s), unit or None, percent)


def _clean_value(s: str) -> str:
    s = _unwrap_text(s)
    for pattern, rep in _REWRITES:
        s = pattern.sub(rep, s)
    s = s.strip()
    if s.count("=") == 1:
        s = _ASSIGN.sub("", s)
    return s.strip().rstrip(".").strip()


def clean(ans: str) -> str:
    """Meaning-preserving clean-up of an answer's LaTeX (spaces kept), unit and percent sign dropped."""
    return read(ans).value


def _canon(value: str) -> str:
    return re.sub(r"\s+|\\[{}]", "", value)


def canonical(ans: str) -> str:
    """The cleaned answer without spaces and set braces (unit and percent sign dropped)."""
    return _canon(clean(ans))


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
        m = _SCI.fullmatch(s)
        if m:
            mantissa = Fraction(m.group(2)) if m.group(2) else Fraction(1)
            value = mantissa * Fraction(10) ** int(m.group(3) or m.group(4))
            return (-value if m.group(1) == "-" else value), False
    except (ValueError, ZeroDivisionError):
        pass
    return None


def numbers_equal(x: tuple[Fraction, bool], y: tuple[Fraction, bool]) -> bool:
    """Exactly when either value is an integer or both are written exactly; else within ``REL_TOL``."""
    (a, exact_a), (b, exact_b) = x, y
    if (exact_a and exact_b) or a.denominator == 1 or b.denominator == 1:
        return a == b
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def answer_key(ans: str) -> str:
    """A cheap key for grouping answers (maj@k): equal keys imply equal answers."""
    if len(ans) > MAX_LEN:
        return ans.strip()
    r = read(ans)
    c = _canon(r.value)
    n = as_number(c)
    return (f"number:{n[0]}" if n else c) + ("|%" if r.percent else "") + (f"|unit:{r.unit}" if r.unit else "")


def _exact_decimals(value: str) -> str:
    """Every decimal literal written as the exact fraction it denotes (``1.5`` -> ``{\\frac{15}{10}}``)."""
    def exact(m: re.Match) -> str:
        den = 10 ** len(m.group(2))
        return rf"{{\frac{{{int(m.group(1) or 0) * den + int(m.group(2))}}}{{{den}}}}}"

    return _DECIMAL_LITERAL.sub(exact, value)


def _stated_decimals(value: str) -> int | None:
    """The fewest decimals among the decimal literals of a gold (None: it has none)."""
    found = [len(m.group(2)) for m in _DECIMAL_LITERAL.finditer(value)]
    return min(found) if found else None


def _values_equal(p: str, g: str, pn, gn, timeout: float) -> Verdict:
    """Compare two values (no unit, no percent sign): canonical strings, plain numbers, else math-verify."""
    if pn is not None and gn is not None:
        return Verdict(numbers_equal(pn, gn))
    if _canon(p) == _canon(g):
        return Verdict(True)
    decimals = _stated_decimals(g)
    if decimals is None:
        return shared_grader(timeout).verdict(_exact_decimals(p), g, DEFAULT_ROUNDING)
    return shared_grader(timeout).verdict(p, g, min(decimals, 15))


def _percent_of(value: str, n):
    """``value`` / 100: as a number when it is one, else as LaTeX for math-verify."""
    return (rf"\frac{{{value}}}{{100}}", None if n is None else (n[0] / 100, n[1]))


def grade(pred: str, gold: str, timeout: float = 5.0) -> Verdict:
    """The verdict on ``pred`` against ``gold`` (see the module docstring for the order of checks)."""
    if max(len(pred), len(gold)) > MAX_LEN:   # keeps every regex below on short strings
        return Verdict(pred.strip() == gold.strip() != "")
    p, g = read(pred), read(gold)
    if not _canon(p.value) or not _canon(g.value):
        return Verdict(False)
    if p.unit and g.unit and p.unit != g.unit:
        return Verdict(False)
    pn, gn = as_number(_canon(p.value)), as_number(_canon(g.value))
    readings = [(p.value, pn, g.value, gn)]
    if p.percent and not g.percent:      # 10% against 0.1: the percent side divided by 100
        readings.append((*_percent_of(p.value, pn), g.value, gn))
    elif g.percent and not p.percent:
        readings.append((p.value, pn, *_percent_of(g.value, gn)))
    verdict = Verdict(False)
    for pv, pnum, gv, gnum in readings:
        verdict = _values_equal(pv, gv, pnum, gnum, timeout)
        if verdict.equal:
            return verdict
    return verdict


def math_equal(pred: str, gold: str, timeout: float = 5.0) -> bool:
    return grade(pred, gold, timeout).equal


def grading_failures() -> dict[str, int]:
    """How many answers this process graded wrong without a verdict, by reason ("timeout", "worker died")."""
    return dict(FAILURES)
