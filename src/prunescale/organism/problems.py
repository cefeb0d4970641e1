"""Seeded problem generators for the embedded reasoning organism.

Two task families, both graded by exact match of the stripped answer string (see :func:`grade`):

* **Long chain** (pointer chasing). The prompt lists a random cyclic map over ``N_SYMBOLS`` letters
  (``map: a>q c>x q>c ... start=a steps=8``, every letter is a key exactly once and a value exactly once, all in one cycle) and
  asks to follow it ``k`` steps from a start letter. The only way to the answer is ``k`` sequential
  look-ups: there is no shortcut (every letter is both a key and a value), and one step's output is the next
  step's input, so one wrong look-up breaks the chain. The worked solution writes one numbered line per
  step in the thinking section (``1 a>q``, ``2 q>c``, ...: six tokens a step), then ``Final Answer: <letter>``.
  Chance is ``1 / (N_SYMBOLS - 1)``.
* **Facts** (knowledge / shallow). One-hop questions (``What is the color of bofa?``) about a fixed table of
  made-up entities. The answers live only in the weights (memorised in training); no thinking is needed.

Every generator is a pure function of its arguments: the same ``(n, k, seed)`` gives the same problems.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

N_SYMBOLS = 16          # letters in each chain problem's map (so k can go up to N_SYMBOLS - 1)
MAX_K = N_SYMBOLS - 1
ANSWER_PREFIX = "Final Answer:"

# The fact table: a fixed, seeded set of made-up entities and two relations with small value sets.
FACT_SEED = 20240607
N_ENTITIES = 64
RELATIONS: dict[str, tuple[str, ...]] = {
    "color": ("red", "blue", "green", "gold", "pink", "gray", "black", "white"),
    "pet": ("cat", "dog", "fox", "owl", "bee", "yak", "emu", "eel"),
}


@dataclass(frozen=True)
class Solution:
    """The assistant side of one problem: the thinking text (without delimiters) and the answer."""

    thinking: str
    answer: str


def _rng(*parts: object) -> random.Random:
    # A string seed is hashed deterministically by random.Random (sha512), unlike hash().
    return random.Random("|".join(str(p) for p in parts))


# --------------------------------------------------------------------------------------------- chains

def make_chain(rng: random.Random, k: int, n_symbols: int = N_SYMBOLS) -> dict:
    """One long-chain problem with ``k`` steps over a map of ``n_symbols`` letters, drawn from ``rng``.

    (Evaluation problems always use ``N_SYMBOLS``; training also uses smaller maps early on.)
    """
    if not 2 <= n_symbols <= 26:
        raise ValueError(f"n_symbols must be in 2..26, got {n_symbols}")
    if not 1 <= k < n_symbols:
        raise ValueError(f"k must be in 1..{n_symbols - 1}, got {k}")
    letters = rng.sample(string.ascii_lowercase, n_symbols)   # the cycle order
    succ = {letters[i]: letters[(i + 1) % n_symbols] for i in range(n_symbols)}
    listed = rng.sample(letters, n_symbols)                   # the order the map is written in
    start = rng.choice(letters)
    prompt = "map: " + " ".join(f"{x}>{succ[x]}" for x in listed) + f" start={start} steps={k}"
    lines, cur = [], start
    for i in range(1, k + 1):
        nxt = succ[cur]
        lines.append(f"{i} {cur}>{nxt}")
        cur = nxt
    return {"prompt": prompt, "answer": cur, "k": k, "start": start, "thinking": "\n".join(lines)}


def chain_problems(n: int, k: int, seed: int = 0) -> list[dict]:
    """``n`` long-chain problems of difficulty ``k``; deterministic in ``(n, k, seed)``.

    Each dict has ``id``, ``prompt`` (the user message), ``answer`` (one letter), ``k``, ``start`` and
    ``thinking`` (the reference solution's thinking text). Problem ``i`` does not depend on ``n``.
    """
    out = []
    for i in range(n):
        p = make_chain(_rng("chain", seed, k, i), k)
        p["id"] = f"chain-k{k}-s{seed}-{i}"
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------------- facts

def _fact_table() -> dict[tuple[str, str], str]:
    rng = _rng("facts", FACT_SEED)
    cons, vows = "bdfgklmnprstvz", "aeiou"
    names: list[str] = []
    while len(names) < N_ENTITIES:
        name = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(2))
        if name not in names:
            names.append(name)
    return {(e, r): rng.choice(vals) for e in names for r, vals in RELATIONS.items()}


FACTS: dict[tuple[str, str], str] = _fact_table()


def fact_prompt(entity: str, relation: str) -> str:
    return f"What is the {relation} of {entity}?"


def all_facts() -> list[dict]:
    """Every fact of the table as a problem, in a fixed order (what training memorises)."""
    return [
        {"id": f"fact-{e}-{r}", "prompt": fact_prompt(e, r), "answer": v, "entity": e, "relation": r,
         "thinking": ""}
        for (e, r), v in FACTS.items()
    ]


def fact_problems(n: int, seed: int = 0) -> list[dict]:
    """``n`` fact questions, a seeded shuffle of the table (cycled when ``n`` exceeds its size).

    Each dict has ``id``, ``prompt``, ``answer`` (one word), ``entity``, ``relation`` and ``thinking`` ("").
    """
    table = all_facts()
    out: list[dict] = []
    rnd = 0
    while len(out) < n:
        order = list(table)
        _rng("fact-order", seed, rnd).shuffle(order)
        out.extend(order[: n - len(out)])
        rnd += 1
    return [dict(p) for p in out]


# -------------------------------------------------------------------------------------------- grading

def extract_answer(text: str) -> str:
    """The answer in a completion: the text after the last ``Final Answer:`` (else the whole text), up to the
    end of its line, stripped. Special tokens should already be removed (decode with skip_special_tokens)."""
    if ANSWER_PREFIX in text:
        text = text.rsplit(ANSWER_PREFIX, 1)[1]
    text = text.strip()
    return text.splitlines()[0].strip() if text else ""


def grade(completion: str, answer: str) -> bool:
    """Exact match: the extracted answer equals ``answer`` after stripping whitespace (case-sensitive)."""
    return extract_answer(completion) == answer.strip()
