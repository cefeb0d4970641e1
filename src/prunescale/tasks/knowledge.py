"""Log-likelihood multiple-choice accuracy (no generation) on knowledge tasks: ``prunescale knowledge`` as a library.

Two engines: ``lm-eval`` runs lm-evaluation-harness itself, in process, on the model directory (needs the
``lm-eval`` extra); ``builtin`` is prunescale's own scorer (:mod:`.loglik`), which scores the same prompts the
same way. Both give a report (``knowledge.json``) and one sample row per question (``knowledge_samples.jsonl``).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import PrunescaleError
from ..fileio import library_versions, write_atomic

ENGINES = ("lm-eval", "builtin")


@dataclass(frozen=True)
class KnowledgeSettings:
    model: str
    tasks: str                         # comma-separated task list
    engine: str = "lm-eval"
    data: str | None = None            # local JSONL for the single task (builtin)
    include_path: str | None = None    # folder of custom lm-eval task YAMLs (lm-eval)
    num_fewshot: int | None = None     # lm-eval only; builtin is zero-shot
    limit: int | None = None
    batch_size: int = 8
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False


def run_knowledge(cfg: KnowledgeSettings) -> tuple[dict, list[dict]]:
    """(report, sample rows) of every task in ``cfg.tasks`` by ``cfg.engine``; bad settings raise before any model
    loads."""
    from .base import split_task_list

    tasks = split_task_list(cfg.tasks)
    if not tasks:
        raise PrunescaleError("no tasks given (--tasks mmlu,arc_easy)")
    if cfg.data and len(tasks) != 1:
        raise PrunescaleError("--data needs exactly one task")
    if cfg.limit is not None and cfg.limit < 1:
        raise PrunescaleError("--limit must be a positive integer")
    if cfg.batch_size < 1:
        raise PrunescaleError("--batch-size must be a positive integer")
    if cfg.engine == "builtin":
        if cfg.include_path:
            raise PrunescaleError("--include-path is for --engine lm-eval")
        if cfg.num_fewshot:
            raise PrunescaleError("the builtin engine is zero-shot; use --engine lm-eval for --num-fewshot")
        return _run_builtin(cfg, tasks)
    bad = [t for t in tasks if builtin_only(t)]
    if bad:
        raise PrunescaleError(f"task {bad[0]!r} is built in only: use --engine builtin")
    if cfg.data:
        raise PrunescaleError("--data is for --engine builtin; for lm-eval write a task YAML "
                              "(dataset_path: json) and pass its folder with --include-path")
    return _run_lm_eval(cfg, tasks)


def write_knowledge(out: str | Path, report: dict, samples: list[dict]) -> tuple[Path, Path]:
    """Write ``OUT/knowledge.json`` and ``OUT/knowledge_samples.jsonl``; their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "knowledge_samples.jsonl", "".join(json.dumps(s, default=str) + "\n" for s in samples))
    write_atomic(out / "knowledge.json", json.dumps(report, indent=2, default=str) + "\n")
    return out / "knowledge.json", out / "knowledge_samples.jsonl"


def builtin_only(spec: str) -> bool:
    """A knowledge task of ours that lm-evaluation-harness does not know (a jsonl: file, the organism's facts)."""
    from .base import TASKS

    name = spec.partition(":")[0]
    return name in TASKS and TASKS.get(name).loglik and not TASKS.get(name).in_lm_eval


# -------------------------------------------------------------------------------------------- engines


def _report(cfg: KnowledgeSettings, engine: str, model_path: str, versions: dict, tasks: dict, **more) -> dict:
    for t in tasks.values():
        t.update(engine=engine, model=cfg.model)
    return {"engine": engine, "model": cfg.model, "model_path": model_path, "versions": versions,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "settings": {"limit": cfg.limit, "batch_size": cfg.batch_size, "dtype": cfg.dtype,
                         "device": cfg.device, "data": cfg.data, "include_path": cfg.include_path,
                         "num_fewshot": cfg.num_fewshot},
            "tasks": tasks, **more}


