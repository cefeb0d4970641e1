"""``--calibration traces[:TASK]``: the model's own thinking traces as calibration text (RAC, arXiv 2509.12464,
applied to layers).

Each text is the rendered prompt, the thinking the model writes under s1 budget forcing (greedy,
``generate.traces``), and its answer, kept as the exact token ids the model saw. Prompts are built in (the
organism: its chain problems at the longest lengths whose full trace fits ``--max-seq-len``; any other model:
the word problems of ``generate.prompts``) or a task's problems (``traces:organism-chain:k=4-16``,
``traces:jsonl:PATH``). The thinking budget is what ``--max-seq-len`` leaves after the prompt and the answer.

Per text a :class:`Span` says where the thinking starts and ends and where the answer starts (``chain`` scores
those regions). Generated traces are cached as JSON under ``$PRUNESCALE_CACHE/traces`` (default
``~/.cache/prunescale/traces``), one file per (model fingerprint, seed, spec, samples, max_seq_len); a second
call reads the file instead of generating.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..errors import PrunescaleError
from ..fileio import write_json_atomic
from ..generate.base import Forcing
from ..generate.prompts import TRACE_PROMPTS
from ..generate.traces import model_profile, prompt_ids, thinking_traces

FORMAT = 1                  # bump when what a cached file holds, or how traces are made, changes
ANSWER_TOKENS = 20          # sampled answer tokens kept after the thinking ("\nFinal Answer: xy" is 17)
MIN_BUDGET = 8              # fewer thinking tokens than this is not a trace

# Built-in prompts for models other than the organism: short multi-step word problems (the shared set's).
MATH_PROMPTS = TRACE_PROMPTS


@dataclass(frozen=True)
class Span:
    """Token positions in one calibration text: thinking is ``[think_start, think_end)``; the answer runs from
    ``answer_start`` to the end of the text (None: the text has no answer, e.g. it stopped inside thinking).
    Forced text (the end-of-thinking delimiter, s1's "Final Answer:") belongs to neither."""

    think_start: int
    think_end: int
    answer_start: int | None

    def clipped(self, length: int) -> "Span":
        """The span of the text cut to ``length`` tokens."""
        answer = self.answer_start if self.answer_start is not None and self.answer_start < length else None
        return Span(min(self.think_start, length), min(self.think_end, length), answer)


def is_traces(spec: str) -> bool:
    return spec == "traces" or spec.startswith("traces:")


def cache_root() -> Path:
    """``$PRUNESCALE_CACHE/traces`` (default ``~/.cache/prunescale/traces``)."""
    from ..models.embedded import cache_dir

    return cache_dir() / "traces"


def load_traces(spec: str, model, tokenizer, *, samples: int, max_seq_len: int, batch_size: int,
                seed: int) -> tuple[list[list[int]], list[Span]]:
    """Token ids and spans of ``samples`` traces, read from the cache or generated (then cached)."""
    task = spec.partition(":")[2]
    if spec.startswith("traces:") and not task:
        raise PrunescaleError("calibration 'traces:' names no task (use traces or traces:TASK, "
                              "e.g. traces:organism-chain:k=4-16)")
    key = {"format": FORMAT, "model": model_fingerprint(model, tokenizer), "seed": seed, "spec": spec,
           "samples": samples, "max_seq_len": max_seq_len}
    path = cache_root() / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]}.json"
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    profile = model_profile(model, tokenizer)
    prompts = task_prompts(task, samples) if task else builtin_prompts(profile, tokenizer, samples, max_seq_len, seed)
    seqs, spans = generate_traces(model, tokenizer, profile, prompts, max_seq_len=max_seq_len,
                                  batch_size=batch_size, seed=seed)
    record = {"key": key, "model_name": getattr(model.config, "_name_or_path", ""), "profile": profile.name,
              "prompts": prompts, "sequences": seqs, "spans": [asdict(s) for s in spans],
              "texts": [tokenizer.decode(s, skip_special_tokens=False) for s in seqs]}
    try:
        write_json_atomic(record, path)
    except PrunescaleError as e:   # an unwritable cache costs the next run a regeneration, not this run
        print(f"prunescale: warning: traces not cached: {e}", file=sys.stderr)
    return seqs, spans


def _read_cache(path: Path, key: dict) -> tuple[list[list[int]], list[Span]] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("key") != key:
            return None
        return record["sequences"], [Span(**s) for s in record["spans"]]
    except (OSError, ValueError, KeyError, TypeError):   # absent or damaged: generate again
        return None


def model_fingerprint(model, tokenizer) -> str:
    """A hash of the config, a strided sample of every parameter and the tokenizer: retrained or pruned weights
    give another fingerprint (another cache file), the same weights at another path the same one."""
    h = hashlib.sha256()
    cfg = {k: v for k, v in model.config.to_dict().items() if k not in ("_name_or_path", "transformers_version")}
    h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.detach().reshape(-1)
            n = min(flat.numel(), 512)
            # integer spacing: a float32 linspace rounds past the end for tensors above 2**24 values
            idx = torch.arange(n, dtype=torch.int64, device=flat.device) * (flat.numel() - 1) // max(n - 1, 1)
            h.update(f"{name}|{tuple(p.shape)}|{p.dtype}".encode())
            h.update(flat[idx].double().cpu().numpy().tobytes())
    h.update(json.dumps([len(tokenizer), getattr(tokenizer, "chat_template", None), tokenizer.eos_token,
                         tokenizer.__class__.__name__]).encode())
    return h.hexdigest()


