"""Thinking profiles: how a model family delimits its thinking, for s1-style budget forcing.

``think_start`` is appended to the chat prompt when the template does not already open the thinking section;
``think_end`` closes it; ``force_suffix`` follows ``think_end`` when the budget runs out (s1: "Final Answer:").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import PrunescaleError


@dataclass(frozen=True)
class ThinkingProfile:
    name: str
    think_start: str
    think_end: str | None        # None: the model has no thinking mode; the whole reply is its reasoning
    force_suffix: str = "\nFinal Answer:"
    wait: str = "Wait"


PROFILES = {
    "qwen3": ThinkingProfile("qwen3", "<think>\n", "</think>", "\n\nFinal Answer:"),
    "deepseek-r1": ThinkingProfile("deepseek-r1", "<think>\n", "</think>", "\n\nFinal Answer:"),
    "s1": ThinkingProfile("s1", "<|im_start|>think\n", "<|im_start|>answer", "\nFinal Answer:"),
    "generic": ThinkingProfile("generic", "", None, "\n\nFinal Answer:"),
    # the embedded organism was trained with exactly one newline between </think> and "Final Answer:"
    "organism": ThinkingProfile("organism", "<think>\n", "</think>", "\nFinal Answer:"),
}


def detect_profile(model_config, tokenizer, name_hint: str = "") -> ThinkingProfile:
    """Pick a profile: ``thinking_profile`` in the model config, s1 by name, ``<think>`` in the vocabulary or
    template, else generic."""
    declared = getattr(model_config, "thinking_profile", None)
    if declared in PROFILES:
        return PROFILES[declared]
    hint = name_hint.lower()
    if "s1" in hint.replace("\\", "/").split("/")[-1].split("-")[0] or "/s1" in hint:
        return PROFILES["s1"]
    if "deepseek-r1" in hint or "r1-distill" in hint:
        return PROFILES["deepseek-r1"]
    template = getattr(tokenizer, "chat_template", None) or ""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    if "<think>" in template or ("<think>" in vocab and "</think>" in vocab):
        return PROFILES["qwen3"]
    return PROFILES["generic"]


def get_profile(name: str | None, model_config=None, tokenizer=None, name_hint: str = "",
                think_start: str | None = None, think_end: str | None = None) -> ThinkingProfile:
    if name in (None, "", "auto"):
        profile = detect_profile(model_config, tokenizer, name_hint)
    elif name in PROFILES:
        profile = PROFILES[name]
    else:
        raise PrunescaleError(f"unknown thinking profile {name!r} (choose from: auto, {', '.join(PROFILES)})")
    if think_start is not None:
        profile = replace(profile, think_start=think_start)
    if think_end is not None:
        profile = replace(profile, think_end=think_end or None)
    return profile
