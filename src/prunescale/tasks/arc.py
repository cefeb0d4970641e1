"""ARC (AI2 Reasoning Challenge), easy and challenge sets: rows with ``question``, ``choices: {text, label}``,
``answerKey`` (hub ``allenai/ai2_arc`` or ``--data``). Generation mode asks for the letter of the option;
log-likelihood mode scores each option's text after lm-eval's "Question: ...\nAnswer:" prompt."""

from __future__ import annotations

from ..errors import PrunescaleError
from .base import TASKS, read_jsonl, unique_ids
from .multiple_choice import MultipleChoice


class _ARC(MultipleChoice):
    long_chain = False
    loglik = in_lm_eval = True
    config = ""

    def rows(self, data=None, limit=None) -> list[dict]:
        if data:
            rows = read_jsonl(data, ("question", "choices", "answerKey"))
        else:
            from .hub import load_hub

            rows = load_hub(self.name, "allenai/ai2_arc", self.config, "test")
        return rows[:limit] if limit else rows

    def mc_items(self, tokenizer, data=None, limit=None):
        from .loglik import arc_items

        return arc_items(self.rows(data, limit))

    def load(self, data=None, limit=None):
        out = []
        for i, r in enumerate(self.rows(data, limit)):
            labels, texts = list(r["choices"]["label"]), list(r["choices"]["text"])
            if r["answerKey"] not in labels:
                raise PrunescaleError(f"{data or self.name}: row {i + 1} answerKey {r['answerKey']!r} is not one "
                                      f"of its labels {labels}")
            out.append(self.make(str(r.get("id", i)), r["question"], texts, labels.index(r["answerKey"]), {}))
        return unique_ids(out, data or self.name)


@TASKS.register("arc_easy")
class ARCEasy(_ARC):
    config = "ARC-Easy"
    hub_size = 2376


@TASKS.register("arc_challenge")
class ARCChallenge(_ARC):
    config = "ARC-Challenge"
    hub_size = 1172
