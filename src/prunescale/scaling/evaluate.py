"""Run an evaluation: tasks x budgets x seeds x samples, resumable, every generation kept in the store."""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tqdm.auto import tqdm

from ..budgets import parse_budgets, to_store
from ..contract.run_dir import RunDir
from ..errors import PrunescaleError
from ..fileio import library_versions, out_dir_type
from ..generate import Backend, Forcing, Request, Sampling
from ..generate.options import BackendOptions
from ..options import option
from .store import Store


@dataclass
class EvalConfig:
    """One eval run. Each field's flag and help are in its metadata (``prunescale eval`` is built from them)."""

    model: str = option(help="hub id, local directory, or embedded:NAME (embedded:smollm2-135m, embedded:organism)")
    tasks: list[str] = option(
        flag=("--task", "--tasks"), type=str,   # the flag's text stays one string; cli.eval splits it
        help="comma-separated tasks: aime24, math500, gsm8k, gpqa_diamond, mmlu, arc_easy, jsonl:PATH, "
        "organism-chain:k=8, organism-facts; a key=value piece is an option of the task before it "
        "(organism-chain:k=8,seed=3,organism-facts is two tasks)")
    out: str = option(type=out_dir_type("--out"), help="run directory (created; re-running resumes it: a stored generation is reused only if its "
                      "problem's prompt and gold answer are unchanged, else it is deleted and generated again)")
    budgets: list[int | None] = option(factory=lambda: [None], type=parse_budgets,   # None: no thinking cap
                                       help="thinking budgets in tokens, e.g. 512,1024,2048 ('none': no cap; "
                                       "default {default})")
    samples: int = option(1, help="samples per problem for pass@k / maj@k (default {default})")
    seeds: list[int] = option(factory=lambda: [0], help="comma-separated seeds, e.g. 7,11,42 (default {default})")
    temperature: float = option(1.0, help="sampling temperature; 0 = greedy (default {default})")
    top_p: float = option(1.0, help="nucleus sampling, in (0, 1] (default {default})")
    waits: int = option(0, flag="--wait", help="suppress the end of thinking N times with 'Wait'")
    sweep: str = option("shared", choices=("shared", "independent"),
                        help="shared: one run per sample at the largest budget, smaller budgets cut from it "
                        "where their count first reaches them (the same samples); independent: each budget from "
                        "scratch (default {default})")
    answer_tokens: int = option(512, help="cap on answer tokens after thinking (default {default})")
    max_tokens: int = option(32768, help="cap on thinking tokens without a budget")
    limit: int | None = option(None, help="first N problems")
    data: str | None = option(None, help="local JSONL file for the (single) task instead of the hub dataset")
    batch_size: int = option(8, help="samples generated together (default {default})")
    profile: str = option("auto", help="thinking profile: auto, qwen3, deepseek-r1, s1, generic")
    backend: str = option("hf", help="hf (in process, transformers), vllm (in process, vLLM: pip install "
                          "prunescale[vllm]) or openai (a /v1/completions server)")
    base_urls: list[str] = option(factory=list, flag="--base-url", action="append",
                                  help="server URL for --backend openai; repeat for replicas (round-robin)")
    dtype: str | None = option(None, help="float32 | bfloat16 | float16 (default: float32 on CPU, bfloat16 on CUDA)")
    device: str | None = option(None, help="cpu | cuda | cuda:N (default: cuda if available)")
    trust_remote_code: bool = option(False, help="allow model code from the hub (off by default)")
    # JSONL field names for jsonl: tasks and --data files
    question_field: str | None = option(None, help="JSONL field of the problem text, for jsonl:PATH or --data "
                                        "(default: the first of problem, question, prompt)")
    answer_field: str | None = option(None, help="JSONL field of the gold answer (default: answer)")
    id_field: str | None = option(None, help="JSONL field of the problem id (default: id or unique_id, else the "
                                  "line's position)")
    think_start: str | None = option(None, help="override the profile's start-of-thinking text")
    think_end: str | None = option(None, help="override the profile's end-of-thinking text")
    served_model: str | None = option(None, help="model name the server knows (default: --model)")
    tensor_parallel_size: int = option(1, help="vllm: GPUs one engine spans (default {default})")
    gpu_memory_utilization: float = option(0.9, help="vllm: share of each GPU's memory the engine may take "
                                           "(default {default})")
    max_model_len: int | None = option(None, help="vllm: context length (default: the model's)")
    enforce_eager: bool = option(False, help="vllm: no CUDA graphs (faster start, slower decode)")
    serve: str | None = None            # study, openai backend: a server command with {model} and {port}

    def validate(self) -> None:
        self.budgets = parse_budgets(self.budgets)
        if self.samples < 1:
            raise PrunescaleError(f"--samples {self.samples} must be at least 1")
        if not self.seeds:
            raise PrunescaleError("no seeds given")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise PrunescaleError(f"--temperature {self.temperature} must be a number >= 0")
        if not 0 < self.top_p <= 1:
            raise PrunescaleError(f"--top-p {self.top_p} must be in (0, 1]")
        if self.batch_size < 1 or self.answer_tokens < 1 or self.max_tokens < 1 or self.waits < 0:
            raise PrunescaleError("--batch-size, --answer-tokens and --max-tokens must be positive, --wait >= 0")
        if self.data and len(self.tasks) != 1:
            raise PrunescaleError("--data applies to a single --task")
        if self.tensor_parallel_size < 1 or not 0 < self.gpu_memory_utilization <= 1 \
                or (self.max_model_len is not None and self.max_model_len < 1):
            raise PrunescaleError("--tensor-parallel-size and --max-model-len must be positive, "
                                  "--gpu-memory-utilization in (0, 1]")
        if self.serve is not None and ("{model}" not in self.serve or "{port}" not in self.serve):
            raise PrunescaleError(f"serve {self.serve!r} must contain {{model}} and {{port}}")
        if self.sweep not in ("shared", "independent"):
            raise PrunescaleError(f"--sweep {self.sweep!r} must be shared or independent")
        if self.limit is not None and self.limit < 1:
            raise PrunescaleError(f"--limit {self.limit} must be at least 1")

    def backend_options(self, **changes) -> BackendOptions:
        """The options this run's backend is built from; ``changes`` replace some (a study: the variant's path)."""
        return BackendOptions(**{**{f.name: getattr(self, f.name) for f in fields(BackendOptions)}, **changes})

    def identity(self, profile_name: str) -> dict:
        """Settings that change what a generation is; a store never mixes two identities."""
        return {"model": self.model, "temperature": self.temperature, "top_p": self.top_p, "waits": self.waits,
                "answer_tokens": self.answer_tokens, "max_tokens": self.max_tokens, "profile": profile_name}


