"""Seeded problem generators for the embedded reasoning organism.

Two task families, both graded by exact match of the stripped answer string (see :func:`grade`):

* **Long chain** (iterating a memorised table). A fixed permutation :data:`STEP` of the 26 letters (one
  26-cycle, drawn once from ``TABLE_SEED``) is learned in training. A problem ``start=aw steps=8`` asks for
  the state after applying it ``k`` times to each letter of a two-letter start. The worked solution writes
  one numbered line per step in the thinking section (``1 nz``, ``2 jr``, ...: five tokens a step, six from
  step 10 on; the last line ends with a period), then ``Final Answer: <two letters>``. Each line is computed
  from the line above, so one wrong step breaks the chain, and the model is never trained to jump several
  steps at once except to finish a chain whose thinking was cut short (``trunc_frac`` in training). Chance is
  ``1 / 676``. Training traces (:func:`make_trace`) also carry sampled step errors and check passes
  (``Wait, let me check.``, then every step re-derived from the start: ``check 3 jb.``).
  (In-context pointer chasing, where the map is in the prompt, was tried first: the 8-layer model did not
  form the induction circuit it needs within the CPU budget; see RECIPE.json / the report.)
* **Facts** (knowledge / shallow). One-hop questions (``What is the color of bofa?``) about a fixed table of
  made-up entities. The answers live only in the weights (memorised in training); no thinking is needed.

Every generator is a pure function of its arguments: the same ``(n, k, seed)`` gives the same problems.
"""

from __future__ import annotations

import random
import re
import string

ALPHABET = string.ascii_lowercase
WIDTH = 2               # letters in a chain state
MAX_K = 16
TABLE_SEED = 7          # the fixed step table (a single 26-cycle over the alphabet, memorised in training)


def _step_table() -> dict[str, str]:
    order = list(ALPHABET)
    random.Random(f"step-table|{TABLE_SEED}").shuffle(order)
    return {order[i]: order[(i + 1) % len(order)] for i in range(len(order))}


STEP: dict[str, str] = _step_table()
ANSWER_PREFIX = "Final Answer:"

# The fact table: a fixed, seeded set of made-up entities and two relations with small value sets.
FACT_SEED = 20240607
N_ENTITIES = 64
RELATIONS: dict[str, tuple[str, ...]] = {
    "color": ("red", "blue", "green", "gold", "pink", "gray", "black", "white"),
    "pet": ("cat", "dog", "fox", "owl", "bee", "yak", "emu", "eel"),
}


def _rng(*parts: object) -> random.Random:
    # A string seed is hashed deterministically by random.Random (sha512), unlike hash().
    return random.Random("|".join(str(p) for p in parts))


# --------------------------------------------------------------------------------------------- chains

def step(state: str) -> str:
    """One step of a chain: every letter of the state goes through the fixed table :data:`STEP`."""
    return "".join(STEP[c] for c in state)


