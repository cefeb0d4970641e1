"""Final-answer extraction, the one home of every answer pattern. Two readings, on purpose:

* ``extract_math`` (grading): the last \\boxed{} or \\fbox{}, else the answer on the last "Answer:" (or "final
  answer is") line, else the final number. On that line, markdown and repeated lead-ins are dropped ("Final
  Answer: The final answer is $7$. I hope it is correct.", lm-eval's minerva_math format, reads ``7``; "Answer:
  The answer is 7" reads ``7``), a leading math span is taken whole (``$...$``, ``\\(...\\)``), else the text up to
  the end of its first sentence;
* ``extract_letter`` (multiple choice): a boxed letter, else the last "Answer: X", else the last "(X)";
* ``final_answer`` (the analysis's report of what a response states): the last non-empty \\boxed{} only, else the
  last short "Answer: X" alone on its line, never a bare number, so "no answer" stays visible.

Ours, not math-verify's: on the real s1.1 log this reproduces lm-eval's extracted answers exactly (a test checks
it), where math-verify's ``parse`` of a whole response picks by priority among boxes, "final answer is" phrases
and any LaTeX, and returns sympy objects rather than the answer text a report shows. Equivalence of the
extracted text is math-verify's (``equivalence.grade``). Linear in time and memory in the response length.
"""

from __future__ import annotations

import re

from .equivalence import math_equal  # noqa: F401  (graders import it from here)

_ANSWER_LINE = re.compile(r"(?:final answer[\s*_]*(?:is\b\s*[:：]?|[:：])|answer[*_]*\s*[:：])\s*(.+)",
                          re.IGNORECASE)
# what an answer line may repeat before its answer: "**", "The final answer is", "Final answer:"
_LEAD_IN = re.compile(r"^[\s*_]*(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is\b\s*[:：]?|[:：])[\s*_]*)?", re.IGNORECASE)
_MATH_SPAN = re.compile(r"^(?:\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\])")
_SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])|\s+I hope\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")

LETTERS = "ABCDEFGHIJ"
_LETTER_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:：]?\s*\(?\**([A-J])\b", re.IGNORECASE)
_PAREN = re.compile(r"\(([A-J])\)")


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
        return answer_on_line(lines[-1])
    nums = _NUMBER.findall(text)
    return nums[-1].replace(",", "") if nums else None


def answer_on_line(line: str) -> str | None:
    """The answer an "Answer:" line states (see the module docstring)."""
    ans = line.strip()
    for _ in range(4):   # "Final Answer:Final answer: $X$", "**Final Answer:** The final answer is $X$"
        m = _LEAD_IN.match(ans)
        if not m.end():
            break
        ans = ans[m.end():]
    inner = last_boxed(ans)
    if inner:
        return inner
    span = _MATH_SPAN.match(ans)
    if span:
        ans = next(g for g in span.groups() if g is not None)
    else:
        ans = _SENTENCE_END.split(ans, maxsplit=1)[0]
    return ans.strip().rstrip(".").strip().strip("$*_ ").strip() or None


def extract_letter(text: str, n_choices: int = 4) -> str | None:
    """The chosen letter: a boxed letter, else the last "Answer: X", else the last "(X)"."""
    valid = LETTERS[:n_choices]
    boxed = last_boxed(text)
    if boxed:
        m = re.fullmatch(r"\s*(?:\\text\{)?\(?([A-J])\)?\}?\s*\.?", boxed)
        if m and m.group(1) in valid:
            return m.group(1)
    for pattern in (_LETTER_ANSWER, _PAREN):
        found = [x.upper() for x in pattern.findall(text) if x.upper() in valid]
        if found:
            return found[-1]
    return None


# The analysis's reading: \boxed only, and an "Answer:" line whose value is short (a number or an expression),
# not the start of an explanation.
_REPORT_BOX = re.compile(r"\\boxed\s*\{")
_SHORT_ANSWER_LINE = re.compile(r"(?im)^[ \t*#]*(?:final\s+)?answer\s*[:：]\**[ \t]*(\S[^\n]{0,40})[ \t]*$")


def boxed_answers(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}``, braces balanced; an unclosed box is skipped."""
    return boxed_contents(text, _REPORT_BOX)


def final_answer(text: str) -> str | None:
    """The last non-empty ``\\boxed{}`` content, else the last short "Answer: X" line, else None."""
    # From the last box back, copying one content at a time: linear even for thousands of nested boxes.
    spans = reversed(boxed_spans(text, _REPORT_BOX))
    boxed = next((b for b in (text[i:j].strip() for i, j in spans) if b), None)
    if boxed:
        return boxed
    lines = [m.group(1).strip(" .*$") for m in _SHORT_ANSWER_LINE.finditer(text)]
    lines = [x for x in lines if x]
    return lines[-1] if lines else None
