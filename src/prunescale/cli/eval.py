"""``prunescale eval`` and ``prunescale export``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from ..contract.run_dir import RunDir
from ..errors import PrunescaleError
from ..fileio import out_file_type
from ..scaling.evaluate import EvalConfig
from .common import COMMANDS, add_config_args, add_field_args, add_model_args, format_table

# EvalConfig fields offered as flags, in --help order (after the model's); `serve` is a study's only.
_FLAGS = ["tasks", "data", "question_field", "answer_field", "id_field", "limit", "budgets", "waits", "sweep", "answer_tokens",
          "max_tokens", "samples", "temperature", "top_p", "seeds", "profile", "think_start", "think_end", "backend",
          "tensor_parallel_size", "gpu_memory_utilization", "max_model_len", "enforce_eager", "base_urls",
          "served_model", "batch_size", "out"]


@COMMANDS.register("eval", order=20)
def register(sub) -> None:
    p = sub.add_parser("eval", help="sequential and parallel test-time scaling of a model on tasks",
                       description="Generate with s1 budget forcing and N samples per problem; grade, store every "
                       "generation in DIR/results.sqlite (resumable) and the metrics in DIR/summary.json. Every "
                       "input is checked before DIR is created; a run that fails before storing a generation "
                       "leaves nothing behind. On a re-run, problems whose text or gold answer changed are "
                       "generated again; summary.json covers this run's tasks and problems. A jsonl:PATH task is "
                       "stored under its absolute path.")
    add_model_args(p)
    add_field_args(p, EvalConfig, _FLAGS)
    add_config_args(p)
    p.set_defaults(func=run_eval)

    e = sub.add_parser("export", help="export a run's generations as JSONL (lm-eval sample-log shape) or CSV")
    e.add_argument("--run", required=True, help="run directory written by prunescale eval")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--output", type=out_file_type("--output"), help="file to write (default: stdout)")
    e.add_argument("--all", action="store_true", help="also rows of problems no longer in their task")
    e.set_defaults(func=run_export)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    from ..tasks.base import split_task_list

    given = {f.name: getattr(args, f.name) for f in fields(EvalConfig) if hasattr(args, f.name)}
    return EvalConfig(**{**given, "tasks": split_task_list(args.tasks)})


def run_eval(args: argparse.Namespace) -> int:
    from ..scaling.runner import run_eval as run

    options = {k: v for k, v in vars(args).items() if k not in {"func", "command", "config", "save_config"}}
    summary = run(config_from_args(args), options)
    print(summary_table(summary))
    warning = truncation_warning(summary)
    if warning:
        print(warning, file=sys.stderr)
    print(f"results: {Path(args.out) / 'results.sqlite'}  summary: {Path(args.out) / 'summary.json'}")
    return 0


def truncation_warning(summary: dict) -> str | None:
    """One line when answers were cut at --answer-tokens before an answer could be read (they grade as wrong)."""
    cut = [(b.get("answer_cut_share") or 0.0, b["n_samples"]) for t in summary["tasks"].values()
           for b in t["budgets"].values()]
    n = sum(share * samples for share, samples in cut)
    if n == 0:
        return None
    total = sum(samples for _, samples in cut)
    return (f"prunescale: warning: {n / total:.0%} of answers ({round(n)} of {total}) were cut at --answer-tokens "
            f"{summary.get('answer_tokens')} before an answer could be read and count as wrong; raise --answer-tokens")


def summary_table(summary: dict) -> str:
    rows = []
    for task, t in summary["tasks"].items():
        for budget, b in t["budgets"].items():
            ks = sorted(b.get("pass@k", {}), key=int)
            top = ks[-1] if ks else None
            rows.append([task, budget, b["n_problems"], b["n_samples"], b["accuracy"],
                         b.get("accuracy_std"), b["thinking_tokens_mean"], b["forced_share"],
                         f"pass@{top}={b['pass@k'][top]:.3f} maj@{top}={b['maj@k'][top]:.3f}" if top else "-"])
    return format_table(["task", "budget", "problems", "samples", "accuracy", "std(seeds)", "think_tok", "forced",
                         "parallel"], rows)


def run_export(args: argparse.Namespace) -> int:
    from ..scaling.export import export_rows

    path = RunDir(args.run).store
    if not path.is_file():
        raise PrunescaleError(f"no results store at {str(path)!r}")
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        export_rows(path, args.format, stream, every=args.all)
    finally:
        if args.output:
            stream.close()
    return 0

