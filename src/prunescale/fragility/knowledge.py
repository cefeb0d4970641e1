"""Knowledge items the knowledge predictor scores: the organism's facts, or a small built-in general set.

The built-in set is for models other than the organism, so the predictor runs offline: everyday facts in the
ARC prompt format ("Question: ...\\nAnswer:" and each choice as a continuation), scored by
:mod:`prunescale.tasks.loglik` as ``prunescale knowledge`` scores ARC.
"""

from __future__ import annotations

from ..tasks.loglik import MCItem

ORGANISM_FACTS = 32   # x 8 choices: 256 short sequences, under a second on one CPU core

# (question, choices, index of the right one)
GENERAL = (
    ("What is the capital of France?", ["Paris", "London", "Berlin", "Madrid"], 0),
    ("How many days are there in a week?", ["five", "six", "seven", "eight"], 2),
    ("What do bees make?", ["milk", "honey", "silk", "wool"], 1),
    ("Which planet do we live on?", ["Mars", "Venus", "Jupiter", "Earth"], 3),
    ("What is the boiling point of water at sea level in degrees Celsius?", ["50", "100", "150", "200"], 1),
    ("Which animal is known as the king of the jungle?", ["lion", "mouse", "cow", "frog"], 0),
    ("What color is the sky on a clear day?", ["green", "red", "blue", "purple"], 2),
    ("How many legs does a spider have?", ["four", "six", "ten", "eight"], 3),
    ("What gas do plants take in from the air?", ["carbon dioxide", "helium", "neon", "argon"], 0),
    ("Which is the largest ocean on Earth?", ["Atlantic", "Pacific", "Indian", "Arctic"], 1),
    ("What is frozen water called?", ["steam", "sand", "ice", "salt"], 2),
    ("Who wrote Romeo and Juliet?", ["Charles Dickens", "Mark Twain", "Jane Austen", "William Shakespeare"], 3),
    ("How many hours are there in a day?", ["24", "12", "48", "60"], 0),
    ("Which organ pumps blood through the body?", ["lung", "heart", "liver", "kidney"], 1),
    ("What is the opposite of hot?", ["warm", "loud", "cold", "fast"], 2),
    ("Which month comes after March?", ["May", "June", "February", "April"], 3),
)


def general_items(limit: int | None = None) -> list[MCItem]:
    rows = GENERAL[:limit] if limit else GENERAL
    return [MCItem(id=f"general-{i}", context=f"Question: {q}\nAnswer:", choices=list(ch), gold=g)
            for i, (q, ch, g) in enumerate(rows)]


def organism_items(tokenizer, limit: int, seed: int = 0) -> list[MCItem]:
    from ..tasks import get_task

    return get_task(f"organism-facts:seed={seed}").mc_items(tokenizer, None, limit)


def knowledge_items(tokenizer, organism: bool, limit: int | None, seed: int = 0) -> list[MCItem]:
    """The organism's fact questions (``limit`` of them, default 32), else the built-in general set."""
    return organism_items(tokenizer, limit or ORGANISM_FACTS, seed) if organism else general_items(limit)
