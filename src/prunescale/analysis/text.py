"""Offline text splitting for the analysis: sentences, words, chat-template markers.

The final answer a response states (``final_answer``, ``boxed_answers``) is read by :mod:`prunescale.tasks.extract`,
which owns every answer pattern; it is importable from here too.

Nothing here needs downloaded data (the study's NLTK punkt / word_tokenize do). Every splitter returns
character spans into the text it was given, so results can point back at the original response.
"""

from __future__ import annotations

import re

from ..tasks.extract import boxed_answers, final_answer  # noqa: F401  (re-exported: the analysis reads answers)

# Chat-template markers that are not the model's prose (s1's <|im_start|>think / answer, Qwen3's <think>).
_MARKER = re.compile(r"<\|im_(?:start|end)\|>(?:think|answer|assistant)?|</?think>")

# A word: letters/digits with inner apostrophes ("don't", "let's"); any other visible character alone.
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")

# Candidate sentence ends: terminal punctuation, optional closers, then whitespace; or a blank line.
_END = re.compile(r"[.!?]+[\"'”’)\]*]*(?=\s)|\n[ \t]*\n")

# Words after which a period does not end a sentence (punkt learns these; we list the common ones).
_ABBREV = frozenset(
    "e.g i.e etc vs cf al approx dr mr mrs ms prof fig figs eq eqs sec ch resp viz".split()
)
# "1." / "a." / "iv." alone at the start of a line is an enumerator, not a sentence.
_ENUMERATOR = re.compile(r"[ \t]*(?:\d{1,3}|[a-zA-Z]|[ivx]{1,4})")


def clean_markers(text: str) -> str:
    """Blank out chat-template markers, keeping every other character at its offset.

    A marker becomes a blank line (then spaces) so it also ends the sentence before it.
    """

    def blank(m: re.Match) -> str:
        n = len(m.group())
        return ("\n\n" + " " * (n - 2)) if n >= 2 else " "

    return _MARKER.sub(blank, text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every word token."""
    return [m.span() for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    """Word tokens: words with inner apostrophes kept whole, every punctuation mark on its own."""
    return _WORD.findall(text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed, empty pieces dropped.

    Rules, close to punkt's behaviour on reasoning traces: a sentence ends at ., ! or ? (plus closing quotes
    or brackets) followed by whitespace, unless the word before it is a known abbreviation or a line-initial
    enumerator ("1.", "b.", "iv."); a blank line also ends one, because display math and headings often lack a
    period. Decimals ("3.14") and LaTeX ("\\frac{1}{2}.5") never split: no whitespace follows the period.
    """
    spans, start = [], 0
    for m in _END.finditer(text):
        end = m.end()
        if m.group()[0] == ".":
            word = re.search(r"([\w.]+)$", text[max(start, m.start() - 12):m.start()])  # abbreviations are short
            if word and word.group(1).lower().rstrip(".") in _ABBREV:
                continue
            if _ENUMERATOR.fullmatch(text, text.rfind("\n", 0, m.start()) + 1, m.start()):
                continue
        _add_trimmed(text, start, end, spans)
        start = end
    _add_trimmed(text, start, len(text), spans)
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _add_trimmed(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((a, b))

