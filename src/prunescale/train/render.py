"""Traces as (prompt, completion) text in the model's own chat format, the way evaluation renders them.

prompt = the chat template's generation prompt for the question + the profile's start of thinking;
completion = thinking + "\\n" + end of thinking + "Final Answer:" + " " + answer + end of turn.
"""

from __future__ import annotations

from ..generate.base import render_prompt
from ..generate.profiles import get_profile
from .data import Trace


def render(traces: list[Trace], tokenizer, config, name_hint: str = "") -> list[dict]:
    profile = get_profile(None, config, tokenizer, name_hint=name_hint)
    eos = tokenizer.eos_token or ""
    out = []
    for t in traces:
        prompt = render_prompt(tokenizer, profile, t.question)   # exactly the prompt evaluation sends
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

