"""``prunescale knowledge``: log-likelihood multiple-choice accuracy (no generation) on knowledge tasks.

Two engines: ``lm-eval`` runs lm-evaluation-harness itself, in process, on the model directory (needs the
``lm-eval`` extra); ``builtin`` is prunescale's own scorer (:mod:`prunescale.tasks.loglik`), which scores the
same prompts the same way. Both write ``DIR/knowledge.json`` and ``DIR/knowledge_samples.jsonl``.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from ..errors import PrunescaleError
from ..fileio import library_versions, write_atomic
from .common import COMMANDS, add_config_args, add_model_args, format_table



@COMMANDS.register("knowledge", order=70)
def register(sub) -> None:
    p = sub.add_parser("knowledge", help="log-likelihood multiple-choice accuracy on knowledge tasks (no generation)",
                       description="Score every choice of every question by the log-likelihood of its tokens, as "
                       "lm-evaluation-harness does (acc, acc_norm), and write DIR/knowledge.json.")
    add_model_args(p)
    p.add_argument("--tasks", "--task", dest="tasks", required=True,
                   help="comma-separated: mmlu, arc_easy, arc_challenge, organism-facts (builtin), jsonl:PATH "
                   "(builtin, MMLU-style rows); with --engine lm-eval any lm-eval task or group name")
    p.add_argument("--engine", choices=["lm-eval", "builtin"], default="lm-eval",
                   help="lm-eval: run lm-evaluation-harness in process (pip install 'prunescale[lm-eval]'); "
                   "builtin: prunescale's own scorer (default: lm-eval)")
    p.add_argument("--data", help="local JSONL file for the (single) task instead of the hub dataset (builtin)")
    p.add_argument("--include-path", help="folder of custom lm-eval task YAMLs (--engine lm-eval)")
    p.add_argument("--num-fewshot", type=int, help="few-shot examples (--engine lm-eval; builtin is zero-shot)")
    p.add_argument("--limit", type=int, help="first N questions per task (lm-eval: per sub-task)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per forward (default 8)")
    p.add_argument("--out", default="runs/knowledge", help="output directory (default runs/knowledge)")
    add_config_args(p)
    p.set_defaults(func=run_knowledge)


def run_knowledge(args: argparse.Namespace) -> int:
    from ..tasks.base import split_task_list

    tasks = split_task_list(args.tasks)
    if not tasks:
        raise PrunescaleError("no tasks given (--tasks mmlu,arc_easy)")
    if args.data and len(tasks) != 1:
        raise PrunescaleError("--data needs exactly one task")
    if args.limit is not None and args.limit < 1:
        raise PrunescaleError("--limit must be a positive integer")
    if args.batch_size < 1:
        raise PrunescaleError("--batch-size must be a positive integer")
    if args.engine == "builtin":
        if args.include_path:
            raise PrunescaleError("--include-path is for --engine lm-eval")
        if args.num_fewshot:
            raise PrunescaleError("the builtin engine is zero-shot; use --engine lm-eval for --num-fewshot")
        report, samples = _run_builtin(args, tasks)
    else:
        bad = [t for t in tasks if _builtin_only(t)]
        if bad:
            raise PrunescaleError(f"task {bad[0]!r} is built in only: use --engine builtin")
        if args.data:
            raise PrunescaleError("--data is for --engine builtin; for lm-eval write a task YAML "
                                  "(dataset_path: json) and pass its folder with --include-path")
        report, samples = _run_lm_eval(args, tasks)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "knowledge_samples.jsonl", "".join(json.dumps(s, default=str) + "\n" for s in samples))
    write_atomic(out / "knowledge.json", json.dumps(report, indent=2, default=str) + "\n")
    print(knowledge_table(report))
    print(f"results: {out / 'knowledge.json'}  samples: {out / 'knowledge_samples.jsonl'}")
    return 0


def _builtin_only(spec: str) -> bool:
    """A knowledge task of ours that lm-evaluation-harness does not know (a jsonl: file, the organism's facts)."""
    from ..tasks import TASKS

    name = spec.partition(":")[0]
    return name in TASKS and TASKS.get(name).loglik and not TASKS.get(name).in_lm_eval


def knowledge_table(report: dict) -> str:
    rows = [[name, t["n"], t.get("acc"), t.get("acc_stderr"), t.get("acc_norm"), t.get("acc_norm_stderr"),
             t["engine"]] for name, t in report["tasks"].items()]
    return format_table(["task", "n", "acc", "stderr", "acc_norm", "stderr", "engine"], rows)


# -------------------------------------------------------------------------------------------- engines


def _report(args, engine: str, model_path: str, versions: dict, tasks: dict, **more) -> dict:
    for t in tasks.values():
        t.update(engine=engine, model=args.model)
    return {"engine": engine, "model": args.model, "model_path": model_path, "versions": versions,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "settings": {"limit": args.limit, "batch_size": args.batch_size, "dtype": args.dtype,
                         "device": args.device, "data": args.data, "include_path": args.include_path,
                         "num_fewshot": args.num_fewshot},
            "tasks": tasks, **more}


def _run_builtin(args, tasks: list[str]) -> tuple[dict, list[dict]]:
    from tqdm.auto import tqdm

    from ..models.loading import load_model
    from ..tasks.loglik import get_knowledge_task, load_items, score_items, summarize

    for t in tasks:   # before loading the model
        get_knowledge_task(t)
    loaded = load_model(args.model, dtype=args.dtype, device=args.device, trust_remote_code=args.trust_remote_code)
    work = {t: load_items(t, loaded.tokenizer, args.data, args.limit) for t in tasks}
    for t, items in work.items():
        if not items:
            raise PrunescaleError(f"task {t!r} has no questions")
    results, samples = {}, []
    bar = tqdm(total=sum(len(it.choices) for items in work.values() for it in items), desc="loglikelihood",
               unit="req")
    try:
        for t, items in work.items():
            scored = score_items(loaded.model, loaded.tokenizer, items, batch_size=args.batch_size,
                                 progress=bar.update)
            results[t] = {**summarize(scored), "version": "builtin-0-shot"}
            samples += [{"task": t, "doc_id": i, **r.to_dict()} for i, r in enumerate(scored)]
    finally:
        bar.close()
    return _report(args, "builtin", loaded.path, library_versions(), results), samples


def _run_lm_eval(args, tasks: list[str]) -> tuple[dict, list[dict]]:
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise PrunescaleError("--engine lm-eval needs lm-evaluation-harness: pip install 'prunescale[lm-eval]' "
                              "(or use --engine builtin)") from None
    from ..models.loading import pick_device, pick_dtype, resolve_path

    path = resolve_path(args.model)
    device = pick_device(args.device)
    dtype = str(pick_dtype(args.dtype, device)).replace("torch.", "")
    if args.include_path and not Path(args.include_path).is_dir():
        raise PrunescaleError(f"--include-path {args.include_path!r} is not a directory")
    manager = TaskManager(include_path=args.include_path) if args.include_path else TaskManager()
    known = set(getattr(manager, "all_tasks", None) or [])
    missing = [t for t in tasks if known and t not in known]
    if missing:
        raise PrunescaleError(f"lm-eval knows no task {missing[0]!r} (check the name, or pass --include-path)")
    try:
        res = lm_eval.simple_evaluate(
            model="hf", model_args={"pretrained": path, "dtype": dtype, "trust_remote_code": args.trust_remote_code},
            tasks=tasks, num_fewshot=args.num_fewshot, batch_size=args.batch_size, device=str(device),
            limit=args.limit, log_samples=True, task_manager=manager)
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
        t.update(engine="lm-eval", model=args.model)
    samples = []
    for name, rows in (res.get("samples") or {}).items():
        samples += [_lm_eval_sample(name, s) for s in rows]
    versions = {**library_versions(), "lm_eval": getattr(lm_eval, "__version__", res.get("lm_eval_version"))}
    return _report(args, "lm-eval", path, versions, requested, subtasks=others), samples


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