def _run_builtin(cfg: KnowledgeSettings, tasks: list[str]) -> tuple[dict, list[dict]]:
    from tqdm.auto import tqdm

    from ..models.loading import load_model
    from .loglik import get_knowledge_task, load_items, score_items, summarize

    for t in tasks:   # before loading the model
        get_knowledge_task(t)
    loaded = load_model(cfg.model, dtype=cfg.dtype, device=cfg.device, trust_remote_code=cfg.trust_remote_code)
    work = {t: load_items(t, loaded.tokenizer, cfg.data, cfg.limit) for t in tasks}
    for t, items in work.items():
        if not items:
            raise PrunescaleError(f"task {t!r} has no questions")
    results, samples = {}, []
    bar = tqdm(total=sum(len(it.choices) for items in work.values() for it in items), desc="loglikelihood",
               unit="req")
    try:
        for t, items in work.items():
            scored = score_items(loaded.model, loaded.tokenizer, items, batch_size=cfg.batch_size,
                                 progress=bar.update)
            results[t] = {**summarize(scored), "version": "builtin-0-shot"}
            samples += [{"task": t, "doc_id": i, **r.to_dict()} for i, r in enumerate(scored)]
    finally:
        bar.close()
    return _report(cfg, "builtin", loaded.path, library_versions(), results), samples


def _run_lm_eval(cfg: KnowledgeSettings, tasks: list[str]) -> tuple[dict, list[dict]]:
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise PrunescaleError("--engine lm-eval needs lm-evaluation-harness: pip install 'prunescale[lm-eval]' "
                              "(or use --engine builtin)") from None
    from ..models.loading import pick_device, pick_dtype, resolve_path

    path = resolve_path(cfg.model)
    device = pick_device(cfg.device)
    dtype = str(pick_dtype(cfg.dtype, device)).replace("torch.", "")
    if cfg.include_path and not Path(cfg.include_path).is_dir():
        raise PrunescaleError(f"--include-path {cfg.include_path!r} is not a directory")
    manager = TaskManager(include_path=cfg.include_path) if cfg.include_path else TaskManager()
    known = set(getattr(manager, "all_tasks", None) or [])
    missing = [t for t in tasks if known and t not in known]
    if missing:
        raise PrunescaleError(f"lm-eval knows no task {missing[0]!r} (check the name, or pass --include-path)")
    try:
        res = lm_eval.simple_evaluate(
            model="hf", model_args={"pretrained": path, "dtype": dtype, "trust_remote_code": cfg.trust_remote_code},
            tasks=tasks, num_fewshot=cfg.num_fewshot, batch_size=cfg.batch_size, device=str(device),
            limit=cfg.limit, log_samples=True, task_manager=manager)
    except Exception as e:   # offline, missing dataset, bad model: the user needs the message, not the trace
        text = str(e).strip().splitlines()
        raise PrunescaleError(f"lm-eval failed: {type(e).__name__}: {text[0] if text else ''}") from None
    if res is None:
        raise PrunescaleError("lm-eval returned no results")
    n_samples = res.get("n-samples", {})
    entries = {}
    for name, r in res["results"].items():
        entry = {}
        for key, value in r.items():
            metric, _, filt = key.partition(",")
            if metric in ("acc", "acc_norm", "acc_stderr", "acc_norm_stderr") and filt in ("none", ""):
                entry[metric] = value if isinstance(value, (int, float)) else None
        subtasks = _leaves(name, res.get("group_subtasks", {}))
        entry["n"] = sum(n_samples.get(s, {}).get("effective", 0) for s in subtasks)
        entry["version"] = res.get("versions", {}).get(name)
        entries[name] = entry
    requested = {t: entries[t] for t in tasks if t in entries}
    others = {k: v for k, v in entries.items() if k not in requested}
    for t in others.values():
        t.update(engine="lm-eval", model=cfg.model)
    samples = []
    for name, rows in (res.get("samples") or {}).items():
        samples += [_lm_eval_sample(name, s) for s in rows]
    versions = {**library_versions(), "lm_eval": getattr(lm_eval, "__version__", res.get("lm_eval_version"))}
    return _report(cfg, "lm-eval", path, versions, requested, subtasks=others), samples


def _leaves(name: str, groups: dict) -> list[str]:
    if name not in groups:
        return [name]
    return [leaf for sub in groups[name] for leaf in _leaves(sub, groups)]


def _lm_eval_sample(task: str, s: dict) -> dict:
    args = s.get("arguments") or []
    if isinstance(args, dict):   # sanitised shape: {"gen_args_0": {"arg_0": ctx, "arg_1": cont}, ...}
        args = [(a.get("arg_0"), a.get("arg_1")) for a in args.values()]
    resps = s.get("filtered_resps") or [r[0] for r in s.get("resps", [])]
    return {"task": task, "doc_id": s.get("doc_id"), "context": args[0][0] if args else None,
            "continuations": [a[1] for a in args], "logliks": [float(r[0]) for r in resps],
            "is_greedy": [bool(r[1]) for r in resps], "gold": s.get("target"),
            "acc": s.get("acc"), "acc_norm": s.get("acc_norm")}
