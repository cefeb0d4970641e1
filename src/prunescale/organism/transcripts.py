"""Full chat transcripts of organism problems (prompt + reference thinking + answer): calibration text for
score-based pruning of the organism, and supervised traces for recovery fine-tuning."""

from __future__ import annotations

from .problems import MAX_K, _rng, all_facts, make_chain
from .tokenizer import completion_text, prompt_text


def transcripts(n: int, seed: int = 0, k_max: int = 12, fact_every: int = 4, count: str = "up") -> list[dict]:
    """``n`` problems with their worked solutions: chains with k cycling 1..k_max, every ``fact_every``-th
    item a fact, step lines numbered as ``count`` says. Chains come from their own random stream (not the
    evaluation tasks')."""
    k_max = min(k_max, MAX_K)
    facts = all_facts()
    out = []
    for i in range(n):
        if fact_every and i % fact_every == fact_every - 1:
            out.append(facts[(i // fact_every + seed) % len(facts)])
        else:
            k = 1 + i % k_max
            out.append(make_chain(_rng("transcript", seed, i), k, count))
    return out


def calibration_texts(tokenizer, n: int, seed: int = 0, count: str = "up") -> list[str]:
    return [prompt_text(tokenizer, p["prompt"]) + completion_text(p["thinking"], p["answer"])
            for p in transcripts(n, seed, count=count)]


def model_count(config) -> str:
    """How a model's organism step lines are numbered (``organism_count`` in its config; weights from before
    the option count up)."""
    return getattr(config, "organism_count", None) or "up"
