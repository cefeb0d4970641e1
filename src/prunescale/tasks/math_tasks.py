"""Math word-problem tasks graded on a final answer: aime24, math500, gsm8k, jsonl:PATH."""

from __future__ import annotations

from .base import TASKS, Problem, Task, read_jsonl
from .extract import extract_math, math_equal

INSTRUCTION = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."


class MathTask(Task):
    hub: tuple[str, str | None, str] = ("", None, "test")
    question_field, answer_field = "problem", "answer"

    def load(self, data=None, limit=None):
        rows = read_jsonl(data, (self.question_field, self.answer_field)) if data else self._hub()
        rows = rows[:limit] if limit else rows
        return [Problem(id=str(r.get("id", r.get("unique_id", i))), prompt=str(r[self.question_field]) + INSTRUCTION,
                        answer=self.gold(r[self.answer_field]), meta={k: r[k] for k in ("subject", "level") if k in r})
                for i, r in enumerate(rows)]

    def gold(self, value) -> str:
        return str(value).strip()

    def _hub(self) -> list[dict]:
        from .hub import load_hub

        return load_hub(self.name, *self.hub)

    def extract(self, response):
        return extract_math(response)

    def same_answer(self, a, b):
        return math_equal(a, b)


@TASKS.register("aime24")
class AIME24(MathTask):
    hub = ("HuggingFaceH4/aime_2024", None, "train")


@TASKS.register("math500")
class MATH500(MathTask):
    hub = ("HuggingFaceH4/MATH-500", None, "test")


@TASKS.register("gsm8k")
class GSM8K(MathTask):
    long_chain = False
    hub = ("openai/gsm8k", "main", "test")
    question_field = "question"

    def gold(self, value):
        return str(value).split("####")[-1].strip().replace(",", "")


@TASKS.register("jsonl")
class JSONLTask(MathTask):
    """Any JSONL file: ``jsonl:PATH`` (fields ``problem``/``question`` and ``answer``)."""

    def load(self, data=None, limit=None):
        path = data or self.options.get("path")
        rows = read_jsonl(path, ())
        self.question_field = "problem" if rows and "problem" in rows[0] else "question"
        return super().load(path, limit)


@TASKS.register("mini-math")
class MiniMath(MathTask):
    """Twelve one- or two-step word problems shipped with the package (hand-written for the offline demo)."""

    long_chain = False
    question_field = "question"

    def _hub(self) -> list[dict]:
        from pathlib import Path

        return read_jsonl(Path(__file__).parent / "data" / "mini_math.jsonl", ("question", "answer"))
