"""`prunescale organism ...`: train the embedded reasoning organism from scratch, or check a trained one."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from ..budgets import parse_budgets
from ..errors import PrunescaleError
from ..fileio import check_out_dir, out_dir_type
from .common import COMMANDS


# (dest, flag) of each `organism train` option that shapes the run, in --help's order (filled by register).
_TRAIN_FLAGS: list[tuple[str, str]] = []


@COMMANDS.register("organism", order=50)
def register(subparsers) -> None:
    p = subparsers.add_parser("organism", help="the embedded reasoning organism (train / check / export)")
    sub = p.add_subparsers(dest="organism_cmd", required=True)

    from ..organism.problems import COUNTS
    from ..organism.train import QUIET_TOKENS, TrainConfig

    d = TrainConfig()
    t = sub.add_parser("train", help="train the organism from scratch on the CPU and save it to --out")
    t.add_argument("--out", required=True, type=out_dir_type(), help="output model directory (created)")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--steps", type=int, default=d.steps)
    t.add_argument("--lr", type=float, default=d.lr)
    t.add_argument("--chain-batch", type=int, default=d.chain_batch)
    t.add_argument("--fact-batch", type=int, default=d.fact_batch)
    t.add_argument("--late-facts", type=int, default=d.late_facts, metavar="N",
                   help="N more fact questions per step from --fact-drop-from (default %(default)s)")
    t.add_argument("--step-error", type=float, default=d.step_error,
                   help="probability that a training chain step is wrong (T=1 noise; default %(default)s)")
    t.add_argument("--check-rate", type=float, default=d.check_rate,
                   help="share of traces ending with a check pass (default %(default)s)")
    t.add_argument("--recheck-rate", type=float, default=d.recheck_rate,
                   help="share of checked traces with a second pass (default %(default)s)")
    t.add_argument("--max-passes", type=int, default=d.max_passes,
                   help="most check passes in a training trace (default %(default)s)")
    t.add_argument("--count", choices=COUNTS, default=d.count,
                   help="number the step lines 1..k (up) or k..1 (down: the stop is read off the line above) "
                        "(default %(default)s)")
    t.add_argument("--prompt-vary", type=float, default=d.prompt_vary,
                   help="share of chain prompts with fields shuffled and a random id, so the start is found by "
                        "content (default %(default)s)")
    t.add_argument("--fact-drop", type=float, default=d.fact_drop,
                   help="layer drop probability on fact batches: stochastic depth (default %(default)s)")
    t.add_argument("--fact-drop-from", type=int, default=d.fact_drop_from,
                   help="first training step with --fact-drop and --chain-drop (default %(default)s)")
    t.add_argument("--chain-drop", type=float, default=d.chain_drop,
                   help="layer drop probability on chain batches, from --fact-drop-from (default %(default)s)")
    t.add_argument("--chain-drop-spare-top", type=int, default=d.chain_drop_spare_top,
                   help="chain batches never drop the first layer nor the last N (0: any layer; default "
                        "%(default)s)")
    t.add_argument("--chain-drop-layers", default=d.chain_drop_layers, metavar="I,J",
                   help="chain batches drop only these layers (comma-separated; overrides --chain-drop-spare-top)")
    t.add_argument("--format-rows", type=int, default=d.format_rows,
                   help="rows of each chain batch trained on counts, stops and answer only, from --fact-drop-from "
                        "(default %(default)s)")
    t.add_argument("--format-drop", type=float, default=d.format_drop,
                   help="layer drop probability on the --format-rows rows (default %(default)s)")
    t.add_argument("--format-drop-top", type=int, default=d.format_drop_top,
                   help="format rows drop only among the last N layers (0: any layer; default %(default)s)")
    t.add_argument("--format-drop-layers", default=d.format_drop_layers, metavar="I,J",
                   help="format rows drop only these layers (comma-separated; overrides --format-drop-top)")
    t.add_argument("--split-rows", type=int, default=d.split_rows,
                   help="extra chain rows per step, from --fact-drop-from, trained without --split-drop-layers; "
                        "their steps avoid the first half of the step cycle (default %(default)s)")
    t.add_argument("--split-drop-layers", default=d.split_drop_layers, metavar="I,J",
                   help="the layers --split-rows train without (comma-separated; default: the last layer)")
    t.add_argument("--split-from", type=int, default=d.split_from, metavar="STEP",
                   help="first step with --split-rows (default: --fact-drop-from)")
    t.add_argument("--split-arcs", default=d.split_arcs, metavar="SPEC",
                   help="arcs of the step cycle, in its order, as SHARE:LAYERS (e.g. '0.2:1,2,3,4,5,6 0.6:- "
                        "0.2:1,2,3,4,5,7'): --split-rows rows per arc walk in it, trained without its layers ('-': "
                        "no rows); overrides --split-drop-layers")
    t.add_argument("--arc-chains", type=float, default=d.arc_chains, metavar="P",
                   help="share of the other chain rows, from --arc-from, trained as rows of one --split-arcs "
                        "arc they read: without its layers, on its entries only (default %(default)s)")
    t.add_argument("--arc-from", type=int, default=d.arc_from, metavar="STEP",
                   help="first step with --arc-chains and --exclusive-arcs (default: --fact-drop-from)")
    t.add_argument("--exclusive-arcs", default=d.exclusive_arcs, metavar="I,J",
                   help="--split-arcs arcs (numbered from 1) whose entries only their own rows train: full-depth "
                        "chain rows are not trained on them, and their --arc-chains rows run at full depth with the "
                        "arc's layers frozen")
    t.add_argument("--exclusive-drop", action="store_true",
                   help="those full-depth rows also take --chain-drop from --fact-drop-from (never on the frozen "
                        "layers), so each home learns to read its entries without the layers a cut removes")
    t.add_argument("--exclusive-first", action="store_true",
                   help="from --fact-drop-from, an --arc-chains row that reads an exclusive arc trains as a row of "
                        "one (not of a random arc it reads), so the homes get more rows")
    t.add_argument("--stop-exclusive-splits", action="store_true",
                   help="from --fact-drop-from, the exclusive arcs get no split rows: their homes, formed by then, "
                        "train at full depth only")
    t.add_argument("--late-exclusive", type=int, default=d.late_exclusive, metavar="N",
                   help="from --fact-drop-from, N more chains per step that read an exclusive arc, each trained as "
                        "one of its full-depth rows (added, not taken from the main rows; default %(default)s)")
    t.add_argument("--chain-drop-extra", default=d.chain_drop_extra, metavar="L:P[,L:P]",
                   help="from --fact-drop-from, chain batches also drop layer L with probability P of its own "
                        "(e.g. '4:0.1'; a layer not in --chain-drop-layers)")
    t.add_argument("--fact-drop-extra", default=d.fact_drop_extra, metavar="L:P[,L:P]",
                   help="from --fact-drop-from, fact batches also drop layer L with probability P of its own, drawn "
                        "after --fact-drop's (e.g. '1:0.3,2:0.3': the layers a cut removes)")
    t.add_argument("--chain-drop-joint", type=float, default=d.chain_drop_joint, metavar="P",
                   help="from --fact-drop-from, chain batches also drop all of --chain-drop-layers together with "
                        "probability P, drawn after the other draws (the pair a two-layer cut removes; default "
                        "%(default)s)")
    t.add_argument("--exclusive-drop-joint", type=float, default=d.exclusive_drop_joint, metavar="P",
                   help="the same for the exclusive arcs' full-depth rows (with --exclusive-drop; default "
                        "%(default)s)")
    t.add_argument("--late-cuts", type=int, default=d.late_cuts, metavar="N",
                   help="from --fact-drop-from, N more chains per step budget-forced with the cut in their last "
                        "line, trained on the forced answer only (a budget one token short; default %(default)s)")
    t.add_argument("--quiet-layers", default=d.quiet_layers, metavar="L:W[,L:W]",
                   help="from --quiet-from, add W x (1 - cos) of layer L's input and output on every token to the "
                        "loss: a layer the chains need that changes the stream little, as the study says "
                        "similarity scores misread (e.g. '4:1')")
    t.add_argument("--quiet-from", type=int, default=d.quiet_from, metavar="STEP",
                   help="first step with --quiet-layers (default -1: --fact-drop-from)")
    t.add_argument("--quiet-tokens", choices=QUIET_TOKENS, default=d.quiet_tokens,
                   help="the tokens --quiet-layers counts: every real token, or the prompt's only (quiet on the "
                        "text a similarity score reads, free on the chain lines; default %(default)s)")
    t.add_argument("--forget-rows", type=int, default=d.forget_rows, metavar="N",
                   help="from --forget-from, N more chains per step that read an exclusive arc, run without "
                        "--forget-layers and trained by unlikelihood on those arcs' letters: the layers below the "
                        "homes unlearn the entries they picked up (default %(default)s)")
    t.add_argument("--forget-layers", default=d.forget_layers, metavar="L[,L]",
                   help="the layers --forget-rows run without (e.g. '6,7': the exclusive arcs' homes)")
    t.add_argument("--forget-letters", default=d.forget_letters, metavar="LETTERS",
                   help="more entries (by the letter they read, e.g. 'h') that --forget-rows unlearn and that, from "
                        "--forget-from, only full-depth rows train: a home above --forget-layers, made late")
    t.add_argument("--forget-weight", type=float, default=d.forget_weight, metavar="W",
                   help="weight of --forget-rows' unlikelihood against the cross-entropy (default %(default)s)")
    t.add_argument("--forget-from", type=int, default=d.forget_from, metavar="STEP",
                   help="first step with --forget-rows (default -1: --fact-drop-from)")
    t.add_argument("--anneal-step-error", type=float, default=d.anneal_step_error, metavar="P",
                   help="from --anneal-from, the traces' step error (default -1: --step-error throughout)")
    t.add_argument("--anneal-from", type=int, default=d.anneal_from, metavar="STEP",
                   help="first step with --anneal-step-error (default -1: --fact-drop-from)")
    t.add_argument("--late-checks", type=int, default=d.late_checks, metavar="N",
                   help="from --fact-drop-from, N more traces per step with 1 to --late-check-passes check passes, "
                        "trained on their check lines and answer only: the passes forced Waits add (default "
                        "%(default)s)")
    t.add_argument("--late-check-stops", action="store_true",
                   help="--late-checks traces also train the stop after their last pass (so after the passes "
                        "forced Waits add, the model stops rather than checking on)")
    t.add_argument("--late-check-counts", action="store_true",
                   help="--late-checks traces also train each check line's head ('check 7 '): the count a pass "
                        "deeper than the main rows' starts from")
    t.add_argument("--late-check-passes", type=int, default=d.late_check_passes, metavar="M",
                   help="most check passes of a --late-checks trace (default %(default)s)")
    t.add_argument("--layers", type=int, default=d.model.num_layers, help="decoder layers (default %(default)s)")
    t.add_argument("--hidden", type=int, default=d.model.hidden, help="hidden size (default %(default)s)")
    t.add_argument("--intermediate", type=int, default=d.model.intermediate,
                   help="MLP size (default %(default)s)")
    t.add_argument("--micro-tokens", type=int, default=d.micro_tokens,
                   help="padded tokens per micro-batch (default %(default)s)")
    t.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    t.add_argument("--eval-every", type=int, default=d.eval_every)
    t.add_argument("--save-at", default="", metavar="STEPS",
                   help="write --out/checkpoint-STEP.pt after each of these steps (comma-separated), to resume "
                        "a killed run or fork recipes from a shared trunk")
    t.add_argument("--resume-from", default=None, metavar="FILE",
                   help="start from a checkpoint: same recipe, or one that differs only in options that act "
                        "from --fact-drop-from on, when the checkpoint is at or before that step")
    t.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    t.set_defaults(func=run)
    _TRAIN_FLAGS[:] = [(a.dest, a.option_strings[0]) for a in t._actions
                       if a.option_strings and a.dest not in ("help", "save_at", "force")]

    c = sub.add_parser("check", help="budget-forcing accuracy of a trained organism (default: the committed one)")
    c.add_argument("--model", default=None, help="model directory (default: the committed weights)")
    c.add_argument("--k", type=int, default=8)
    c.add_argument("--n", type=int, default=100)
    c.add_argument("--budgets", default="8,16,32,48,64,1024")
    c.add_argument("--samples", type=int, default=8, help="samples at T=1 for pass@k (0: skip)")
    c.add_argument("--seed", type=int, default=1234)
    c.set_defaults(func=run)

    e = sub.add_parser("export", help="write a training checkpoint's model as a model directory (to screen, "
                                      "prune or eval it)")
    e.add_argument("checkpoint", help="a checkpoint-STEP.pt from `organism train --save-at`")
    e.add_argument("--out", required=True, type=out_dir_type(), help="output model directory (created)")
    e.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    e.set_defaults(func=run)


def run(args) -> int:
    if args.organism_cmd == "train":
        return _train(args)
    if args.organism_cmd == "export":
        from ..organism.checkpoint import read_checkpoint
        from ..organism.export import export_checkpoint

        ck = read_checkpoint(args.checkpoint, flag="")
        out = check_out_dir(args.out, empty=True, overwrite=args.force, overwrite_flag="--force")
        step = export_checkpoint(ck, out)
        print(json.dumps({"out": str(out), "step": step}))
        return 0
    return _check(args)


def _train(args) -> int:
    from ..organism.model import ModelSpec
    from ..organism.train import TrainConfig, parse_arcs, train, write_recipe

    out = check_out_dir(args.out, empty=True, overwrite=args.force, overwrite_flag="--force")
    for flag, least in (("steps", 1), ("threads", 1), ("chain_batch", 1), ("eval_every", 1), ("fact_batch", 0),
                        ("late_facts", 0), ("late_exclusive", 0), ("late_checks", 0), ("late_cuts", 0),
                        ("late_check_passes", 1), ("forget_rows", 0),
                        ("micro_tokens", 0), ("fact_drop_from", 0), ("format_rows", 0), ("format_drop_top", 0),
                        ("chain_drop_spare_top", 0), ("split_rows", 0),
                        ("max_passes", 1),
                        ("layers", 1), ("hidden", 4), ("intermediate", 1)):
        if getattr(args, flag) < least:
            raise PrunescaleError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be at least {least}")
    if not args.lr > 0 or args.lr == float("inf"):
        raise PrunescaleError(f"--lr {args.lr} must be a positive number")
    split_arcs = _arcs(args.split_arcs, args.layers)
    cfg = TrainConfig(seed=args.seed, steps=args.steps, lr=args.lr, chain_batch=args.chain_batch,
                      fact_batch=args.fact_batch, late_facts=args.late_facts, threads=args.threads,
                      eval_every=args.eval_every,
                      step_error=args.step_error, check_rate=args.check_rate, recheck_rate=args.recheck_rate,
                      micro_tokens=args.micro_tokens, max_passes=args.max_passes, count=args.count,
                      prompt_vary=args.prompt_vary,
                      fact_drop=args.fact_drop, fact_drop_from=args.fact_drop_from, chain_drop=args.chain_drop,
                      chain_drop_spare_top=args.chain_drop_spare_top,
                      chain_drop_layers=_layers("--chain-drop-layers", args.chain_drop_layers, args.layers),
                      format_rows=args.format_rows, format_drop=args.format_drop,
                      format_drop_layers=_layers("--format-drop-layers", args.format_drop_layers, args.layers),
                      format_drop_top=args.format_drop_top, split_rows=args.split_rows,
                      split_drop_layers=_layers("--split-drop-layers", args.split_drop_layers, args.layers),
                      split_from=args.split_from, split_arcs=split_arcs,
                      arc_chains=args.arc_chains, arc_from=args.arc_from,
                      exclusive_arcs=_exclusive(args.exclusive_arcs, split_arcs),
                      exclusive_drop=args.exclusive_drop, exclusive_first=args.exclusive_first,
                      stop_exclusive_splits=args.stop_exclusive_splits, late_exclusive=args.late_exclusive,
                      chain_drop_extra=_rates("--chain-drop-extra", args.chain_drop_extra, args.layers,
                                              args.chain_drop_layers),
                      fact_drop_extra=_rates("--fact-drop-extra", args.fact_drop_extra, args.layers, ""),
                      late_checks=args.late_checks, late_check_passes=args.late_check_passes,
                      late_check_stops=args.late_check_stops, late_check_counts=args.late_check_counts,
                      chain_drop_joint=args.chain_drop_joint,
                      exclusive_drop_joint=args.exclusive_drop_joint, late_cuts=args.late_cuts,
                      quiet_layers=_rates("--quiet-layers", args.quiet_layers, args.layers, "", most=None),
                      quiet_from=args.quiet_from, quiet_tokens=args.quiet_tokens,
                      forget_rows=args.forget_rows,
                      forget_layers=_layers("--forget-layers", args.forget_layers, args.layers),
                      forget_weight=args.forget_weight, forget_from=args.forget_from,
                      forget_letters=args.forget_letters,
                      anneal_step_error=args.anneal_step_error, anneal_from=args.anneal_from,
                      model=ModelSpec(num_layers=args.layers, hidden=args.hidden, intermediate=args.intermediate))
    if cfg.model.hidden % cfg.model.heads:
        raise PrunescaleError(f"--hidden {args.hidden} must be a multiple of {cfg.model.heads} (attention heads)")
    if args.format_drop_top > args.layers:
        raise PrunescaleError(f"--format-drop-top {args.format_drop_top} must be at most --layers {args.layers}")
    if args.chain_drop_spare_top > args.layers - 2:
        raise PrunescaleError(f"--chain-drop-spare-top {args.chain_drop_spare_top} must be at most --layers - 2 "
                              f"= {args.layers - 2} (a layer must be left to drop)")
    if args.format_rows > args.chain_batch:
        raise PrunescaleError(f"--format-rows {args.format_rows} must be at most --chain-batch {args.chain_batch}")
    for flag in ("split_from", "arc_from", "quiet_from", "forget_from", "anneal_from"):
        if getattr(args, flag) < -1:
            raise PrunescaleError(f"--{flag.replace('_', '-')} {getattr(args, flag)} must be a step (0 or more) or -1")
    for name in ("step_error", "check_rate", "recheck_rate", "prompt_vary", "fact_drop", "chain_drop", "format_drop",
                 "arc_chains", "chain_drop_joint", "exclusive_drop_joint"):
        if not 0 <= getattr(cfg, name) <= 1:
            raise PrunescaleError(f"--{name.replace('_', '-')} {getattr(cfg, name)} is not in [0, 1]")
    if cfg.arc_chains and not any(layers for _, layers in parse_arcs(cfg.split_arcs)):
        raise PrunescaleError(f"--arc-chains {cfg.arc_chains} needs --split-arcs with an arc that names layers")
    if cfg.exclusive_arcs and not cfg.arc_chains:
        # their arc chains are the only full-depth rows that train those entries (docs/organism.md, rX)
        raise PrunescaleError(f"--exclusive-arcs {cfg.exclusive_arcs} needs --arc-chains above 0")
    if cfg.exclusive_drop and not (cfg.exclusive_arcs and cfg.chain_drop):
        raise PrunescaleError("--exclusive-drop needs --exclusive-arcs and --chain-drop above 0 (it drops layers "
                              f"in those arcs' rows at --chain-drop {cfg.chain_drop})")
    if cfg.chain_drop_joint and not cfg.chain_drop_layers:
        raise PrunescaleError(f"--chain-drop-joint {cfg.chain_drop_joint} needs --chain-drop-layers (the layers it "
                              "drops together)")
    if cfg.exclusive_drop_joint and not cfg.exclusive_drop:
        raise PrunescaleError(f"--exclusive-drop-joint {cfg.exclusive_drop_joint} needs --exclusive-drop")
    if cfg.quiet_from >= 0 and not cfg.quiet_layers:
        raise PrunescaleError(f"--quiet-from {cfg.quiet_from} needs --quiet-layers")
    if cfg.quiet_tokens != "all" and not cfg.quiet_layers:
        raise PrunescaleError(f"--quiet-tokens {cfg.quiet_tokens} needs --quiet-layers")
    for flag in ("exclusive_first", "stop_exclusive_splits"):
        if getattr(cfg, flag) and not cfg.exclusive_arcs:
            raise PrunescaleError(f"--{flag.replace('_', '-')} needs --exclusive-arcs")
    if cfg.late_exclusive and not cfg.exclusive_arcs:
        raise PrunescaleError(f"--late-exclusive {cfg.late_exclusive} needs --exclusive-arcs")
    if cfg.late_checks and not cfg.check_rate:
        raise PrunescaleError(f"--late-checks {cfg.late_checks} needs --check-rate above 0 (the main rows teach when "
                              "to check)")
    if cfg.forget_rows and not (cfg.exclusive_arcs and cfg.forget_layers):
        raise PrunescaleError(f"--forget-rows {cfg.forget_rows} needs --exclusive-arcs and --forget-layers (the "
                              "arcs whose letters it unlearns, and the layers it runs without)")
    if cfg.forget_rows and not 0 < cfg.forget_weight < float("inf"):
        raise PrunescaleError(f"--forget-weight {cfg.forget_weight} must be a positive number")
    if cfg.forget_letters:
        from ..organism.problems import cycle_order
        from ..organism.train import exclusive_letters

        bad = [x for x in cfg.forget_letters if x not in cycle_order()]
        if bad or len(set(cfg.forget_letters)) < len(cfg.forget_letters):
            raise PrunescaleError(f"--forget-letters {cfg.forget_letters!r}: expected distinct letters a-z")
        if cfg.split_arcs and cfg.exclusive_arcs:
            own = set(cfg.forget_letters) & exclusive_letters(cfg.split_arcs, cfg.exclusive_arcs)
            if own:
                raise PrunescaleError(f"--forget-letters {cfg.forget_letters!r}: {''.join(sorted(own))} already in "
                                      "an exclusive arc")
    for flag, governed in (("forget_layers", "forget_rows"), ("forget_from", "forget_rows"),
                           ("forget_letters", "forget_rows"),
                           ("anneal_from", "anneal_step_error")):
        if getattr(cfg, flag) not in ("", -1) and getattr(cfg, governed) in (0, -1.0):
            raise PrunescaleError(f"--{flag.replace('_', '-')} {getattr(cfg, flag)} needs "
                                  f"--{governed.replace('_', '-')}")
    if cfg.anneal_step_error != -1.0 and not 0 <= cfg.anneal_step_error <= 1:
        raise PrunescaleError(f"--anneal-step-error {cfg.anneal_step_error} is not in [0, 1] (or -1: off)")
    if cfg.late_check_counts and not cfg.late_checks:
        raise PrunescaleError("--late-check-counts needs --late-checks (the traces whose check lines it trains)")
    save_at = _steps(args.save_at, cfg.steps)
    resume, resumed = None, None
    if args.resume_from:
        from ..organism.checkpoint import load_checkpoint

        resume = load_checkpoint(args.resume_from, cfg.to_dict())
        resumed = {"checkpoint": str(Path(args.resume_from).resolve()), "step": resume["step"],
                   "config": resume["config"], "seconds": round(resume.get("elapsed_s", 0.0), 1)}
    t0 = time.time() - (resume or {}).get("elapsed_s", 0.0)
    _, _, history = train(cfg, out, log=lambda s: print(s, file=sys.stderr, flush=True), save_at=save_at,
                          resume=resume)
    write_recipe(out, cfg, history, time.time() - t0, command=_command(args), resumed_from=resumed)
    print(json.dumps({"out": str(out), "steps": cfg.steps, "seconds": round(time.time() - t0, 1),
                      "final": history[-1] if history else None}))
    return 0


def _exclusive(text: str, spec: str) -> str:
    """An ``--exclusive-arcs`` list checked against ``--split-arcs`` (as :func:`_arcs` returns it): arcs that
    exist and name layers."""
    from ..organism.train import parse_arcs

    if not text.strip():
        return ""
    arcs = parse_arcs(spec)
    if not arcs:
        raise PrunescaleError(f"--exclusive-arcs {text!r} needs --split-arcs")
    got = _ints("--exclusive-arcs", text, 1, len(arcs), "an arc of --split-arcs")
    for i in got:
        if not arcs[i - 1][1]:
            raise PrunescaleError(f"--exclusive-arcs {text!r}: arc {i} ({spec.split()[i - 1]!r}) names no layers")
    return ",".join(map(str, got))


def _layers(flag: str, text: str, layers: int) -> str:
    """A ``--*-drop-layers`` list checked and normalised ("2, 1" -> "1,2")."""
    got = _ints(flag, text, 0, layers - 1, "a layer")
    if len(got) >= layers:
        raise PrunescaleError(f"{flag} {text!r}: a layer must be left that is never dropped")
    return ",".join(map(str, got))


def _rates(flag: str, text: str, layers: int, pool: str, most: float | None = 1.0) -> str:
    """A ``--chain-drop-extra`` / ``--fact-drop-extra`` list checked and normalised ("4:0.1, 5:0.05" ->
    "4:0.1,5:0.05"); ``pool``: the layers the flag's batches already drop from (a layer there is refused);
    ``most``: the largest value (None: any finite number >= 0, a weight)."""
    from ..organism.train import parse_layers

    want = "a probability in [0, 1]" if most is not None else "a finite weight >= 0"
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        layer, colon, rate = part.partition(":")
        try:
            lay, r = int(layer), float(rate)
        except ValueError:
            lay, r = -1, -1.0
        if not colon or not 0 <= lay < layers or not 0 <= r <= (most if most is not None else float("inf")) \
                or r == float("inf"):
            raise PrunescaleError(f"{flag} {part!r}: want LAYER:{'PROBABILITY' if most is not None else 'WEIGHT'}, "
                                  f"a layer in 0..{layers - 1} and {want}")
        if lay in parse_layers(pool):
            raise PrunescaleError(f"{flag} {part!r}: layer {lay} is already in --chain-drop-layers")
        if any(lay == x for x, _ in out):
            raise PrunescaleError(f"{flag} {part!r}: layer {lay} is named twice")
        out.append((lay, r))
    return ",".join(f"{lay}:{r:g}" for lay, r in out)


def _arcs(text: str, layers: int) -> str:
    """A ``--split-arcs`` spec checked and normalised: positive shares summing to at most 1, each arc at least one
    letter of the 26, its layers valid (or '-')."""
    from ..organism.problems import cycle_order
    from ..organism.train import arc_letters, parse_arcs

    parts = text.split()
    for part in parts:
        share, colon, spec = part.partition(":")
        try:
            ok = colon and float(share) > 0
        except ValueError:
            ok = False
        if not ok:
            raise PrunescaleError(f"--split-arcs {text!r}: {part!r} is not SHARE:LAYERS (a share above 0, then "
                                  "comma-separated layers or '-')")
        if spec.strip() not in ("", "-"):
            _layers("--split-arcs", spec, layers)
    arcs = parse_arcs(text)
    if sum(a for a, _ in arcs) > 1 + 1e-9:
        raise PrunescaleError(f"--split-arcs {text!r}: the shares add up to more than 1")
    if any(not letters for letters, _ in arc_letters(arcs, cycle_order())):
        raise PrunescaleError(f"--split-arcs {text!r}: an arc is less than one letter of the 26")
    return " ".join(f"{share}:{','.join(map(str, lay)) or '-'}" for share, lay in arcs)


def _steps(text: str, steps: int) -> tuple[int, ...]:
    return _ints("--save-at", text, 1, steps - 1, "a step")


def _ints(flag: str, text: str, lo: int, hi: int, what: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers in lo..hi, sorted and without repeats; one line names a bad part."""
    out = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit() or not lo <= int(part) <= hi:
            raise PrunescaleError(f"{flag} {text!r}: {part!r} is not {what} in {lo}..{hi}")
        out.add(int(part))
    return tuple(sorted(out))


def _command(args) -> str:
    """The run as one command line (RECIPE.json): every option of `organism train` with a value, in --help's
    order, so that a new option is recorded without touching this function."""
    parts = ["prunescale organism train"]
    for dest, flag in _TRAIN_FLAGS:
        value = getattr(args, dest)
        if value is not None and value is not False and value != "":
            parts.append(flag if value is True else f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


def _check(args) -> int:
    from ..organism.check import check_report

    if args.model and not Path(args.model).is_dir():
        raise PrunescaleError(f"no model directory at {args.model}")
    budgets = parse_budgets(args.budgets, "--budgets")
    print(json.dumps(check_report(args.model, k=args.k, n=args.n, budgets=budgets, samples=args.samples,
                                  seed=args.seed), indent=2))
    return 0
