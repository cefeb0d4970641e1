"""Any OpenAI-compatible ``/v1/completions`` server (vLLM, SGLang, llama.cpp, ``transformers serve``).

Samples run concurrently on a thread pool (``concurrency`` requests in flight); requests go round-robin over
the replicas in ``base_urls``, with retries and exponential backoff on connection errors, 429 and 5xx. Budget
forcing works by segments: thinking is requested with ``max_tokens`` = the remaining budget and the end of
thinking as a stop string; each continuation sends the prompt plus everything generated so far (servers cache
the shared prefix). The API key comes from an environment variable and is never logged.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ..errors import PrunescaleError
from .base import BACKENDS, Backend, Forcing, Request, Sample, Sampling, render_prompt
from .profiles import ThinkingProfile


def _public(url: str) -> str:
    """A URL fit for messages: no user:password, no query string."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.hostname}{f':{p.port}' if p.port else ''}{p.path}"


@BACKENDS.register("openai")
class OpenAIBackend(Backend):
    def __init__(self, base_urls: list[str], model: str, tokenizer, profile: ThinkingProfile, concurrency: int = 16,
                 timeout: float = 600.0, retries: int = 4, api_key_env: str = "OPENAI_API_KEY"):
        if not base_urls:
            raise PrunescaleError("the openai backend needs at least one --base-url")
        self.urls = [u.rstrip("/") for u in base_urls]
        self.urls = [u if u.endswith("/v1") else u + "/v1" for u in self.urls]
        self.model, self.tok, self.profile = model, tokenizer, profile
        self.concurrency, self.timeout, self.retries = concurrency, timeout, retries
        self._key = os.environ.get(api_key_env) if api_key_env else None
        self._next = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()
        self.requests_per_url = [0] * len(self.urls)

    def render(self, prompt: str) -> str:
        return render_prompt(self.tok, self.profile, prompt)

    # transport ----------------------------------------------------------------------------------------------
    def _headers(self) -> dict:
        h = {"Content-Type": "application/json"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def _call(self, path: str, body: dict | None = None) -> dict:
        with self._lock:
            i = next(self._next)
            self.requests_per_url[i] += 1
        url = self.urls[i] + path
        data = json.dumps(body).encode() if body is not None else None
        delay, last = 0.5, None
        for attempt in range(self.retries + 1):
            try:
                req = urllib.request.Request(url, data=data, headers=self._headers(),
                                             method="POST" if data else "GET")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                if e.code != 429 and e.code < 500:
                    raise PrunescaleError(f"{_public(url)} answered HTTP {e.code}: "
                                          f"{e.read()[:200].decode(errors='replace')}") from None
                last = f"HTTP {e.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = str(getattr(e, "reason", e))
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise PrunescaleError(f"server {_public(url)} unreachable after {self.retries + 1} tries ({last})")

    def check(self) -> None:
        """Fail fast, before any work, when a server does not answer."""
        for _ in self.urls:
            self._call("/models")

    def _complete(self, prompt: str, max_tokens: int, stop: list[str] | None, seed: int, s: Sampling) -> tuple:
        body = {"model": self.model, "prompt": prompt, "max_tokens": max(1, max_tokens), "seed": seed,
                "temperature": s.temperature, "top_p": s.top_p}
        if s.top_k > 0:
            body["top_k"] = s.top_k
        if stop:
            body["stop"] = stop
        out = self._call("/completions", body)
        choice = out["choices"][0]
        text = choice.get("text") or ""
        stopped_on = None
        if stop:   # some servers (transformers serve) include the stop string: cut it, and remember it matched
            for st in stop:
                if st in text:
                    text, stopped_on = text[:text.index(st)], st
            if stopped_on is None and choice.get("stop_reason") in stop:
                stopped_on = choice["stop_reason"]
        tokens = (out.get("usage") or {}).get("completion_tokens")
        if tokens is None or stopped_on:
            tokens = len(self.tok(text, add_special_tokens=False)["input_ids"])
        return text, int(tokens), choice.get("finish_reason"), stopped_on

    # forcing --------------------------------------------------------------------------------------------------
    def _one(self, r: Request, f: Forcing, s: Sampling) -> Sample:
        start = time.perf_counter()
        p, prefix = self.profile, self.render(r.prompt)
        budget = f.budget if f.budget is not None else f.max_tokens
        thinking, used, waits, forced, complete = "", 0, 0, False, True
        ended = False
        while True:
            text, n, finish, stopped = self._complete(prefix + thinking, budget - used, [p.think_end] if p.think_end
                                                      else None, r.seed, s)
            thinking += text
            used += n
            if stopped:
                if waits < f.waits and used < budget:
                    waits += 1
                    thinking += p.wait
                    continue
                ended = True
            elif finish == "length" or used >= budget:
                if f.budget is None:
                    complete = False
                else:
                    forced = True
            break
        answer, answer_tokens = "", 0
        if ended or forced:
            lead = (p.think_end or "") + (p.force_suffix if forced else "")
            a, answer_tokens, _, _ = self._complete(prefix + thinking + lead, f.answer_tokens, None, r.seed, s)
            answer = (p.force_suffix if forced else "") + a
        text = thinking + ((p.think_end or "") + answer if (ended or forced) else "")
        return Sample(key=r.key, text=text, thinking=thinking, answer=answer, thinking_tokens=used,
                      answer_tokens=answer_tokens, forced=forced, waits=waits, finished=complete,
                      wall_s=time.perf_counter() - start)

    def generate(self, requests: list[Request], forcing: Forcing, sampling: Sampling) -> list[Sample]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(requests)))) as pool:
            return list(pool.map(lambda r: self._one(r, forcing, sampling), requests))
