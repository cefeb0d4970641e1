"""In-process transformers backend with s1 budget forcing that keeps the KV cache.

All rows of a batch advance one token per step. Text the forcing appends ("Wait", the end-of-thinking
delimiter and "Final Answer:") is fed as forced tokens through the same decoding loop, so it extends the KV
cache like any other token: the prompt and what was generated are never re-encoded. Each row samples with its
own ``torch.Generator`` seeded by its request, so a sample is reproducible on its own.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from .base import BACKENDS, Backend, Built, Forcing, Request, Sample, Sampling, profile_for, render_prompt
from .profiles import ThinkingProfile

THINK, ANSWER, DONE = "think", "answer", "done"


@dataclass
class _Row:
    request: Request
    budget: float
    waits_left: int
    gen: torch.Generator
    phase: str = THINK
    queue: deque = field(default_factory=deque)
    ids: list = field(default_factory=list)        # everything fed after the prompt
    think_end_at: int | None = None                # index in ids where the end-of-thinking text begins
    think_end_len: int = 0                         # tokens the end-of-thinking text took (spelled out: several)
    thinking_tokens: int = 0
    answer_tokens: int = 0
    forced: bool = False
    waits: int = 0
    finished: bool = False
    complete: bool = False                         # ended by EOS / answer cap, not by the hard token cap
    end_time: float = 0.0


@BACKENDS.register("hf")
class HFBackend(Backend):
    def __init__(self, model, tokenizer, profile: ThinkingProfile, use_cache: bool = True):
        self.model, self.tok, self.profile = model, tokenizer, profile
        self.use_cache = use_cache
        self.device = next(model.parameters()).device
        enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"] if s else []  # noqa: E731
        self.end_ids = enc(profile.think_end) if profile.think_end else []
        self.force_ids = self.end_ids + enc(profile.force_suffix)
        self.wait_ids = enc(profile.wait)
        eos = getattr(model.generation_config, "eos_token_id", None)
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        self.eos = {e for e in [*eos, tokenizer.eos_token_id] if e is not None}
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.eos), 0)
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def from_config(cls, cfg, path: str | None = None, name_hint: str | None = None) -> Built:
        from ..models.loading import load_model

        loaded = load_model(path or cfg.model, dtype=cfg.dtype, device=cfg.device,
                            trust_remote_code=cfg.trust_remote_code)
        profile = profile_for(cfg, loaded.model.config, loaded.tokenizer, name_hint)
        return Built(cls(loaded.model, loaded.tokenizer, profile), profile, str(loaded.path), loaded.model)

    def render(self, prompt: str) -> str:
        return render_prompt(self.tok, self.profile, prompt)

    @torch.no_grad()
    def generate(self, requests: list[Request], forcing: Forcing, sampling: Sampling) -> list[Sample]:
        start = time.perf_counter()
        budget = forcing.budget if forcing.budget is not None else forcing.max_tokens
        rows = [_Row(r, budget, forcing.waits, torch.Generator().manual_seed(r.seed)) for r in requests]
        prompts = [self.tok(self.render(r.prompt), add_special_tokens=False)["input_ids"] for r in requests]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, p in enumerate(prompts):   # left padding
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        cache = DynamicCache(config=self.model.config) if self.use_cache else None
        logits = self._forward(ids, mask, cache)
        full_ids = ids
        step_limit = budget + forcing.answer_tokens + len(self.force_ids) + forcing.waits * (len(self.wait_ids) + 1) + 2
        for _ in range(int(step_limit)):
            nxt = self._choose(rows, logits, sampling, forcing)
            if all(r.finished for r in rows):
                break
            col = torch.tensor(nxt, dtype=torch.long, device=self.device)[:, None]
            mask = torch.cat([mask, torch.ones_like(col)], dim=1)
            full_ids = torch.cat([full_ids, col], dim=1)
            logits = self._forward(col if self.use_cache else full_ids, mask, cache)
        now = time.perf_counter()
        for r in rows:
            if not r.finished:
                r.end_time = now
        return [self._sample(r, start) for r in rows]

    def _forward(self, ids, mask, cache):
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        pos = pos[:, -ids.shape[1]:]
        kw = {self._cache_kw: cache} if cache is not None else {}
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=cache is not None,
                         logits_to_keep=1, **kw)
        return out.logits[:, -1, :].float()

    def _choose(self, rows: list[_Row], logits: torch.Tensor, sampling: Sampling, forcing: Forcing) -> list[int]:
        """One step of every row's state machine; returns the token each row feeds next."""
        nxt = []
        for i, r in enumerate(rows):
            if r.finished:
                nxt.append(self.pad)
                continue
            if r.queue:
                tok = r.queue.popleft()
            else:
                tok = self._sample_token(logits[i], r.gen, sampling)
                tok = self._advance(r, tok, forcing)
                if tok is None:
                    nxt.append(self.pad)
                    continue
            r.ids.append(tok)
            if r.phase == DONE and not r.queue:
                self._finish(r, finished=True)
            nxt.append(tok)
        return nxt

    def _advance(self, r: _Row, tok: int, forcing: Forcing) -> int | None:
        """Apply the forcing rules to a freshly sampled token; None ends the row without feeding it."""
        if r.phase == THINK:
            if self.end_ids and tok == self.end_ids[0]:
                if r.waits_left > 0:   # s1: suppress the end of thinking, append "Wait", keep thinking
                    r.waits_left -= 1
                    r.waits += 1
                    r.queue.extend(self.wait_ids[1:])
                    return self.wait_ids[0]
                r.queue.extend(self.end_ids[1:])
                self._to_answer(r, 0)
                return tok
            spelled = self._spelled_end(r, tok)
            if spelled:
                # A damaged model may write the delimiter as plain text ("<", "/", "t", ...) rather than its
                # special token; a server's stop string sees the same text, so both backends agree.
                r.thinking_tokens -= spelled - 1
                r.phase = ANSWER
                r.think_end_at, r.think_end_len = len(r.ids) - (spelled - 1), spelled
                return tok
            if tok in self.eos:
                r.phase = DONE
                self._finish(r, finished=True)
                return None
            r.thinking_tokens += 1
            if r.thinking_tokens >= r.budget:
                if forcing.budget is None:   # hard token cap, not a thinking budget: stop unfinished
                    r.phase = DONE
                    r.ids.append(tok)
                    self._finish(r, finished=False)
                    return None
                r.forced = True
                r.queue.extend(self.force_ids)
                self._to_answer(r, 1)
            return tok
        # answer phase
        if tok in self.eos:
            r.phase = DONE
            self._finish(r, finished=True)
            return None
        r.answer_tokens += 1
        if r.answer_tokens >= forcing.answer_tokens:
            r.phase = DONE
        return tok

    def _to_answer(self, r: _Row, offset: int) -> None:
        # The end-of-thinking text starts here (forced: after the token being fed now).
        r.phase = ANSWER
        r.think_end_at = len(r.ids) + offset
        r.think_end_len = len(self.end_ids)

    def _spelled_end(self, r: _Row, tok: int) -> int:
        """How many tokens (ending with ``tok``) spell the end-of-thinking text; 0 if they do not."""
        end = self.profile.think_end
        if not end or len(self.end_ids) == 0 or end[-1] not in self.tok.decode([tok], skip_special_tokens=False):
            return 0
        window = r.ids[-(len(end) + 2):] + [tok]
        for start in range(len(window) - 1, -1, -1):
            text = self.tok.decode(window[start:], skip_special_tokens=False)
            if text.endswith(end):
                return len(window) - start
            if len(text) > len(end) + 8:
                break
        return 0

    def _finish(self, r: _Row, finished: bool) -> None:
        r.finished = True
        r.complete = finished
        r.end_time = time.perf_counter()

    @staticmethod
    def _sample_token(logits: torch.Tensor, gen: torch.Generator, s: Sampling) -> int:
        if s.temperature <= 0:
            return int(logits.argmax())
        logits = logits / s.temperature
        if s.top_k > 0:
            kth = torch.topk(logits, min(s.top_k, logits.shape[-1])).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if s.top_p < 1.0:
            sp, si = probs.sort(descending=True)
            keep = sp.cumsum(-1) - sp < s.top_p
            probs = torch.zeros_like(probs).scatter(0, si[keep], sp[keep])
        return int(torch.multinomial(probs.cpu(), 1, generator=gen))

    def _sample(self, r: _Row, start: float) -> Sample:
        ids = r.ids
        cut = r.think_end_at if r.think_end_at is not None else len(ids)
        dec = lambda x: self.tok.decode(x, skip_special_tokens=False)  # noqa: E731
        return Sample(key=r.request.key, text=dec(ids), thinking=dec(ids[:cut]),
                      answer=dec(ids[cut + r.think_end_len:]) if r.think_end_at is not None else "",
                      thinking_tokens=r.thinking_tokens, answer_tokens=r.answer_tokens, forced=r.forced,
                      waits=r.waits, finished=r.complete, wall_s=r.end_time - start)
