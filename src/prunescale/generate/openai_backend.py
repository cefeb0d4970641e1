"""Any OpenAI-compatible ``/v1/completions`` server (vLLM, SGLang, llama.cpp, ``transformers serve``).

Samples run concurrently on a thread pool (``concurrency`` requests in flight); requests go round-robin over
the replicas in ``base_urls``, with retries and exponential backoff on connection errors, 429 and 5xx. A
replica whose retries all fail is taken out of rotation (one warning on stderr) and its requests go to the
others; the run fails only when none answers. Budget forcing works by segments: thinking is requested with
``max_tokens`` = the remaining budget and the end of thinking as a stop string; each continuation sends the
prompt plus everything generated so far (servers cache the shared prefix). Tokens are counted from what came
back: a server that returns more than ``max_tokens`` asked for is not believed; its reply is cut at the limit
(so a thinking budget holds) and the run warns once. Where thinking ended is read from
what the server returns (see ``_read_end``): servers may strip a special ``</think>`` from the text. The API
key comes from an environment variable and is never logged. A shared sweep (``generate_sweep``) runs each sample
at its largest budget and asks only for the answers of smaller budgets (``forcing.shared_sweep``), their
crossing replies cut with the local tokenizer.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ..errors import PrunescaleError
from .base import BACKENDS, Backend, Built, Forcing, Request, Sample, Sampling, profile_for, render_prompt
from .forcing import Forcer, Reply, run_each, shared_sweep, sweep_forks
from .profiles import ThinkingProfile

# vLLM / SGLang extension: keep special tokens (a special </think>, EOS) in the returned text. Servers that
# reject unknown fields (transformers serve: HTTP 422) are asked again without it.
KEEP_SPECIAL = {"skip_special_tokens": False}


def _public(url: str) -> str:
    """A URL fit for messages: no user:password, no query string."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.hostname}{f':{p.port}' if p.port else ''}{p.path}"


class _Unreachable(Exception):
    """A replica's retries all failed (connection error, timeout, 429 or 5xx)."""


