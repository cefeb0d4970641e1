"""Multiple-choice tasks graded on the chosen letter: mmlu (any MMLU-style file) and gpqa_diamond."""

from __future__ import annotations

import random

from ..errors import PrunescaleError
from .base import TASKS, Problem, Task, read_jsonl, unique_ids
from .extract import LETTERS, extract_letter

INSTRUCTION = "\n\nAnswer with the letter of the correct option, written as \\boxed{X} or as 'Answer: X'."


def format_question(question: str, choices: list[str]) -> str:
    return question.strip() + "\n\n" + "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)) + INSTRUCTION


class MultipleChoice(Task):
    shuffle_default = False

    def make(self, pid: str, question: str, choices: list[str], gold_index: int, meta: dict) -> Problem:
        order = list(range(len(choices)))
        seed = int(self.options.get("seed", 0))
        if int(self.options.get("shuffle", self.shuffle_default)):
            random.Random(f"{seed}|{pid}").shuffle(order)
        shown = [choices[i] for i in order]
        return Problem(id=pid, prompt=format_question(question, shown), answer=LETTERS[order.index(gold_index)],
                       choices=shown, meta={**meta, "shuffle_seed": seed, "order": order})

    def extract(self, response):
        return extract_letter(response, 10)

    def same_answer(self, a, b):
        return a.strip().upper() == b.strip().upper()


@TASKS.register("mmlu")
class MMLU(MultipleChoice):
    """MMLU-style rows: ``question``, ``choices`` (list), ``answer`` (index or letter). Generation mode asks for
    the letter; log-likelihood mode scores " A".." D" after lm-eval's zero-shot prompt."""

    long_chain = False
    loglik = in_lm_eval = True
    hub_size = 14042   # cais/mmlu all, test

    def rows(self, data=None, limit=None) -> list[dict]:
        if data:
            rows = read_jsonl(data, ("question", "choices", "answer"))
        else:
            from .hub import load_hub

            rows = load_hub(self.name, "cais/mmlu", "all", "test")
        return rows[:limit] if limit else rows

    def mc_items(self, tokenizer, data=None, limit=None):
        from .loglik import mmlu_items

        return mmlu_items(self.rows(data, limit))

    def load(self, data=None, limit=None):
        rows = self.rows(data, limit)
        out = []
        for i, r in enumerate(rows):
            choices = r["choices"] if isinstance(r["choices"], list) else []
            gold = _gold_index(r["answer"], len(choices))
            if gold is None:
                raise PrunescaleError(f"{data or self.name}: row {i + 1} answer {r['answer']!r} is not an index or "
                                      f"letter of its {len(choices)} choices")
            out.append(self.make(str(r.get("id", i)), r["question"], choices, gold,
                                 {k: r[k] for k in ("subject", "type") if k in r}))
        return unique_ids(out, data or self.name)


@TASKS.register("gpqa_diamond")
class GPQADiamond(MultipleChoice):
    """GPQA rows (``Question``, ``Correct Answer``, ``Incorrect Answer 1..3``); options shuffled with ``seed``."""

    long_chain = True
    shuffle_default = True
    hub_size = 198
    FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")

    def load(self, data=None, limit=None):
        if data:
            rows = read_jsonl(data, self.FIELDS)
        else:
            from .hub import load_hub

            rows = load_hub(self.name, "Idavidrein/gpqa", "gpqa_diamond", "train")
        rows = rows[:limit] if limit else rows
        return unique_ids([self.make(str(r.get("Record ID", i)), r["Question"],
                                     [str(r[f]).strip() for f in self.FIELDS[1:]], 0, {}) for i, r in enumerate(rows)],
                          data or self.name)


def _gold_index(answer, n: int) -> int | None:
    """The gold choice as an index: an int, or a letter; None when it names no choice."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer if 0 <= answer < n else None
    letter = str(answer).strip().upper()
    return LETTERS.index(letter) if len(letter) == 1 and letter in LETTERS[:n] else None