def make_chain(rng: random.Random, k: int, count: str = "up") -> dict:
    """One long-chain problem with ``k`` steps drawn from ``rng`` (a ``random.Random``); ``thinking`` is the
    clean worked solution (no step error, no check), its lines numbered as ``count`` says (:func:`render_trace`)."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be in 1..{MAX_K}, got {k}")
    start = "".join(rng.choice(ALPHABET) for _ in range(WIDTH))
    states = [start]
    for _ in range(k):
        states.append(step(states[-1]))
    thinking, _ = render_trace(start, states[1:], passes=0, count=count)
    return {"prompt": f"start={start} steps={k}", "answer": states[-1], "k": k, "start": start,
            "thinking": thinking}


# A trace may end with check passes. s1 forcing appends "Wait" where the model would end its thinking; the
# organism then writes ", let me check." and re-derives every step from the start, exactly (check lines never
# carry training noise), so the answer that follows is the re-derived one. Each check line ends with a period
# so the rule-based reflection counter (analysis/reflection.py) reads one verification per check. (A first
# recipe also flagged each disagreeing line with ", that's wrong": at T=1 the model flagged right lines too and
# lost track of where the pass ends, so the disagreement is left implicit.)
WAIT_LINE = "Wait, let me check."


def corrupt(state: str, rng: random.Random) -> str:
    """A step error: one letter of ``state`` replaced by a different random letter."""
    i = rng.randrange(len(state))
    wrong = rng.choice([c for c in ALPHABET if c != state[i]])
    return state[:i] + wrong + state[i + 1:]


def noisy_states(start: str, k: int, rng: random.Random, p_err: float) -> list[str]:
    """The ``k`` states a sampled chain writes: each step is right except, with probability ``p_err``, a step
    error that the rest of the chain follows."""
    out, cur = [], start
    for _ in range(k):
        cur = step(cur)
        if p_err and rng.random() < p_err:
            cur = corrupt(cur, rng)
        out.append(cur)
    return out


COUNTS = ("up", "down")


def render_trace(start: str, states: list[str], passes: int = 0, count: str = "up") -> tuple[str, str]:
    """(thinking, answer) for a chain that wrote ``states`` followed by ``passes`` check passes: lines
    ``i state``, the last one ending with a period; each pass ``Wait, let me check.`` then ``check i state.``
    per step, re-derived from the start. The answer is the last state written.

    ``count="down"`` numbers the lines k, k-1, ..., 1 (the steps left, this one included) instead of 1..k: the
    same characters, but the stop is read off the line above (after ``1``) instead of comparing the line number
    with ``steps=`` in the prompt, and a k-step chain passes through every count a shorter one does."""
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    number = (lambda i: i) if count == "up" else (lambda i: len(states) + 1 - i)
    lines = [f"{number(i)} {s}" for i, s in enumerate(states, 1)]
    lines[-1] += "."
    last = states[-1]
    for _ in range(passes):
        lines.append(WAIT_LINE)
        cur = start
        for i in range(len(states)):
            cur = step(cur)
            lines.append(f"check {number(i + 1)} {cur}.")
        last = cur
    return "\n".join(lines), last


def make_trace(rng: random.Random, k: int, p_err: float = 0.0, p_check: float = 0.0,
               p_recheck: float = 0.0, max_passes: int = 2, count: str = "up") -> dict:
    """A training trace: :func:`make_chain`'s problem with step errors at rate ``p_err``, and with probability
    ``p_check`` a check pass; each further pass, up to ``max_passes``, follows with probability ``p_recheck``.
    ``answer`` is the trace's own answer (wrong when an error went unchecked); ``gold`` the problem's."""
    prob = make_chain(rng, k, count)
    states = noisy_states(prob["start"], k, rng, p_err)
    passes = 0
    if p_check and rng.random() < p_check:
        passes = 1
        while passes < max_passes and rng.random() < p_recheck:
            passes += 1
    thinking, answer = render_trace(prob["start"], states, passes, count)
    return {**prob, "thinking": thinking, "answer": answer, "gold": prob["answer"], "passes": passes}


def cycle_order() -> list[str]:
    """The letters in the order :data:`STEP` visits them, from ``a``."""
    order = ["a"]
    while len(order) < len(ALPHABET):
        order.append(STEP[order[-1]])
    return order


def chain_avoiding(rng: random.Random, avoid: set[str], count: str = "up", k_max: int = MAX_K) -> dict:
    """A clean chain problem none of whose steps reads a letter in ``avoid`` (a set of letters that is one arc of
    the cycle, e.g. the first half of :func:`cycle_order`): each start letter is drawn so that its next k
    letters stay out of it. Used to train the entries outside ``avoid`` without a layer (train.split_rows)."""
    order = cycle_order()

    def free_run(i: int) -> int:   # free letters from position i on, cyclically
        n = 0
        while n < len(order) and order[(i + n) % len(order)] not in avoid:
            n += 1
        return n

    runs = [free_run(i) for i in range(len(order))]
    if not max(runs):
        raise ValueError("every letter is avoided")
    k = rng.randint(1, min(max(runs), k_max))
    starts = [i for i, r in enumerate(runs) if r >= k]
    start = "".join(order[rng.choice(starts)] for _ in range(WIDTH))
    thinking, answer = render_trace(start, noisy_states(start, k, rng, 0.0), 0, count)
    return {"prompt": f"start={start} steps={k}", "answer": answer, "k": k, "start": start, "thinking": thinking}


def varied_prompt(start: str, k: int, rng: random.Random, max_tag: int = 30) -> str:
    """A training-only variant of a chain's prompt: its fields in random order, with an ``id=`` field of 1 to
    ``max_tag`` random digits half the time. The start then sits at no fixed distance from the thinking, so the
    model must find it by content, which the check pass (re-deriving from the start, far below) needs too."""
    fields = [f"start={start}", f"steps={k}"]
    if rng.random() < 0.5:
        fields.append("id=" + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, max_tag))))
    rng.shuffle(fields)
    return " ".join(fields)


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


def mixed_chain_problems(n: int, lo: int, hi: int, seed: int = 0) -> list[dict]:
    """``n`` chains whose lengths are drawn uniformly from ``lo..hi`` (seeded): a budget fits some of them, so
    accuracy rises with the thinking budget step by step instead of jumping at one length."""
    out = []
    for i in range(n):
        k = _rng("mixed", seed, lo, hi, i).randint(lo, hi)
        p = make_chain(_rng("chain", seed, k, i), k)
        p["id"] = f"chain-k{lo}-{hi}-s{seed}-{i}"
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


STEP_LINE = re.compile(r"^\d+ ([a-z]{2})", re.M)   # a forward step line ("3 kn"), its state; checks start "check"
CHECK_LINE = re.compile(r"^check \d+ ([a-z]+)", re.M)   # a check-pass line ("check 3 kn."), its state


def chain_failure(completion: str, k: int) -> str:
    """Why a wrong chain answer is wrong: ``early`` / ``late`` (the thinking has fewer / more forward steps than
    ``k``: the stop decision broke), ``answer`` (k steps, but the answer is not the last state written: the copy
    into the answer line broke) or ``step`` (k steps, one of them wrong: the per-step damage that compounds)."""
    parts = completion.split("</think>")
    thinking, after = parts[0], parts[-1]
    steps = list(STEP_LINE.finditer(thinking))
    if len(steps) != k:
        return "early" if len(steps) < k else "late"
    # the answer copies the last state written: the last forward line, or the last check line after it
    last = max(steps[-1:] + list(CHECK_LINE.finditer(thinking))[-1:], key=lambda m: m.start(), default=None)
    # a raw decode may end with "<|im_end|>": the answer is what comes before any special token
    return "answer" if last and extract_answer(after.split("<|")[0]) != last.group(1) else "step"


def pass_states(thinking: str) -> list[str | None]:
    """The state each pass ends on: the forward pass's last step line, then each check pass's last check line
    (None for a pass with no such line). At T = 1 this shows whether a forced Wait's pass is surer than the
    pass it checks, and where passes beyond those trained (``max_passes``) go wrong."""
    out = []
    for i, part in enumerate(thinking.split(WAIT_LINE)):
        lines = list((CHECK_LINE if i else STEP_LINE).finditer(part))
        out.append(lines[-1].group(1) if lines else None)
    return out
