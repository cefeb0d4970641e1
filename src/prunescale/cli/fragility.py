"""``prunescale fragility``: cheap predictors of lost test-time scaling, for a pruned model and its parent."""

from __future__ import annotations

import argparse

from ..fileio import out_file_type
from .common import COMMANDS, add_config_args, add_model_args, format_table


@COMMANDS.register("fragility", order=100)
def register(sub) -> None:
    p = sub.add_parser("fragility", help="predict in seconds whether a pruned model lost its test-time scaling",
                       description="Score a pruned model against its parent on the parent's own greedy, "
                       "budget-forced traces of built-in prompts (organism chains, or word problems): the score "
                       "its method gave the removed layers, the loss increase on long and short traces, the KL of "
                       "the answer distribution after a full trace, the agreement of greedy continuations, and "
                       "the knowledge log-likelihood drop. Offline; seconds to minutes on a CPU.")
    add_model_args(p)
    p.add_argument("--parent", metavar="SPEC", help="the unpruned model (default: the source model named in the pruned "
                   "directory's prunescale.json)")
    p.add_argument("--traces", type=int, metavar="N", help="parent traces to generate (default: 16 on the organism, half short "
                   "and half long chains; 8 otherwise)")
    p.add_argument("--think-tokens", type=int, metavar="N", help="thinking budget of the traces (default 96 on the organism, "
                   "64 otherwise)")
    p.add_argument("--agree-tokens", type=int, default=32, metavar="N",
                   help="first N thinking tokens the greedy agreement compares (default 32)")
    p.add_argument("--knowledge", type=int, metavar="N", help="knowledge questions (default: 32 organism facts, or the 16 "
                   "built-in general questions)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="which organism problems (default 0)")
    p.add_argument("--out", metavar="FILE.json", type=out_file_type(), help="write the record as JSON to this file")
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..fileio import write_json_atomic
    from ..fragility.run import FragilitySettings, fragility

    settings = FragilitySettings(traces=args.traces, think_tokens=args.think_tokens, agree_tokens=args.agree_tokens,
                                 knowledge=args.knowledge, seed=args.seed)
    record = fragility(args.model, args.parent, settings, device=args.device, dtype=args.dtype,
                       trust_remote_code=args.trust_remote_code)
    print(table(record))
    if args.out:
        write_json_atomic(record, args.out)
        print(f"written: {args.out}")
    return 0


def table(record: dict) -> str:
    from ..fragility.catalog import predictor_names

    d = record["details"]
    head = (f"{record['model']} against {record['parent']}: {d['traces']} traces ({d['groups']}), "
            f"{d['knowledge_items']} knowledge questions, {record['seconds']['parent'] + record['seconds']['model']:.1f}s")
    names = {"method_score": f"method score ({d.get('method_score_name') or 'none recorded'})"}
    rows = [[names.get(k, k), record["predictors"].get(k)] for k in predictor_names()]
    return head + "\n" + format_table(["predictor", "value"], rows)
