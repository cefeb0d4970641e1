"""``prunescale analyze``: loops, Self-BLEU, diversity, self-reflection and length stats of generated responses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PrunescaleError
from ..fileio import check_out_dir, out_dir_type
from .common import COMMANDS


@COMMANDS.register("analyze", order=40)
def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="measure repetition loops, Self-BLEU, diversity and self-reflection of responses",
        description="Per-response and aggregated analysis of generated reasoning. Writes analysis.json "
        "(with the looping spans as character offsets) and analysis.csv, and prints a summary.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", metavar="DIR", help="a run directory written by prunescale eval")
    src.add_argument("--lmeval-jsonl", metavar="FILE", help="an lm-evaluation-harness sample log (--log_samples)")
    p.add_argument("--out", metavar="DIR", type=out_dir_type(), help="output folder (default: the run directory, or FILE's folder / "
                   "<FILE stem>.analysis)")
    p.add_argument("--model-name", help="model label for the table and files (default: none)")
    p.add_argument("--task-name", help="task label (default: from an lm-eval samples_<task>_<date> file name)")
    p.add_argument("--tokenizer", metavar="PATH_OR_ID", help="count thinking tokens with this locally available "
                   "Hugging Face tokenizer (never downloaded); without it only words are counted")
    j = p.add_argument_group("LLM judge for self-reflection (optional; any OpenAI-compatible server)")
    j.add_argument("--judge-url", help="e.g. http://localhost:8000/v1 (or a full .../chat/completions or "
                   ".../completions URL)")
    j.add_argument("--judge-model", help="model name to send to the judge")
    j.add_argument("--judge-key-env", default="OPENAI_API_KEY", metavar="VAR",
                   help="environment variable holding the API key (default OPENAI_API_KEY; unset: no key sent)")
    j.add_argument("--judge-timeout", type=float, default=120.0, metavar="S", help="seconds per request (default 120)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.judge import JudgeConfig, ReflectionJudge
    from ..analysis.lmeval import read_lmeval_jsonl
    from ..analysis.output import summary_tables, write_analysis
    from ..analysis.store_records import run_records
    from ..analysis.summary import analyze_records
    from .common import format_table

    if bool(args.judge_url) != bool(args.judge_model):
        raise PrunescaleError("--judge-url and --judge-model go together")
    if not args.judge_timeout > 0:
        raise PrunescaleError(f"--judge-timeout {args.judge_timeout} must be a positive number of seconds")
    judge = None
    if args.judge_url:
        judge = ReflectionJudge(JudgeConfig(url=args.judge_url, model=args.judge_model,
                                            api_key_env=args.judge_key_env or None, timeout_s=args.judge_timeout))
    source = Path(args.run or args.lmeval_jsonl)
    if args.out:
        out = Path(args.out)
    else:   # the default folder, checked like a given --out before anything is read
        out = source if args.run else source.parent / f"{source.stem}.analysis"
        if source.exists():
            check_out_dir(out, "--run" if args.run else "--out (default)")
    if args.run:
        records = run_records(source, model=args.model_name)
    else:
        records = read_lmeval_jsonl(source, model=args.model_name, task=args.task_name)
    analysis = analyze_records(records, judge=judge, count_tokens=_token_counter(args.tokenizer),
                               progress=_progress if judge else None)
    analysis["source"] = str(source)
    json_path, csv_path = write_analysis(analysis, out)
    h1, t1, h2, t2 = summary_tables(analysis)
    print(format_table(h1, t1))
    if t2:
        print("\nright vs wrong answers (mean; r = point-biserial correlation with correctness)")
        print(format_table(h2, t2))
    print(f"\nwrote {json_path} and {csv_path}")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\rjudged {done}/{total} responses", end="\n" if done == total else "", file=sys.stderr, flush=True)


def _token_counter(name: str | None):
    if not name:
        return None
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as e:
        raise PrunescaleError(f"cannot load tokenizer {name!r} from local files: {str(e).splitlines()[0]}") from None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