class _Rejected(PrunescaleError):
    """The server answered 4xx: the request itself is wrong, so no other replica would take it."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


@BACKENDS.register("openai")
class OpenAIBackend(Backend):
    def __init__(self, base_urls: list[str], model: str, tokenizer, profile: ThinkingProfile, concurrency: int = 16,
                 timeout: float = 600.0, retries: int = 4, api_key_env: str = "OPENAI_API_KEY",
                 backoff: float = 0.5):
        if not base_urls:
            raise PrunescaleError("the openai backend needs at least one --base-url")
        self.urls = [u.rstrip("/") for u in base_urls]
        self.urls = [u if u.endswith("/v1") else u + "/v1" for u in self.urls]
        self.model, self.tok, self.profile = model, tokenizer, profile
        self.concurrency, self.timeout, self.retries, self.backoff = concurrency, timeout, retries, backoff
        self._key = os.environ.get(api_key_env) if api_key_env else None
        self._next = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()
        self.requests_per_url = [0] * len(self.urls)
        self.dead: dict[int, str] = {}      # replica index -> why it was taken out of rotation
        self._keep_special = True
        self._warned_over = False          # one warning per backend (a run) about over-long replies
        self._eos_text = getattr(tokenizer, "eos_token", None) or None
        self._eos_id = getattr(tokenizer, "eos_token_id", None)
        end = self._encode(profile.think_end) if profile.think_end else []
        self._end_id = end[0] if len(end) == 1 else None

    @classmethod
    def from_config(cls, cfg, path: str | None = None, name_hint: str | None = None) -> Built:
        """Needs ``cfg.base_urls``; the server is asked for ``cfg.served_model`` (default: ``cfg.model``) and
        checked before any work."""
        from ..models.loading import load_tokenizer_config

        if not cfg.base_urls:
            raise PrunescaleError("--backend openai needs --base-url URL (or, in a study, serve: COMMAND)")
        path, tok, config = load_tokenizer_config(cfg.model, path, trust_remote_code=cfg.trust_remote_code)
        profile = profile_for(cfg, config, tok, name_hint)
        backend = cls(cfg.base_urls, cfg.served_model or cfg.model, tok, profile)
        backend.check()
        return Built(backend, profile, path)

    def render(self, prompt: str) -> str:
        return render_prompt(self.tok, self.profile, prompt)

    def _encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    # transport ----------------------------------------------------------------------------------------------
    def _headers(self) -> dict:
        h = {"Content-Type": "application/json"}
        if self._key:
            h["Authorization"] = f"Bearer {self._key}"
        return h

    def _call(self, path: str, body: dict | None = None) -> dict:
        """One request on the next live replica; a replica that stops answering is retired and the request
        moves on to the others."""
        while True:
            with self._lock:
                i = self._pick()
                self.requests_per_url[i] += 1
            try:
                return self._send(i, path, body)
            except _Unreachable as e:
                self._retire(i, str(e))

    def _pick(self) -> int:
        for _ in self.urls:
            i = next(self._next)
            if i not in self.dead:
                return i
        raise self._none_left()

    def _none_left(self) -> PrunescaleError:
        if len(self.urls) == 1:
            return PrunescaleError(f"server {_public(self.urls[0])} {self.dead.get(0, 'unreachable')}")
        why = "; ".join(f"{_public(u)} {self.dead.get(i, 'unreachable')}" for i, u in enumerate(self.urls))
        return PrunescaleError(f"no server answers: {why}")

    def _retire(self, i: int, why: str) -> None:
        with self._lock:
            if i in self.dead:
                return
            self.dead[i] = why
            left = len(self.urls) - len(self.dead)
        if left:   # with none left, the caller's error says it all
            print(f"prunescale: warning: server {_public(self.urls[i])} {why}; taken out of rotation, "
                  f"{left} replica(s) left", file=sys.stderr, flush=True)

    def _send(self, i: int, path: str, body: dict | None) -> dict:
        """POST (or GET) to replica ``i`` with retries; raises ``_Unreachable`` when they all fail."""
        url = self.urls[i] + path
        data = json.dumps(body).encode() if body is not None else None
        delay, last = self.backoff, None
        for attempt in range(self.retries + 1):
            if attempt and i in self.dead:   # another thread gave up on it meanwhile
                break
            try:
                req = urllib.request.Request(url, data=data, headers=self._headers(),
                                             method="POST" if data else "GET")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                if e.code != 429 and e.code < 500:
                    detail = e.read()[:300].decode(errors="replace")
                    raise _Rejected(f"{_public(url)} answered HTTP {e.code}: {' '.join(detail.split())}",
                                    detail) from None
                last = f"HTTP {e.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = str(getattr(e, "reason", e))
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise _Unreachable(f"unreachable after {self.retries + 1} tries ({last})")

    def check(self) -> None:
        """Fail fast, before any work, when no replica answers; warn about (and retire) those that do not."""
        for i in range(len(self.urls)):
            try:
                self._send(i, "/models", None)
            except _Unreachable as e:
                self._retire(i, str(e))
        if len(self.dead) == len(self.urls):
            raise self._none_left()

    # one completion ---------------------------------------------------------------------------------------
    def _post_completion(self, body: dict) -> dict:
        if self._keep_special:
            try:
                return self._call("/completions", {**body, **KEEP_SPECIAL})
            except _Rejected as e:
                if "skip_special_tokens" not in e.detail:
                    raise
                self._keep_special = False
        return self._call("/completions", body)

    def _complete(self, prompt: str, max_tokens: int, stop: list[str] | None, seed: int, s: Sampling) -> Reply:
        body = {"model": self.model, "prompt": prompt, "max_tokens": max(1, max_tokens), "seed": seed,
                "temperature": s.temperature, "top_p": s.top_p}
        if s.top_k > 0:
            body["top_k"] = s.top_k
        if stop:
            body["stop"] = stop
        out = self._post_completion(body)
        choice = out["choices"][0]
        text, end = self._read_end(choice, choice.get("text") or "", stop or [])
        server_count = (out.get("usage") or {}).get("completion_tokens")
        ids = self._encode(text)
        finish = choice.get("finish_reason")
        if server_count is None or finish != "length":
            # The server's count includes the token it stopped on; hf counts neither it nor what follows it.
            count = len(ids)
        else:
            count = int(server_count)
        limit = max(1, max_tokens)
        if max(count, len(ids)) > limit:
            # More than was asked for: count what came back, cut it at the limit (a thinking budget holds
            # whatever the server does) and read it as cut there.
            self._warn_over(max(count, len(ids)), limit)
            cut = self.tok.decode(ids[:limit], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            return Reply(cut, limit, "length", None)
        return Reply(text, count, finish, end)

    def _warn_over(self, count: int, limit: int) -> None:
        with self._lock:
            if self._warned_over:
                return
            self._warned_over = True
        print(f"prunescale: warning: the server returned {count} tokens where max_tokens={limit} was asked for; "
              f"replies are cut at what was asked (budgets hold). Further over-long replies are cut without "
              f"a warning", file=sys.stderr, flush=True)

    def _read_end(self, choice: dict, text: str, stop: list[str]) -> tuple[str, str | None]:
        """Where generation ended, from what the server shows: the text, stop_reason / matched_stop, token ids,
        and, when nothing says more, an early finish_reason "stop" (our stop string or EOS, stripped)."""
        hits = [(text.index(st), st) for st in stop if st in text]
        if hits:   # some servers (transformers serve) include the stop string: cut it
            return text[:min(hits)[0]], "stop"
        if self._eos_text and text.endswith(self._eos_text):   # kept special tokens show the EOS
            return text[:-len(self._eos_text)], "eos"
        reason = choice.get("stop_reason", choice.get("matched_stop"))   # vLLM / SGLang
        last = (choice.get("token_ids") or [None])[-1]
        if (reason is not None and reason in stop) or (last is not None and last == self._end_id):
            return text, "stop"
        if choice.get("finish_reason") != "stop":
            return text, None
        if self._eos_id is not None and self._eos_id in (last, reason):
            return text, "eos"
        # An early "stop" with nothing more in view: our stop string or EOS, stripped as special tokens. Read
        # as the end of thinking: an answer asked of a model that ended costs a request; the reverse, an answer.
        return text, ("inferred" if stop else "eos")

    # forcing: the shared segment-wise driver ----------------------------------------------------------------
    def _cut(self, rep: Reply, n: int) -> Reply:
        """The first ``n`` tokens of a thinking reply (by the local tokenizer, as ``_complete`` counts them)."""
        ids = self._encode(rep.text)[:n]
        return Reply(self.tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False), n,
                     "length", None)

    def _one(self, r: Request, f: Forcing, s: Sampling, sweep=()) -> tuple[Sample, Forcer]:
        forcer = Forcer(r, self.render(r.prompt), self.profile, f, sweep=sweep, cut=self._cut)
        return run_each(forcer, lambda seg: self._complete(seg.text, seg.max_tokens, seg.stop, seg.seed, s)), forcer

    def _run(self, requests: list[Request], forcing: Forcing, sampling: Sampling, sweep=()) -> tuple[list, list]:
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(requests)))) as pool:
            done = list(pool.map(lambda r: self._one(r, forcing, sampling, sweep), requests))
        return [s for s, _ in done], sweep_forks([f for _, f in done])

    def generate(self, requests: list[Request], forcing: Forcing, sampling: Sampling) -> list[Sample]:
        return self._run(requests, forcing, sampling)[0]

    def generate_sweep(self, requests: list[Request], budgets, forcing: Forcing, sampling: Sampling) -> dict:
        return shared_sweep(self.generate, lambda reqs, f, derived: self._run(reqs, f, sampling, derived),
                            requests, budgets, forcing, sampling)
