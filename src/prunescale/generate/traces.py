"""A model's own generations, in process, as the exact token ids it saw: what calibration and the fragility
predictors score.

:func:`thinking_traces`: budget-forced thinking traces (the hf backend), each with its rendered prompt, its ids
and where its thinking and answer lie in them. :func:`free_text`: sampled continuations of chat prompts with no
thinking section (``--calibration self``). Prompts of their own come from :mod:`.prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Forcing, Request, Sample, Sampling, render_prompt
from .profiles import ThinkingProfile

GREEDY = Sampling(temperature=0.0)


@dataclass
class Trace:
    """One trace. ``ids`` are the rendered prompt's, then everything fed after it, then the EOS that ended it
    (written by the model, not fed). Thinking is ``ids[think_start:think_end]``; the answer runs from
    ``answer_start`` to the end (None: no answer, e.g. it stopped inside thinking). Forced text (the
    end-of-thinking delimiter, s1's "Final Answer:") belongs to neither."""

    prompt: str                  # the user message
    context: str                 # the rendered prompt (chat template, opened thinking)
    ids: list[int]
    think_start: int
    think_end: int
    answer_start: int | None
    sample: Sample               # the backend's sample: texts, token counts, forced, waits


def model_profile(model, tokenizer) -> ThinkingProfile:
    """The thinking profile detected for an in-process model (its config, its name, its tokenizer)."""
    from .profiles import get_profile

    return get_profile(None, model.config, tokenizer, name_hint=getattr(model.config, "_name_or_path", "") or "")


def prompt_ids(tokenizer, profile: ThinkingProfile, prompt: str) -> list[int]:
    """The ids of ``prompt`` rendered as the traces render it."""
    return tokenizer(render_prompt(tokenizer, profile, prompt), add_special_tokens=False)["input_ids"]


@torch.no_grad()
def thinking_traces(model, tokenizer, profile: ThinkingProfile, prompts: list[str], forcing: Forcing,
                    sampling: Sampling = GREEDY, seeds: list[int] | None = None) -> list[Trace]:
    """One batch of traces of ``prompts`` under ``forcing`` (seeds: per prompt, default 0)."""
    from .hf import HFBackend

    backend = HFBackend(model, tokenizer, profile, keep_ids=True)
    seeds = seeds if seeds is not None else [0] * len(prompts)
    samples = backend.generate([Request(p, s, (i,)) for i, (p, s) in enumerate(zip(prompts, seeds))],
                               forcing, sampling)
    suffix = len(backend.forcer.suffix_ids)
    return [_trace(p, backend.render(p), prompt_ids(tokenizer, profile, p), s, suffix)
            for p, s in zip(prompts, samples)]


def _trace(prompt: str, context: str, head: list[int], sample: Sample, suffix: int) -> Trace:
    x = sample.extra
    ids = list(head) + x["ids"]
    start = len(head)
    if x["think_end_at"] is None:   # ended inside thinking (EOS, or the hard cap): no answer
        end, answer = len(ids), None
    else:
        end = start + x["think_end_at"]
        answer = end + x["think_end_len"] + (suffix if sample.forced else 0)
    if x["eos"] is not None:
        ids.append(x["eos"])
    if answer is not None and answer >= len(ids):
        answer = None
    return Trace(prompt, context, ids, start, end, answer, sample)


def chat_text(tokenizer, prompt: str) -> str:
    """``prompt`` as a user turn of the chat template (no thinking section opened); as it is without one."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    return prompt


@torch.no_grad()
def free_text(model, tokenizer, prompts: list[str], *, samples: int, max_len: int, batch_size: int, seed: int,
              desc: str = "generating") -> list[list[int]]:
    """Ids of ``samples`` texts the model writes itself (sampled, seeded) from ``prompts`` (taken in turn),
    each its chat prompt then its continuation up to the EOS, at most ``max_len`` tokens. Special tokens
    are kept as ids, so a scorer sees exactly what the model saw (decoding and re-encoding would drop the chat
    markup)."""
    from tqdm.auto import tqdm

    chat = bool(getattr(tokenizer, "chat_template", None))
    rendered = [chat_text(tokenizer, prompts[i % len(prompts)]) for i in range(samples)]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    eos = set(_as_list(tokenizer.eos_token_id) + _as_list(getattr(model.generation_config, "eos_token_id", None)))
    seqs = []
    device = next(model.parameters()).device
    try:
        for i in tqdm(range(0, samples, batch_size), desc=desc, unit="batch"):
            enc = tokenizer(rendered[i:i + batch_size], return_tensors="pt", padding=True,
                            add_special_tokens=not chat).to(device)
            width = enc["input_ids"].shape[1]
            out = model.generate(**enc, do_sample=True, temperature=0.8, top_p=0.95,
                                 max_new_tokens=max(8, max_len - width), pad_token_id=tokenizer.pad_token_id)
            for row, mask in zip(out.tolist(), enc["attention_mask"].tolist()):
                prompt = [t for t, m in zip(row[:width], mask) if m]
                cont = []
                for t in row[width:]:
                    cont.append(t)
                    if t in eos:
                        break
                seqs.append((prompt + cont)[:max_len])
    finally:
        tokenizer.padding_side = side
    return seqs


def _as_list(x) -> list[int]:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]
