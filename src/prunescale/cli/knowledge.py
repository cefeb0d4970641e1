"""``prunescale knowledge``: log-likelihood multiple-choice accuracy (no generation) on knowledge tasks.

Both engines (``lm-eval``, ``builtin``) live in :mod:`prunescale.tasks.knowledge`; this module parses the
arguments and prints the table. Both write ``DIR/knowledge.json`` and ``DIR/knowledge_samples.jsonl``.
"""

from __future__ import annotations

import argparse

from ..tasks.knowledge import ENGINES, KnowledgeSettings, run_knowledge as knowledge, write_knowledge
from ..fileio import out_dir_type
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
    p.add_argument("--engine", choices=list(ENGINES), default="lm-eval",
                   help="lm-eval: run lm-evaluation-harness in process (pip install 'prunescale[lm-eval]'); "
                   "builtin: prunescale's own scorer (default: lm-eval)")
    p.add_argument("--data", help="local JSONL file for the (single) task instead of the hub dataset (builtin)")
    p.add_argument("--include-path", help="folder of custom lm-eval task YAMLs (--engine lm-eval)")
    p.add_argument("--num-fewshot", type=int, help="few-shot examples (--engine lm-eval; builtin is zero-shot)")
    p.add_argument("--limit", type=int, help="first N questions per task (lm-eval: per sub-task)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per forward (default 8)")
    p.add_argument("--out", default="runs/knowledge", type=out_dir_type(), help="output directory (default runs/knowledge)")
    add_config_args(p)
    p.set_defaults(func=run_knowledge)


def run_knowledge(args: argparse.Namespace) -> int:
    cfg = KnowledgeSettings(args.model, args.tasks, args.engine, args.data, args.include_path, args.num_fewshot,
                            args.limit, args.batch_size, args.dtype, args.device, args.trust_remote_code)
    report, samples = knowledge(cfg)
    results, sample_file = write_knowledge(args.out, report, samples)
    print(knowledge_table(report))
    print(f"results: {results}  samples: {sample_file}")
    return 0


def knowledge_table(report: dict) -> str:
    rows = [[name, t["n"], t.get("acc"), t.get("acc_stderr"), t.get("acc_norm"), t.get("acc_norm_stderr"),
             t["engine"]] for name, t in report["tasks"].items()]
    return format_table(["task", "n", "acc", "stderr", "acc_norm", "stderr", "engine"], rows)
