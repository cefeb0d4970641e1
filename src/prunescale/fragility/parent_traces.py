"""The parent's own greedy, budget-forced traces on built-in prompts: what the predictors score both models on.

The organism gets chain problems of two lengths (short: k 2-4, long: k 12-16), so "long vs short" is chains
that need many steps against chains that need few. Any other model gets the built-in word problems held out
from calibration (``generate.prompts``, offline) and one thinking budget; there "short" is the first quarter of
each trace's thinking and "long" the rest, the same question (does the damage grow along the trace?) asked by
position.

A trace is kept as text pieces and re-encoded piece by piece (prompt, thinking, the text that closes the
thinking up to ``Final Answer:``, the answer), as the hf backend feeds forced text: both models then score
exactly the same token ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..generate.base import Forcing
from ..generate.profiles import ThinkingProfile
from ..generate.prompts import HELD_OUT_PROMPTS
from ..generate.traces import thinking_traces

SHORT_K, LONG_K = (2, 4), (12, 16)
ORGANISM_TRACES, GENERIC_TRACES = 16, 8   # a real model's traces cost far more than the organism's
ORGANISM_BUDGET = 96           # thinking tokens: a 16-step chain takes 87
GENERIC_BUDGET = 64
ANSWER_TOKENS = 8              # answer tokens kept after "Final Answer:" (the KL is summed over them)
ANSWER_LIMIT = 16 + ANSWER_TOKENS   # generated after the thinking: the organism spells "\nFinal Answer:" first
ANSWER_PREFIX = "Final Answer:"

@dataclass
class Trace:
    prompt: str                  # the user message
    context: str                 # the rendered prompt (chat template, opened thinking)
    thinking: str                # the parent's sampled thinking
    lead: str                    # from the end of thinking up to and including "Final Answer:"
    answer: str                  # the parent's answer (first line, may be empty)
    group: str                   # organism: "short" or "long"; other models: "" (split by position)
    k: int | None = None         # organism: chain length


@dataclass(frozen=True)
class TraceSettings:
    n: int | None = None         # traces (None: 16 on the organism, half short, half long chains; 8 otherwise)
    think_tokens: int | None = None   # thinking budget (None: ORGANISM_BUDGET / GENERIC_BUDGET)
    seed: int = 0                # which organism problems

    def count(self, organism: bool) -> int:
        return self.n or (ORGANISM_TRACES if organism else GENERIC_TRACES)

    def budget(self, organism: bool) -> int:
        return self.think_tokens or (ORGANISM_BUDGET if organism else GENERIC_BUDGET)


def is_organism(profile: ThinkingProfile) -> bool:
    return profile.name == "organism"


def prompts(settings: TraceSettings, organism: bool) -> list[tuple[str, str, int | None]]:
    """(prompt, group, k) of every trace to generate."""
    if not organism:
        return [(HELD_OUT_PROMPTS[i % len(HELD_OUT_PROMPTS)], "", None) for i in range(settings.count(False))]
    from ..organism.problems import chain_problems

    out = []
    for i in range(settings.count(True)):
        group, (lo, hi) = ("short", SHORT_K) if i % 2 == 0 else ("long", LONG_K)
        k = lo + (i // 2) % (hi - lo + 1)
        p = chain_problems(i + 1, k, settings.seed)[i]   # problem i does not depend on n
        out.append((p["prompt"], group, k))
    return out


def parent_traces(model, tokenizer, profile: ThinkingProfile, settings: TraceSettings) -> list[Trace]:
    """The parent's greedy traces: thinking capped at the budget (s1 forcing closes it), then its answer."""
    organism = is_organism(profile)
    todo = prompts(settings, organism)
    traces = thinking_traces(model, tokenizer, profile, [p for p, _, _ in todo],
                             Forcing(settings.budget(organism), waits=0, answer_tokens=ANSWER_LIMIT))
    out = []
    for (prompt, group, k), t in zip(todo, traces):
        s = t.sample
        lead, answer = split_answer(s.text[len(s.thinking):], profile)
        out.append(Trace(prompt, t.context, s.thinking, lead, answer, group, k))
    return out


def split_answer(rest: str, profile: ThinkingProfile) -> tuple[str, str]:
    """(lead, answer) of what follows the thinking: the lead ends with "Final Answer:" (appended as s1 forcing
    would when the trace never wrote it), the answer is its first line."""
    for marker in ("<|im_end|>", "<|endoftext|>", "</s>"):
        rest = rest.split(marker)[0]
    if ANSWER_PREFIX not in rest:
        return (profile.think_end or "") + profile.force_suffix, ""
    head, _, tail = rest.partition(ANSWER_PREFIX)
    return head + ANSWER_PREFIX, tail.split("\n")[0].rstrip()
