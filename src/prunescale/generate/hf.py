"""In-process transformers backend with s1 budget forcing (``forcing.TokenForcer``) that keeps the KV cache.

All rows of a batch advance one token per step; a row that has ended (EOS, answer cap) leaves the batch, its
row dropped from the ids, the attention mask and the KV cache, so later steps run on the rows still going (a
row's tokens do not depend on the others: its positions come from its own mask, its draws from its own
generator). Text the forcing appends ("Wait", the end-of-thinking
delimiter and "Final Answer:") is fed as forced tokens through the same decoding loop, so it extends the KV
cache like any other token: the prompt and what was generated are never re-encoded. Each row samples with its
own ``torch.Generator`` seeded by its request, so a sample is reproducible on its own.

A shared sweep (``generate_sweep``) runs each sample once at its largest budget; where a row's thinking count
first reaches a smaller budget it forks (``TokenForcer.fork``): the fork joins the batch as a copy of the row
(its KV cache, mask and ids, and its generator's state) and decodes only the forced end and the answer.
"""

from __future__ import annotations

import inspect
import time

import torch
from transformers import DynamicCache

from .base import BACKENDS, Backend, Built, Forcing, Request, Sample, Sampling, profile_for, render_prompt
from .forcing import Row, TokenForcer, shared_sweep, thinking_cap
from .profiles import ThinkingProfile

_Row = Row   # the name tests construct rows by


@BACKENDS.register("hf")
class HFBackend(Backend):
    """``keep_ids``: each sample's ``extra`` also holds its token ids and where its thinking ended
    (:class:`~.forcing.TokenForcer`'s ``sample``), for callers that score exactly what the model saw."""

    def __init__(self, model, tokenizer, profile: ThinkingProfile, use_cache: bool = True, keep_ids: bool = False):
        self.model, self.tok, self.profile = model, tokenizer, profile
        self.use_cache, self.keep_ids = use_cache, keep_ids
        self.device = next(model.parameters()).device
        eos = getattr(model.generation_config, "eos_token_id", None)
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        self.eos = {e for e in [*eos, tokenizer.eos_token_id] if e is not None}
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.eos), 0)
        self.forcer = TokenForcer(profile, lambda s: tokenizer(s, add_special_tokens=False)["input_ids"],
                                  lambda ids: tokenizer.decode(ids, skip_special_tokens=False), self.eos)
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._drop_finished = True   # False: carry ended rows to the end (the old way; tests compare the two)

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
        return self._run(requests, forcing, sampling)[0]

    def generate_sweep(self, requests: list[Request], budgets, forcing: Forcing, sampling: Sampling) -> dict:
        """Every budget from one run per sample at the largest (``forcing.shared_sweep``): rows fork where
        their count first reaches a smaller budget and decode only that budget's answer."""
        return shared_sweep(self.generate, lambda reqs, f, derived: self._run(reqs, f, sampling, derived),
                            requests, budgets, forcing, sampling)

    @torch.no_grad()
    def _run(self, requests: list[Request], forcing: Forcing, sampling: Sampling, sweep=()) -> tuple[list, list]:
        """The samples of ``requests``, and per request its forks' samples by budget (``sweep``: the smaller
        budgets the rows fork at)."""
        start = time.perf_counter()
        budget = thinking_cap(forcing)
        rows = [Row(r, budget, forcing.waits, torch.Generator().manual_seed(r.seed), sweep=sorted(sweep))
                for r in requests]
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
        full_ids, live = ids, rows   # live: the rows still in the batch, in batch order
        for _ in range(self.forcer.step_limit(forcing)):
            nxt = self._choose(live, logits, sampling, forcing)
            if all(r.finished for r in live):
                break
            # the batch rows next step: those still going, then each fork made this step as a copy of its row
            keep = [j for j, r in enumerate(live) if not (self._drop_finished and r.finished)]
            forks = [(j, f) for j, r in enumerate(live) for f in r.forked]
            if forks or len(keep) < len(live):
                for r in live:
                    r.forked = []
                live = [live[j] for j in keep] + [f for _, f in forks]
                nxt = [nxt[j] for j in keep] + [f.ids[-1] for _, f in forks]   # a fork feeds the crossing token
                sel = torch.tensor(keep + [j for j, _ in forks], dtype=torch.long, device=self.device)
                mask, full_ids = mask[sel], full_ids[sel]
                if cache is not None:
                    cache.batch_select_indices(sel)
            col = torch.tensor(nxt, dtype=torch.long, device=self.device)[:, None]
            mask = torch.cat([mask, torch.ones_like(col)], dim=1)
            full_ids = torch.cat([full_ids, col], dim=1)
            logits = self._forward(col if self.use_cache else full_ids, mask, cache)
        now = time.perf_counter()
        every = rows + [f for r in rows for f in r.forks.values()]
        for r in every:
            if not r.finished:
                r.end_time = now
        sample = lambda r: self.forcer.sample(r, start, self.keep_ids)  # noqa: E731
        return [sample(r) for r in rows], [{b: sample(f) for b, f in r.forks.items()} for r in rows]

    def _forward(self, ids, mask, cache):
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        pos = pos[:, -ids.shape[1]:]
        kw = {self._cache_kw: cache} if cache is not None else {}
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=cache is not None,
                         logits_to_keep=1, **kw)
        return out.logits[:, -1, :].float()

    def _choose(self, rows: list[Row], logits: torch.Tensor, sampling: Sampling, forcing: Forcing) -> list[int]:
        """One forcing step of every row; returns the token each row feeds next (padding once it has ended)."""
        nxt = []
        for i, r in enumerate(rows):
            tok = self.forcer.next_token(r, lambda: self._sample_token(logits[i], r.gen, sampling), forcing)
            nxt.append(self.pad if tok is None else tok)
        return nxt

    # the forcing rules, by their old names (tests call them on single rows)
    def _advance(self, r: Row, tok: int, forcing: Forcing) -> int | None:
        return self.forcer.advance(r, tok, forcing)

    def _spelled_end(self, r: Row, tok: int) -> int:
        return self.forcer.spelled_end(r, tok)

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
