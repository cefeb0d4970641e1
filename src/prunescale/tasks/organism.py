"""The embedded organism's tasks: ``organism-chain:k=K`` (long chain) and ``organism-facts`` (knowledge)."""

from __future__ import annotations

import re

from ..errors import PrunescaleError
from .base import TASKS, Problem, Task, check_options, int_option


def _extract(text: str) -> str | None:
    from ..organism.problems import extract_answer

    # Chat markup is not part of the answer.
    for marker in ("<|im_end|>", "<|endoftext|>", "</s>"):
        text = text.replace(marker, "\n")
    ans = extract_answer(text) if "Final Answer:" in text else ""
    return ans or None


class _OrganismTask(Task):
    uses_data = False            # problems are generated, not read

    def extract(self, response):
        return _extract(response)

    def _problems(self, rows, limit):
        return [Problem(id=r["id"], prompt=r["prompt"], answer=r["answer"],
                        meta={k: r[k] for k in ("k", "start", "entity", "relation") if k in r}) for r in rows]


@TASKS.register("organism-chain")
class OrganismChain(_OrganismTask):
    """``k=K`` chains of K steps, or ``k=LO-HI`` chains of lengths drawn from LO..HI (seeded, per problem)."""

    long_chain = True

    def __init__(self, **options):
        from ..organism.problems import MAX_K

        super().__init__(**options)
        check_options(self, ("k", "seed"))
        self.seed = int_option(self, "seed", 1000, 0)
        k = self.options.get("k", 8)
        if isinstance(k, str) and re.fullmatch(r"\d+-\d+", k):
            self.k_range = tuple(int(x) for x in k.split("-"))
            lo, hi = self.k_range
            if not 1 <= lo < hi <= MAX_K:
                raise PrunescaleError(f"task 'organism-chain': k={k!r} must be a range LO-HI with "
                                      f"1 <= LO < HI <= {MAX_K}")
        else:
            self.k_range = None
            self.k = int_option(self, "k", 8, 1, MAX_K)
            self.chain_length = self.k

    def load(self, data=None, limit=None):
        from ..organism.problems import chain_problems, mixed_chain_problems

        if self.k_range:
            return self._problems(mixed_chain_problems(limit or 100, *self.k_range, self.seed), limit)
        return self._problems(chain_problems(limit or 100, self.k, self.seed), limit)


@TASKS.register("organism-facts")
class OrganismFacts(_OrganismTask):
    long_chain = False
    loglik = True   # every value of the relation scored after the organism's own answer prompt

    def mc_items(self, tokenizer, data=None, limit=None):
        from .loglik import organism_fact_items

        return organism_fact_items(self.load(None, limit), tokenizer)

    def __init__(self, **options):
        super().__init__(**options)
        check_options(self, ("seed",))
        self.seed = int_option(self, "seed", 1000, 0)

    def load(self, data=None, limit=None):
        from ..organism.problems import fact_problems

        return self._problems(fact_problems(limit or 100, self.seed), limit)
