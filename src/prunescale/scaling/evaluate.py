"""Run an evaluation: tasks x budgets x seeds x samples, resumable, every generation kept in the store."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .. import __version__
from ..errors import PrunescaleError
from ..generate import Backend, Forcing, Request, Sampling
from .store import NO_BUDGET, Store


@dataclass
class EvalConfig:
    model: str
    tasks: list[str]
    out: str
    budgets: list[int | None] = field(default_factory=lambda: [None])   # None: no thinking cap
    samples: int = 1
    seeds: list[int] = field(default_factory=lambda: [0])
    temperature: float = 1.0
    top_p: float = 1.0
    waits: int = 0
    answer_tokens: int = 512
    max_tokens: int = 32768
    limit: int | None = None
    data: str | None = None
    batch_size: int = 8
    profile: str = "auto"
    backend: str = "hf"
    base_urls: list[str] = field(default_factory=list)
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False

    def validate(self) -> None:
        for b in self.budgets:
            if b is not None and (not isinstance(b, int) or b < 1):
                raise PrunescaleError(f"budget {b!r} is not a positive integer")
        if self.samples < 1:
            raise PrunescaleError(f"--samples {self.samples} must be at least 1")
        if not self.seeds:
            raise PrunescaleError("no seeds given")
        if self.temperature < 0:
            raise PrunescaleError(f"--temperature {self.temperature} must be >= 0")
        if self.batch_size < 1 or self.answer_tokens < 1 or self.max_tokens < 1 or self.waits < 0:
            raise PrunescaleError("--batch-size, --answer-tokens and --max-tokens must be positive, --wait >= 0")
        if self.data and len(self.tasks) != 1:
            raise PrunescaleError("--data applies to a single --task")
        if self.limit is not None and self.limit < 1:
            raise PrunescaleError(f"--limit {self.limit} must be at least 1")

    def identity(self, profile_name: str) -> dict:
        """Settings that change what a generation is; a store never mixes two identities."""
        return {"model": self.model, "temperature": self.temperature, "top_p": self.top_p, "waits": self.waits,
                "answer_tokens": self.answer_tokens, "max_tokens": self.max_tokens, "profile": profile_name}


def sample_seed(seed: int, task: str, problem_id: str, sample_idx: int) -> int:
    """Seed of one sample from the run seed and its identity: reproducible on its own, shared across budgets."""
    h = hashlib.sha256(f"{seed}|{task}|{problem_id}|{sample_idx}".encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def evaluate(cfg: EvalConfig, backend: Backend, tasks: dict, profile_name: str, extra_manifest: dict | None = None,
             progress: bool = True) -> dict:
    """Generate and grade everything not yet in the store; write summary.json; return the summary."""
    from .summary import summarize, write_summary

    out = Path(cfg.out)
    store = Store(out / "results.sqlite")
    try:
        store.check_identity(cfg.identity(profile_name))
        store.set_manifest({"config": asdict(cfg), "versions": _versions(), **(extra_manifest or {})})
        sampling = Sampling(temperature=cfg.temperature, top_p=cfg.top_p)
        problems = {name: task.load(cfg.data, cfg.limit) for name, task in tasks.items()}
        work = []
        for name, probs in problems.items():
            for budget in cfg.budgets:
                b = NO_BUDGET if budget is None else budget
                done = store.done_keys(name, b)
                todo = [(p, seed, i) for seed in cfg.seeds for p in probs for i in range(cfg.samples)
                        if (p.id, seed, i) not in done]
                work += [(name, budget, todo[j:j + cfg.batch_size]) for j in range(0, len(todo), cfg.batch_size)]
        total = sum(len(chunk) for *_, chunk in work)
        bar = tqdm(total=total, desc="eval", unit="sample", disable=not progress or total == 0)
        tokens, start = 0, time.perf_counter()
        for name, budget, chunk in work:
            task = tasks[name]
            forcing = Forcing(budget=budget, waits=cfg.waits, answer_tokens=cfg.answer_tokens,
                              max_tokens=cfg.max_tokens)
            reqs = [Request(p.prompt, sample_seed(seed, name, p.id, i), key=(p, seed, i)) for p, seed, i in chunk]
            rows = []
            for s in backend.generate(reqs, forcing, sampling):
                p, seed, i = s.key
                extracted = task.extract(s.text)
                rows.append({
                    "task": name, "problem_id": p.id, "budget": NO_BUDGET if budget is None else budget,
                    "seed": seed, "sample_idx": i, "sample_seed": sample_seed(seed, name, p.id, i),
                    "prompt_hash": hashlib.sha256(backend.render(p.prompt).encode()).hexdigest()[:16],
                    "text": s.text, "thinking": s.thinking, "answer_text": s.answer,
                    "thinking_tokens": s.thinking_tokens, "answer_tokens": s.answer_tokens, "forced": int(s.forced),
                    "waits": s.waits, "finished": int(s.finished), "extracted": extracted, "gold": p.answer,
                    "correct": int(task.is_correct(extracted, p)), "wall_s": round(s.wall_s, 4)})
                tokens += s.thinking_tokens + s.answer_tokens
            store.add(rows)
            bar.update(len(rows))
            bar.set_postfix_str(f"{tokens / max(time.perf_counter() - start, 1e-9):.1f} tok/s")
        bar.close()
        summary = summarize(store.rows(), tasks, cfg)
        write_summary(summary, out / "summary.json")
        return summary
    finally:
        store.close()


def _versions() -> dict:
    import torch
    import transformers

    return {"prunescale": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def write_json_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)
