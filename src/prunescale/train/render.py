"""Traces as (prompt, completion) text in the model's own chat format, the way evaluation renders them.

prompt = the chat template's generation prompt for the question + the profile's start of thinking;
completion = thinking + "\\n" + end of thinking + "Final Answer:" + " " + answer + end of turn.
"""

from __future__ import annotations

from ..generate.profiles import get_profile
from .data import Trace


def render(traces: list[Trace], tokenizer, config, name_hint: str = "") -> list[dict]:
    profile = get_profile(None, config, tokenizer, name_hint=name_hint)
    eos = tokenizer.eos_token or ""
    out = []
    for t in traces:
        prompt = _prompt(tokenizer, t.question)
        if profile.think_start and not prompt.endswith(profile.think_start):
            prompt += profile.think_start
        if t.completion is not None:
            completion = t.completion
        elif profile.think_end:
            completion = f"{t.thinking}\n{profile.think_end}{profile.force_suffix} {t.answer}"
        else:
            completion = f"{t.thinking}{profile.force_suffix} {t.answer}"
        if eos and not completion.endswith(eos):
            completion += eos
        out.append({"prompt": prompt, "completion": completion})
    return out


def _prompt(tokenizer, question: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
    return f"{question}\n"
