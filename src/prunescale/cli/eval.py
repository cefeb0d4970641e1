"""``prunescale eval`` and ``prunescale export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..budgets import parse_budgets
from ..errors import PrunescaleError
from .common import add_config_args, add_model_args, format_table, int_list


def register(sub) -> None:
    p = sub.add_parser("eval", help="sequential and parallel test-time scaling of a model on tasks",
                       description="Generate with s1 budget forcing and N samples per problem; grade, store every "
                       "generation in DIR/results.sqlite (resumable) and the metrics in DIR/summary.json. Every "
                       "input is checked before DIR is created; a run that fails before storing a generation "
                       "leaves nothing behind. On a re-run, problems whose text or gold answer changed are "
                       "generated again; summary.json covers this run's tasks and problems. A jsonl:PATH task is "
                       "stored under its absolute path.")
    add_model_args(p)
    p.add_argument("--task", "--tasks", dest="tasks", required=True,
                   help="comma-separated tasks: aime24, math500, gsm8k, gpqa_diamond, mmlu, arc_easy, jsonl:PATH, "
                   "organism-chain:k=8, organism-facts; a key=value piece is an option of the task before it "
                   "(organism-chain:k=8,seed=3,organism-facts is two tasks)")
    p.add_argument("--data", help="local JSONL file for the (single) task instead of the hub dataset")
    p.add_argument("--question-field", help="JSONL field of the problem text, for jsonl:PATH or --data "
                   "(default: the first of problem, question, prompt)")
    p.add_argument("--answer-field", help="JSONL field of the gold answer (default: answer)")
    p.add_argument("--id-field", help="JSONL field of the problem id (default: id or unique_id, else the line's "
                   "position)")
    p.add_argument("--limit", type=int, help="first N problems")
    p.add_argument("--budgets", type=parse_budgets, default=[None],
                   help="thinking budgets in tokens, e.g. 512,1024,2048 ('none': no cap; default none)")
    p.add_argument("--wait", dest="waits", type=int, default=0, help="suppress the end of thinking N times with 'Wait'")
    p.add_argument("--answer-tokens", type=int, default=512, help="cap on answer tokens after thinking (default 512)")
    p.add_argument("--max-tokens", type=int, default=32768, help="cap on thinking tokens without a budget")
    p.add_argument("--samples", type=int, default=1, help="samples per problem for pass@k / maj@k (default 1)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 = greedy (default 1.0)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling, in (0, 1] (default 1.0)")
    p.add_argument("--seeds", type=int_list, default=[0], help="comma-separated seeds, e.g. 7,11,42 (default 0)")
    p.add_argument("--profile", default="auto", help="thinking profile: auto, qwen3, deepseek-r1, s1, generic")
    p.add_argument("--think-start", help="override the profile's start-of-thinking text")
    p.add_argument("--think-end", help="override the profile's end-of-thinking text")
    p.add_argument("--backend", default="hf", help="hf (in process, transformers), vllm (in process, vLLM: "
                   "pip install prunescale[vllm]) or openai (a /v1/completions server)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm: GPUs one engine spans (default 1)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9,
                   help="vllm: share of each GPU's memory the engine may take (default 0.9)")
    p.add_argument("--max-model-len", type=int, help="vllm: context length (default: the model's)")
    p.add_argument("--enforce-eager", action="store_true", help="vllm: no CUDA graphs (faster start, slower decode)")
    p.add_argument("--base-url", dest="base_urls", action="append", default=[],
                   help="server URL for --backend openai; repeat for replicas (round-robin)")
    p.add_argument("--served-model", help="model name the server knows (default: --model)")
    p.add_argument("--batch-size", type=int, default=8, help="samples generated together (default 8)")
    p.add_argument("--out", required=True, help="run directory (created; re-running resumes it: a stored "
                   "generation is reused only if its problem's prompt and gold answer are unchanged, else it is "
                   "deleted and generated again)")
    add_config_args(p)
    p.set_defaults(func=run_eval)

    e = sub.add_parser("export", help="export a run's generations as JSONL (lm-eval sample-log shape) or CSV")
    e.add_argument("--run", required=True, help="run directory written by prunescale eval")
    e.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    e.add_argument("--output", help="file to write (default: stdout)")
    e.set_defaults(func=run_export)


def config_from_args(args: argparse.Namespace):
    from ..scaling.evaluate import EvalConfig
    from ..tasks.base import split_task_list

    return EvalConfig(model=args.model, tasks=split_task_list(args.tasks), out=args.out,
                      budgets=args.budgets, samples=args.samples, seeds=args.seeds, temperature=args.temperature,
                      top_p=args.top_p, waits=args.waits, answer_tokens=args.answer_tokens,
                      max_tokens=args.max_tokens, limit=args.limit, data=args.data, batch_size=args.batch_size,
                      profile=args.profile, backend=args.backend, base_urls=args.base_urls, dtype=args.dtype,
                      device=args.device, trust_remote_code=args.trust_remote_code,
                      question_field=args.question_field, answer_field=args.answer_field, id_field=args.id_field,
                      think_start=args.think_start, think_end=args.think_end, served_model=args.served_model,
                      tensor_parallel_size=args.tensor_parallel_size,
                      gpu_memory_utilization=args.gpu_memory_utilization, max_model_len=args.max_model_len,
                      enforce_eager=args.enforce_eager)


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

    path = Path(args.run) / "results.sqlite"
    if not path.is_file():
        raise PrunescaleError(f"no results store at {str(path)!r}")
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        export_rows(path, args.format, stream)
    finally:
        if args.output:
            stream.close()
    return 0

