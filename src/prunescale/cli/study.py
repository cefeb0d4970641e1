"""``prunescale study run|status`` and ``prunescale report``-free study plumbing."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..budgets import parse_budgets
from ..errors import PrunescaleError
from .common import COMMANDS, format_table, int_list


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _task_list(text: str) -> list[str]:
    from ..tasks.base import split_task_list

    return split_task_list(text)


@COMMANDS.register("study", order=60)
def register(sub) -> None:
    p = sub.add_parser("study", help="declare a grid (models x methods x layers x tasks), run it, resume it",
                       description="Run or inspect a study: every (model variant, task) cell is an eval run; "
                       "pruned models are cached by their spec; a killed study resumes where it stopped.")
    ssub = p.add_subparsers(dest="study_command", metavar="ACTION")
    r = ssub.add_parser("run", help="run every cell not done yet, then analyse and write the report")
    _grid_args(r)
    r.add_argument("--executor", choices=["local", "ray"], help="where cells run (default: the study's, else local)")
    r.add_argument("--address", help="Ray cluster address for --executor ray (default: start a local Ray)")
    r.add_argument("--no-report", action="store_true", help="skip writing the report")
    r.add_argument("--dry-run", action="store_true", help="print the plan (as `study plan`) and create nothing")
    _plan_args(r)
    r.set_defaults(func=run)
    pl = ssub.add_parser("plan", help="the cells, tokens, time and peak memory a run would take; creates nothing",
                         description="Plan a study without running it: every cell (as `study run` enumerates "
                         "them) with the tokens it generates at most, the time at a throughput (stated, or "
                         "measured with the study's backend on its first model) and each variant's peak memory "
                         "(weights + KV cache). Models are not downloaded: a hub id needs a local config.json or "
                         "the built-in table of the reference models.")
    _grid_args(pl)
    _plan_args(pl)
    pl.set_defaults(func=plan)
    s = ssub.add_parser("status", help="show done / running / failed / to-do cells")
    _grid_args(s)
    s.set_defaults(func=status)
    t = ssub.add_parser("table", help="a task's metric at every budget, one row per model variant")
    t.add_argument("study", help="study directory")
    t.add_argument("--task", required=True, help="task label in the study (see cell.json task_label)")
    t.add_argument("--metric", default="accuracy", help="accuracy (default), pass@K, maj@K or cov@K")
    t.add_argument("--markdown", action="store_true", help="print a Markdown table")
    t.set_defaults(func=table)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _grid_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", nargs="?", help="study YAML file (or a study directory for status)")
    p.add_argument("--out", help="study directory (default: the file's `out`, else runs/<name>)")
    g = p.add_argument_group("grid as flags (override the file)")
    g.add_argument("--name")
    g.add_argument("--models", type=_csv, help="comma-separated model specs")
    g.add_argument("--methods", type=_csv, help="comma-separated pruning methods")
    g.add_argument("--remove", type=int_list, help="layers removed, e.g. 1,2,3")
    g.add_argument("--recovery", type=_csv, help="lora and/or full, or names of the study's finetune recipes")
    g.add_argument("--tasks", type=_task_list, help="comma-separated tasks (replace the file's task list); "
                   "key=value pieces are options of the task before them: organism-chain:k=8,seed=3,organism-facts")
    g.add_argument("--calibration", help="calibration for score-based pruning (e.g. self, organism)")
    g.add_argument("--budgets", type=parse_budgets, help="thinking budgets for every task")
    g.add_argument("--samples", type=int)
    g.add_argument("--seeds", type=int_list)
    g.add_argument("--temperature", type=float)
    g.add_argument("--limit", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--backend", help="generation backend for every cell: hf, vllm, openai (default: the file's)")
    g.add_argument("--serve", help="with --backend openai: server command per variant, with {model} and {port}")


def _plan_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("plan")
    g.add_argument("--tokens-per-s", type=float, metavar="N",
                   help="decode throughput to assume (generated tokens/s at the study's batch size); default: "
                   "measure it with a short generation on the first model")
    g.add_argument("--device", help="where cells would run when the study does not say: cpu or cuda (default: "
                   "cuda for vllm, else cuda if available); sets the dtype assumed")
    g.add_argument("--json", action="store_true", help="print the plan as JSON")


def build_study(args: argparse.Namespace):
    """The study from the file (if any) with the flags applied on top, and its directory."""
    from ..study.spec import EVAL_OVERRIDES, GRID_OVERRIDES, load_study, study_out

    overrides = {k: getattr(args, k, None) for k in (*GRID_OVERRIDES, *EVAL_OVERRIDES, "calibration", "tasks")}
    study = load_study(args.study, overrides)
    return study, study_out(study, args.study, args.out)


def run(args: argparse.Namespace) -> int:
    from ..study.run import run_study

    if args.dry_run:
        return plan(args)
    if args.tokens_per_s is not None or args.json or args.device:
        raise PrunescaleError("--tokens-per-s, --device and --json are options of the plan: add --dry-run")
    study, out = build_study(args)
    result = run_study(study, out, executor=args.executor, address=args.address, report=not args.no_report)
    failed = [c for c, s in result.items() if s == "failed"]
    print(headline(out))
    print(f"\n{sum(s == 'done' for s in result.values())}/{len(result)} cells done"
          + (f", {len(failed)} failed (prunescale study status {out})" if failed else ""))
    return 1 if failed else 0


def plan(args: argparse.Namespace) -> int:
    import json

    from ..study.plan import plan_study, startup_seconds

    study, _ = build_study(args)
    log = (lambda *a: None) if args.json else print   # noqa: E731 - JSON alone on stdout
    result = plan_study(study, tokens_per_s=args.tokens_per_s, device=args.device, log=log,
                        startup=startup_seconds())
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(format_plan(result, study.name))
    return 0


def format_plan(p, name: str) -> str:
    """The plan as two tables (cells, variants), the totals and the assumptions."""
    measured = any(c.expected is not None for c in p.cells)
    expected = ["expected", "time"] if measured else []
    cells = format_table(["cell", "problems", "tokens at most", *expected, "time at most", "longest", "batch"],
                         [[c.cell.id, c.problems, f"{c.tokens:,}",
                           *([f"{c.expected:,}", _duration(c.seconds)] if measured else []),
                           _duration(c.max_seconds), c.longest, c.batch] for c in p.cells])
    variants = format_table(["variant", "layers", "params", "weights", "KV cache", "peak", "tokens at most",
                             *(["time"] if measured else []), "time at most", "load + prune"],
                            [[v.variant.id, v.layers, f"{v.params / 1e6:,.1f}M", _gib(v.weight_bytes),
                              _gib(v.kv_bytes), _gib(v.peak_bytes), f"{v.tokens:,}",
                              *([_duration(v.seconds)] if measured else []), _duration(v.max_seconds),
                              _duration(v.setup_seconds)]
                             for v in p.variants])
    total = (f"total: {len(p.cells)} cells, {len(p.variants)} variants, {p.tokens:,} tokens at most, "
             + (f"{_duration(p.seconds)} expected, " if measured else "")
             + f"{_duration(p.max_seconds)} at most, peak memory {_gib(p.peak_bytes)}")
    if p.gpu_hours:
        total += f", {p.gpu_hours:,.1f} GPU-hours" + (" expected" if measured else " at most")
    setup = sum(v.setup_seconds for v in p.variants)
    total += (f"\nwall time: {_duration(p.wall_seconds)} {'expected' if measured else 'at most'} (start-up "
              f"{_duration(p.startup_seconds)}, loading and pruning {_duration(setup)}, generation "
              f"{_duration(p.seconds)}, fragility {_duration(p.fragility_seconds)}, report "
              f"{_duration(p.report_seconds)}; analysis not counted)")
    return "\n".join([f"study {name}: plan", "", cells, "", variants, "", total, "", "assumptions:",
                      *(f"  - {a}" for a in p.assumptions)])


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 / 100 else f"{n / 2**20:.1f} MiB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def status(args: argparse.Namespace) -> int:
    from ..study.run import status_rows

    study, out = build_study(args)
    rows = status_rows(study, out)
    print(format_table(["cell", "status", "seconds", "error"],
                       [[r["cell"], r["status"], "" if r["seconds"] is None else r["seconds"], r["error"][:80]]
                        for r in rows]))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return 0


def table(args: argparse.Namespace) -> int:
    from ..study.headline import budget_rows

    header, rows = budget_rows(args.study, args.task, args.metric)
    if not rows:
        raise PrunescaleError(f"no finished cells for task {args.task!r} in {args.study}")
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        print("\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows))
    else:
        print(format_table(header, rows))
    return 0


def headline(root: str | Path) -> str:
    """Accuracy at each task's largest budget per variant, with the change against the unpruned model."""
    from ..study.headline import headline_rows

    header, rows = headline_rows(root)
    if not rows:
        return "(no finished cells)"
    table = format_table(header, rows)
    if any("[" in str(v) for r in rows for v in r):   # paired differences shown: say what they are
        table += "\n(change [95% paired interval over problems]; *: significant after Holm; docs/statistics.md)"
    return table
