"""Math word-problem tasks graded on a final answer: aime24, math500, gsm8k, jsonl:PATH."""

from __future__ import annotations

from pathlib import Path

from ..errors import PrunescaleError
from .base import TASKS, Problem, Task, jsonl_lines, pick_field, read_jsonl, require, unique_ids
from .equivalence import answer_key, grade
from .extract import extract_math, math_equal

INSTRUCTION = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."
# Field names tried in order when a file is read and none is given (--question-field...).
QUESTION_FIELDS, ANSWER_FIELDS, ID_FIELDS = ("problem", "question", "prompt"), ("answer",), ("id", "unique_id")


class MathTask(Task):
    hub: tuple[str, str | None, str] = ("", None, "test")
    question_fields, answer_fields = ("problem",), ("answer",)   # the benchmark's own schema
    fields: dict = {}

    def use_fields(self, question=None, answer=None, id=None):
        self.fields = {"question": question, "answer": answer, "id": id}

    def load(self, data=None, limit=None):
        if data:
            return self._from_file(data, limit)
        if any(self.fields.values()):
            raise PrunescaleError(f"--question-field, --answer-field and --id-field apply to a file: give task "
                                  f"{self.name!r} one with --data")
        rows = self._hub()
        rows = rows[:limit] if limit else rows
        q, a = self.question_fields[0], self.answer_fields[0]
        return [self._problem(r, str(r.get("id", r.get("unique_id", i))), q, a) for i, r in enumerate(rows)]

    def _from_file(self, path, limit) -> list[Problem]:
        lines, given = jsonl_lines(path), self.fields
        q = pick_field(lines[0][1], given.get("question"), self.question_fields, "question", path)
        a = pick_field(lines[0][1], given.get("answer"), self.answer_fields, "answer", path)
        key = pick_field(lines[0][1], given["id"], ID_FIELDS, "id", path) if given.get("id") else None
        rows = require(lines[:limit] if limit else lines, (q, a) + ((key,) if key else ()), path)
        ids = [str(r[key]) if key else str(r.get("id", r.get("unique_id", i))) for i, r in enumerate(rows)]
        problems = unique_ids([self._problem(r, pid, q, a) for pid, r in zip(ids, rows)], path)
        empty = next((p.id for p in problems if not p.answer), None)
        if empty is not None:
            raise PrunescaleError(f"{path}: problem {empty!r} has an empty {a!r} (no gold answer to grade against)")
        return problems

    def _problem(self, r: dict, pid: str, q: str, a: str) -> Problem:
        return Problem(id=pid, prompt=str(r[q]) + INSTRUCTION, answer=self.gold(r[a]),
                       meta={k: r[k] for k in ("subject", "level") if k in r})

    def gold(self, value) -> str:
        return str(value).strip()

    def _hub(self) -> list[dict]:
        from .hub import load_hub

        return load_hub(self.name, *self.hub)

    def extract(self, response):
        return extract_math(response)

    def same_answer(self, a, b):
        return math_equal(a, b)

    def judge(self, extracted, problem):
        if extracted is None:
            return False, None
        verdict = grade(extracted, problem.answer)
        return verdict.equal, verdict.reason

    @staticmethod
    def answer_key(answer: str) -> str:
        """Sound grouping key for maj@k: equal keys are equal answers (fewer slow comparisons)."""
        return answer_key(answer)


@TASKS.register("aime24")
class AIME24(MathTask):
    hub = ("HuggingFaceH4/aime_2024", None, "train")
    hub_size = 30


@TASKS.register("math500")
class MATH500(MathTask):
    hub = ("HuggingFaceH4/MATH-500", None, "test")
    hub_size = 500


@TASKS.register("gsm8k")
class GSM8K(MathTask):
    long_chain = False
    hub = ("openai/gsm8k", "main", "test")
    hub_size = 1319
    question_fields = ("question",)

    def gold(self, value):
        return str(value).split("####")[-1].strip().replace(",", "")


@TASKS.register("jsonl")
class JSONLTask(MathTask):
    """Any JSONL file: ``jsonl:PATH`` (fields ``problem``/``question``/``prompt`` and ``answer``, or those given
    with --question-field, --answer-field, --id-field)."""

    question_fields, answer_fields = QUESTION_FIELDS, ANSWER_FIELDS

    @property
    def seed_name(self) -> str:
        # Samples are seeded by the file's name, not its directory, so a copied file reproduces them.
        return "jsonl:" + Path(self.options["path"]).name

    loglik = True   # in `prunescale knowledge`, a jsonl: file holds MMLU-style rows

    def load(self, data=None, limit=None):
        if data:
            raise PrunescaleError(f"task jsonl:{self.options['path']} names its file; --data {data!r} is not used")
        return self._from_file(self.options["path"], limit)

    def mc_items(self, tokenizer, data=None, limit=None):
        from .loglik import mmlu_items

        rows = read_jsonl(self.options["path"], ("question", "choices", "answer"))
        return mmlu_items(rows[:limit] if limit else rows)


@TASKS.register("mini-math")
class MiniMath(MathTask):
    """Twelve one- or two-step word problems shipped with the package (hand-written for the offline demo)."""

    long_chain = False
    question_fields = ("question",)

    def _hub(self) -> list[dict]:
        return read_jsonl(Path(__file__).parent / "data" / "mini_math.jsonl", ("question", "answer"))
