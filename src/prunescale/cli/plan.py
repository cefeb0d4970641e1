"""``prunescale plan``: pass@k / maj@k curves with intervals, and the power of a pruned-vs-base comparison."""

from __future__ import annotations

import argparse

from ..errors import PrunescaleError
from .common import COMMANDS


@COMMANDS.register("plan", order=85)
def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan", help="pass@k / maj@k curves with intervals; problems and samples a comparison needs",
        description="Numbers for planning and reporting an evaluation (docs/statistics.md gives every formula).")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("curves", help="pass@k, maj@k (unbiased) and maj@k_first for every k, with 95%% intervals")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", metavar="DIR", help="a run directory written by prunescale eval")
    src.add_argument("--lmeval-jsonl", metavar="FILE", help="an lm-evaluation-harness sample log (--log_samples)")
    c.add_argument("--task", help="the run's task (default: its only one)")
    c.add_argument("--budget", help="the run's budget (default: its largest)")
    c.set_defaults(func=run_curves)
    w = sub.add_parser("power", help="chance to detect an accuracy drop, and the problems / samples needed",
                       description="Simulate paired studies (base vs a model D worse on every problem in "
                       "proportion) from a base run's per-problem accuracies, or from a Beta distribution of them.")
    base = w.add_mutually_exclusive_group(required=True)
    base.add_argument("--run", metavar="DIR", help="the base model's run directory")
    base.add_argument("--accuracy", type=float, help="without a run: the base's mean accuracy")
    w.add_argument("--spread", type=float, default=0.25,
                   help="with --accuracy: the standard deviation of per-problem accuracy (Beta; default 0.25)")
    w.add_argument("--task", help="the run's task (default: its only one)")
    w.add_argument("--budget", help="the run's budget (default: its largest)")
    w.add_argument("--drop", type=float, default=0.1, help="the accuracy drop to detect (default 0.1)")
    w.add_argument("--problems", type=int, help="problems (default: the run's, else 30)")
    w.add_argument("--samples", type=int, help="samples per problem (default: the run's, else 1)")
    w.add_argument("--alpha", type=float, default=0.05, help="two-sided level (default 0.05)")
    w.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    w.add_argument("--width", type=float, help="also: what gives a 95%% interval narrower than this")
    w.add_argument("--sims", type=int, default=400, help="simulated studies per point (default 400)")
    w.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    w.set_defaults(func=run_power)


def run_curves(args: argparse.Namespace) -> int:
    from ..scaling.planning import classes_by_text, k_curves, run_problems
    from .common import format_table

    if args.run:
        rp = run_problems(args.run, args.task, args.budget)
        problems, what = rp.problems, f"{args.run}: {rp.task} at budget {rp.budget}"
    else:
        from ..analysis.lmeval import read_lmeval_jsonl

        problems = {}
        for r in read_lmeval_jsonl(args.lmeval_jsonl):
            problems.setdefault(r.problem_id, []).append(r)
        if any(r.correct is None for rs in problems.values() for r in rs):
            raise PrunescaleError(f"{args.lmeval_jsonl}: responses without exact_matches: no correctness to count")
        problems = {pid: (classes_by_text([r.extracted_answer for r in rs]), [bool(r.correct) for r in rs])
                    for pid, rs in problems.items()}
        what = args.lmeval_jsonl.rsplit("/", 1)[-1]
    rows = k_curves(problems)
    print(f"{what}: {rows[0]['n_problems']} problems x {rows[0]['n_samples']} samples; 95% bootstrap over problems")
    table = [[r["k"], f"{r['pass@k']:.3f}", "[{:.3f}, {:.3f}]".format(*r["pass@k_ci95"]), f"{r['maj@k']:.3f}",
              "[{:.3f}, {:.3f}]".format(*r["maj@k_ci95"]), f"{r['maj@k_first']:.3f}"] for r in rows]
    print(format_table(["k", "pass@k", "95% CI", "maj@k", "95% CI", "maj@k_first"], table))
    return 0


def run_power(args: argparse.Namespace) -> int:
    from ..scaling.planning import PowerPlan, beta_accuracies, run_problems

    if args.run:
        rp = run_problems(args.run, args.task, args.budget)
        acc, n, s = rp.accuracies, args.problems or len(rp.problems), args.samples or rp.samples
        print(f"base: {args.run}: {rp.task} at budget {rp.budget}, {len(rp.problems)} problems x {rp.samples} "
              f"samples, accuracy {sum(acc) / len(acc):.3f}")
    else:
        acc, n, s = beta_accuracies(args.accuracy, args.spread, seed=args.seed), args.problems or 30, args.samples or 1
        print(f"base: per-problem accuracy ~ Beta(mean {args.accuracy}, sd {args.spread})")
    for name, v in (("--problems", args.problems), ("--samples", args.samples), ("--sims", args.sims)):
        if v is not None and v < 1:
            raise PrunescaleError(f"{name} must be at least 1, got {v}")
    plan = PowerPlan(acc, args.drop, args.alpha, args.sims, args.seed)
    test = "McNemar exact" if s == 1 else "sign-flip on per-problem accuracy"
    print(f"drop {args.drop:g}, two-sided alpha {args.alpha:g} ({test}), {args.sims} simulated studies, seed "
          f"{args.seed}")
    print(f"power with {n} problems x {s} samples: {plan.power(n, s):.2f}")
    need = plan.problems_needed(s, args.power)
    print(f"problems needed for {args.power:.0%} power ({s} samples each): {need if need else 'more than 100000'}")
    need = plan.samples_needed(n, args.power)
    print(f"samples per problem needed for {args.power:.0%} power ({n} problems): "
          f"{need if need else 'more than 1024'}")
    if args.width:
        print(f"95% interval width with {n} x {s}: {plan.width(n, s):.3f}; narrower than {args.width:g} needs "
              f"{plan.problems_for_width(args.width, s)} problems ({s} samples each)")
    return 0