def task_prompts(task_spec: str, samples: int) -> list[str]:
    """The first ``samples`` problems of a task (its user messages)."""
    from ..tasks import get_task

    problems = get_task(task_spec).load(None, samples)
    if not problems:
        raise PrunescaleError(f"calibration traces:{task_spec} has no problems")
    return [p.prompt for p in problems[:samples]]


def builtin_prompts(profile, tokenizer, samples: int, max_seq_len: int, seed: int) -> list[str]:
    """The organism's chain problems at the longest lengths that fit, else the math word problems (seeded order;
    greedy decoding makes a repeated prompt a repeated text, so there are at most as many as the list holds)."""
    import random

    if profile.name == "organism":
        from ..organism.problems import mixed_chain_problems

        hi = longest_chain(tokenizer, profile, max_seq_len)
        if hi < 2:
            raise PrunescaleError(f"--max-seq-len {max_seq_len} is too short for organism traces "
                                  "(a 2-step chain does not fit; use 96 or more)")
        # Their own seed stream: not the evaluation tasks' problems (seed 1000 by default).
        return [p["prompt"] for p in mixed_chain_problems(samples, max(1, hi // 2), hi, seed=900_000 + seed)]
    prompts = list(MATH_PROMPTS)
    random.Random(f"traces|{seed}").shuffle(prompts)
    return prompts[:samples]


def answer_reserve(tokenizer, profile) -> int:
    """Tokens kept after the thinking: the forced end of thinking and "Final Answer:", then the answer."""
    forced = (profile.think_end or "") + profile.force_suffix
    return len(tokenizer(forced, add_special_tokens=False)["input_ids"]) + ANSWER_TOKENS


def longest_chain(tokenizer, profile, max_seq_len: int) -> int:
    """The largest chain length k whose prompt and reference thinking fit the budget ``max_seq_len`` leaves."""
    import random

    from ..generate.base import render_prompt
    from ..organism.problems import MAX_K, make_chain

    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    best = 0
    for k in range(1, MAX_K + 1):
        p = make_chain(random.Random(k), k)
        used = len(encode(render_prompt(tokenizer, profile, p["prompt"]))) + len(encode(p["thinking"] + "\n"))
        if used + answer_reserve(tokenizer, profile) <= max_seq_len:
            best = k
    return best


@torch.no_grad()
def generate_traces(model, tokenizer, profile, prompts: list[str], *, max_seq_len: int, batch_size: int,
                    seed: int) -> tuple[list[list[int]], list[Span]]:
    """Greedy budget-forced traces of ``prompts``; each text at most ``max_seq_len`` tokens."""
    rendered = [prompt_ids(tokenizer, profile, p) for p in prompts]
    seqs, spans = [], []
    for i in tqdm(range(0, len(prompts), batch_size), desc="calibration: thinking traces", unit="batch"):
        chunk = prompts[i:i + batch_size]
        longest = max(len(p) for p in rendered[i:i + batch_size])
        budget = max_seq_len - longest - answer_reserve(tokenizer, profile)
        if budget < MIN_BUDGET:
            raise PrunescaleError(f"--max-seq-len {max_seq_len} leaves {max(budget, 0)} thinking tokens for "
                                  f"traces (prompts take up to {longest}, the answer "
                                  f"{answer_reserve(tokenizer, profile)}): raise it")
        out = thinking_traces(model, tokenizer, profile, chunk, Forcing(budget=budget, answer_tokens=ANSWER_TOKENS),
                              seeds=[seed * 100_003 + i + j for j in range(len(chunk))])
        for t in out:
            seqs.append(t.ids[:max_seq_len])
            spans.append(Span(t.think_start, t.think_end, t.answer_start).clipped(max_seq_len))
    return seqs, spans


def infer_spans(seqs: list[list[int]], model, tokenizer) -> list[Span | None] | None:
    """Spans of texts that were not generated here (``organism`` transcripts, ``file:`` text), found from the
    thinking delimiters of the model's profile; None when the model has none or no text holds them."""
    profile = model_profile(model, tokenizer)
    if not profile.think_end or not profile.think_start:
        return None
    start_ids = tokenizer(profile.think_start, add_special_tokens=False)["input_ids"]
    end_ids = tokenizer(profile.think_end, add_special_tokens=False)["input_ids"]
    spans = []
    for s in seqs:
        end = _find_last(s, end_ids)
        begin = _find_last(s[:end], start_ids) if end is not None else None
        spans.append(None if begin is None else Span(begin + len(start_ids), end,
                                                      end + len(end_ids) if end + len(end_ids) < len(s) else None))
    return spans if any(spans) else None


def _find_last(seq: list[int], sub: list[int]) -> int | None:
    n = len(sub)
    if not n:
        return None
    for i in range(len(seq) - n, -1, -1):
        if seq[i:i + n] == sub:
            return i
    return None
