"""Self-reflection counted by transparent rules: the study's three kinds, marker phrases per sentence.

A sentence counts once per kind when any of that kind's patterns matches it (a sentence can be both,
e.g. "Wait, let me check that."). Repeated text counts once: sentences are compared after lower-casing
and collapsing whitespace and punctuation, and only the first copy is counted. ``raw`` keeps the count
with repeats, so raw / unique shows circular self-questioning. The patterns are the documentation: they
are listed below and reported by name with every match.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .text import clean_markers, sentence_spans

KINDS = ("verification", "backtracking", "subgoal")

_I = r"(?:let me|let's|let us|i'll|i will|we can|we will|i should|we should|i need to|we need to)"

_V = {
    "let me check/verify": _I + r" (?:double[- ]?)?(?:check|verify|confirm)\b",
    "double-check": r"\bdouble[- ]?check",
    "sanity check": r"\bsanity[- ]check",
    "to check/verify": r"\bto (?:check|verify|confirm)\b",
    "plug/substitute back": r"\b(?:plug\w*|substitut\w*) (?:\S+ ){0,3}?(?:back|in(?:to)? the (?:original|equation))",
    "matches/checks out": r"\b(?:which|this|that|it) (?:matches|checks out|works|holds)\b|\bchecks out\b",
    "is (in)correct": r"\b(?:that's|that is|this is|it's|it is|which is|is) (?:not |in)?(?:correct|right|consistent)\b",
    "confirms": r"\bconfirm(?:s|ed|ing)\b",
    "makes sense": r"\bmakes sense\b",
    "too high/low": r"\btoo (?:high|low|big|small|large)\b",
    "does not match": r"\b(?:doesn't|does not|don't|do not) (?:match|work|satisfy|agree)\b",
    "not equal to": r"\b(?:is not|isn't|not) equal to\b|≠",
    # a sentence that opens with the word, as in "Check: 3*4 = 12." or the organism's "check 3 jb."
    "check/verify first": r"^\W*(?:check(?:ing)?|verif(?:y|ying|ication))\b",
}
_B = {
    "wait": r"^\W*(?:(?:but|hmm+|oh|ah|no)\W+)?wait\b",
    "that's wrong": r"\b(?:that's|that is|this is|that was|this was|which is) "
                    r"(?:not right|wrong|incorrect|a mistake)\b",
    "made a mistake": r"\b(?:i|we) (?:made|make) (?:a |an )?(?:mistake|error)|\bmy (?:mistake|error)\b",
    "different approach": r"\b(?:try|use|take|consider|another|a different|a new) "
                          r"(?:\w+ )?(?:approach|method|strategy|way)\b",
    "alternatively": r"\balternatively\b",
    "rethink": _I + r" (?:re-?think|reconsider|re-?examine|revisit|start over|go back|backtrack)\b",
    "start over": r"\b(?:start|starting) (?:over|again)\b|\bgo(?:ing)? back to\b",
    "on second thought": r"\bon second thought\b|\bscratch that\b",
    "not working": r"\b(?:isn't|is not|doesn't seem to be|not) (?:working|helping|leading anywhere)\b",
    "actually, no": r"^\W*actually\b|^\W*(?:no|nope)\W*,",
}
_S = {
    "first": r"^\W*(?:first(?:ly)?|to begin|to start)\s*,|^\W*first,? (?:i|we|let)\b",
    "start by": r"\b(?:let me|let's|let us|i'll|i will|we|i) (?:can |should |will )?"
                r"(?:first|(?:start|begin) (?:by|with))\b",
    "as a first step": r"\bas a first step\b|\bthe first step\b",
    "step n": r"\bstep \d+\b",
    "next/then/finally": r"^\W*(?:next|second(?:ly)?|third(?:ly)?|then|finally|lastly)\s*,",
    "need to find": r"\b(?:we|i) (?:need|have|want) to "
                    r"(?:find|compute|determine|calculate|show|prove|figure out|solve)\b",
    "goal is": r"\b(?:the|our|my) (?:goal|task|plan|aim) (?:is|here is)\b",
    "break down": r"\bbreak (?:it|this|the problem|things) (?:down|into)\b",
    "now let's X": r"^\W*(?:now|so|ok(?:ay)?)\W+let(?:'s| me| us) "
                   r"(?:compute|find|calculate|determine|solve|figure out|set up)\b",
}
PATTERNS: dict[str, dict[str, str]] = {"verification": _V, "backtracking": _B, "subgoal": _S}
_COMPILED = {k: [(name, re.compile(p, re.I)) for name, p in pats.items()] for k, pats in PATTERNS.items()}


@dataclass
class ReflectionCounts:
    verification: int
    backtracking: int
    subgoal: int
    raw: dict[str, int]             # same counts with repeated sentences counted every time
    matches: list[dict]             # {"kind", "rule", "start", "end"}: the sentence each count comes from

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_sentence(s: str) -> str:
    """What counts as "the same text": case, whitespace and punctuation ignored."""
    return " ".join(re.sub(r"[^\w\s]+", " ", s.lower()).split())


def count_reflection(text: str) -> ReflectionCounts:
    """Rule-based counts of the three kinds of self-reflection in ``text``."""
    clean = clean_markers(text)
    unique = dict.fromkeys(KINDS, 0)
    raw = dict.fromkeys(KINDS, 0)
    seen: set[str] = set()
    matches = []
    for a, b in sentence_spans(clean):
        sent = clean[a:b].replace("’", "'")  # models write both apostrophes
        key = normalize_sentence(sent)
        first = key not in seen
        seen.add(key)
        for kind in KINDS:
            rule = next((name for name, rx in _COMPILED[kind] if rx.search(sent)), None)
            if rule is None:
                continue
            raw[kind] += 1
            if first:
                unique[kind] += 1
                matches.append({"kind": kind, "rule": rule, "start": a, "end": b})
    return ReflectionCounts(**unique, raw=raw, matches=matches)