def sample_seed(seed: int, task: str, problem_id: str, sample_idx: int) -> int:
    """Seed of one sample from the run seed and its identity: reproducible on its own, shared across budgets."""
    h = hashlib.sha256(f"{seed}|{task}|{problem_id}|{sample_idx}".encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def build_tasks(cfg: EvalConfig) -> dict:
    """The run's tasks by stored name (``jsonl:`` paths made absolute), with the JSONL field options applied."""
    from ..tasks import get_task
    from ..tasks.base import canonical_spec

    tasks = {}
    for spec in cfg.tasks:
        task = get_task(spec)
        task.use_fields(cfg.question_field, cfg.answer_field, cfg.id_field)
        tasks[canonical_spec(spec)] = task
    return tasks


def load_problems(cfg: EvalConfig, tasks: dict) -> dict:
    """Every task's problems (the first --limit); a bad file or option fails here, before any work."""
    out = {}
    for name, task in tasks.items():
        if cfg.data and not task.uses_data:
            raise PrunescaleError(f"task {name!r} does not read a data file (its problems are generated): "
                                  f"drop --data {cfg.data!r}")
        problems = task.load(cfg.data, cfg.limit)
        if not problems:
            raise PrunescaleError(f"task {name!r} has no problems")
        first: dict = {}
        for p in problems:   # one problem per id, the store's key (organism facts cycle past their table)
            first.setdefault(p.id, p)
        out[name] = list(first.values())
    return out


def evaluate(cfg: EvalConfig, backend: Backend, tasks: dict, profile_name: str, extra_manifest: dict | None = None,
             progress: bool = True, problems: dict | None = None) -> dict:
    """Generate and grade everything not yet in the store; write summary.json; return the summary.

    Stored generations of a problem whose prompt or gold answer changed since are deleted and made again; the
    summary covers this run's tasks and problems (every budget, seed and sample stored for them)."""
    from .summary import summarize, write_summary

    problems = problems if problems is not None else load_problems(cfg, tasks)
    out = Path(cfg.out)
    store = Store(RunDir(out).store)
    try:
        store.check_identity(cfg.identity(profile_name))
        store.set_manifest({"config": asdict(cfg), "versions": library_versions(), **(extra_manifest or {})})
        store.record_problems({name: [p.id for p in probs] for name, probs in problems.items()})
        sampling = Sampling(temperature=cfg.temperature, top_p=cfg.top_p)
        hashes = {name: {p.id: prompt_hash(backend, p.prompt) for p in probs} for name, probs in problems.items()}
        for name, probs in problems.items():
            drop_changed(store, name, probs, hashes[name])
        work = plan_work(cfg, store, problems, backend.schedules_all)
        total = sum(len(chunk) * len(budgets) for *_, budgets, chunk in work)
        bar = tqdm(total=total, desc="eval", unit="sample", disable=not progress or total == 0)
        start, counted, reported = time.perf_counter(), [0], [0]

        def seen(n: int, tokens: int) -> None:
            counted[0] += tokens
            reported[0] += n
            bar.update(n)
            bar.set_postfix_str(f"{counted[0] / max(time.perf_counter() - start, 1e-9):.1f} tok/s")

        # a backend that schedules everything itself reports each sample as it ends
        backend.on_sample = (lambda s: seen(1, s.thinking_tokens + s.answer_tokens)) if backend.schedules_all \
            else None
        forcing = Forcing(budget=None, waits=cfg.waits, answer_tokens=cfg.answer_tokens, max_tokens=cfg.max_tokens)
        for name, budgets, chunk in work:
            before = reported[0]
            task = tasks[name]
            seed_name = getattr(task, "seed_name", name)
            reqs = [Request(p.prompt, sample_seed(seed, seed_name, p.id, i), key=(p, seed, i)) for p, seed, i in chunk]
            rows = []
            for budget, samples in backend.generate_sweep(reqs, budgets, forcing, sampling).items():
                for s in samples:
                    p, seed, i = s.key
                    extracted = task.extract(s.text)
                    correct, note = task.judge(extracted, p)
                    rows.append({
                        "task": name, "problem_id": p.id, "budget": to_store(budget),
                        "seed": seed, "sample_idx": i, "sample_seed": sample_seed(seed, seed_name, p.id, i),
                        "prompt_hash": hashes[name][p.id],
                        "text": s.text, "thinking": s.thinking, "answer_text": s.answer,
                        "thinking_tokens": s.thinking_tokens, "answer_tokens": s.answer_tokens,
                        "forced": int(s.forced), "waits": s.waits, "finished": int(s.finished),
                        "extracted": extracted, "gold": p.answer, "correct": int(correct), "grade_note": note,
                        "wall_s": round(s.wall_s, 4)})
            store.add(rows)   # every budget of the chunk in one transaction: a kill loses all or none of them
            if not backend.schedules_all:
                seen(len(rows), sum(r["thinking_tokens"] + r["answer_tokens"] for r in rows))
            else:   # samples a shared sweep did not generate (a budget its lead never reached) end nowhere
                seen(len(rows) - (reported[0] - before), 0)
        bar.close()
        rows = [r for r in store.rows(every=True) if r["problem_id"] in hashes.get(r["task"], ())]
        summary = summarize(rows, tasks, cfg)
        write_summary(summary, RunDir(out).summary_json)
        return summary
    finally:
        store.close()


def plan_work(cfg: EvalConfig, store: Store, problems: dict, schedules_all: bool) -> list[tuple]:
    """``(task, budgets, chunk)`` items: the (problem, seed, sample) keys of a chunk miss exactly these budgets
    in the store. Shared sweeps group a key's missing budgets into one item (one generation for all of them);
    independent sweeps make an item per budget."""
    work = []
    for name, probs in problems.items():
        done = {b: store.done_keys(name, to_store(b)) for b in dict.fromkeys(cfg.budgets)}
        keys = [(p, seed, i) for seed in cfg.seeds for p in probs for i in range(cfg.samples)]
        groups: dict[tuple, list] = {}
        for key in keys:
            missing = tuple(b for b in done if (key[0].id, key[1], key[2]) not in done[b])
            parts = [missing] if cfg.sweep == "shared" else [(b,) for b in missing]
            for budgets in filter(None, parts):
                groups.setdefault(budgets, []).append(key)
        for budgets, todo in groups.items():
            size = len(todo) if schedules_all else cfg.batch_size   # vllm: all at once
            work += [(name, budgets, todo[j:j + size]) for j in range(0, len(todo), size)]
    return work


def prompt_hash(backend: Backend, prompt: str) -> str:
    """Hash of the full rendered prompt (chat template included): what the model was given."""
    return hashlib.sha256(backend.render(prompt).encode()).hexdigest()[:16]


def drop_changed(store: Store, task: str, problems: list, hashes: dict) -> list[str]:
    """Delete the stored generations of problems whose prompt or gold answer differs from today's (so they
    are generated again, never graded against an old gold); return their ids."""
    current = {p.id: (hashes[p.id], p.answer) for p in problems}
    changed = sorted(pid for pid, keys in store.problem_keys(task).items() if pid in current
                     and keys != {current[pid]})
    if changed:
        n = store.delete_problems(task, changed)
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        print(f"prunescale: {task}: {len(changed)} problem(s) changed since generated ({shown}): "
              f"{n} stored generation(s) deleted, generating again", file=sys.stderr)
    return changed

