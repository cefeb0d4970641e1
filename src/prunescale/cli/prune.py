"""``prunescale prune`` and ``prunescale layers``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import PrunescaleError
from ..models.loading import load_model
from ..prune import METHODS
from ..prune.calibration import load_calibration
from ..prune.run import PruneSpec, prune
from ..prune.scoring import layer_similarity
from .common import add_calibration_args, add_config_args, add_model_args, format_table, int_list

# LaCo's options as flags: --laco-threshold etc. map to the method option of the same name.
_LACO = {"threshold": float, "interval": int, "merge_size": int, "lowest": int, "highest": int, "rule": str,
         "samples": int}


def register(sub) -> None:
    p = sub.add_parser("prune", help="remove decoder layers and save a standard Hugging Face model",
                       description="Prune whole decoder layers of a causal LM and save the result with "
                       "prunescale.json (what was removed, scores, calibration, seed).")
    add_model_args(p)
    p.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS.names())}")
    how = p.add_argument_group("how much (exactly one)")
    how.add_argument("--remove", type=int, help="number of layers to remove")
    how.add_argument("--ratio", type=float, help="fraction of layers to remove; n = floor(ratio * layers + 0.5)")
    how.add_argument("--layers", type=int_list, help="explicit layer indices i,j,k (with --method selection)")
    add_calibration_args(p)
    laco = p.add_argument_group("laco")
    laco.add_argument("--laco-threshold", type=float, help="accept a merge while similarity > T (default 0.65)")
    laco.add_argument("--laco-interval", type=int, help="layers to step down after a merge (default 2)")
    laco.add_argument("--laco-merge-size", type=int, help="following layers merged into one per merge (default 1)")
    laco.add_argument("--laco-lowest", type=int, help="lowest layer that may absorb others (default 0)")
    laco.add_argument("--laco-highest", type=int, help="highest layer considered (default: the last)")
    laco.add_argument("--laco-rule", choices=["rdsc", "reference"],
                      help="rdsc (LaCo paper, default) or reference (the public code: in-place update, "
                      "whole-sequence cosine, first candidate one layer lower)")
    laco.add_argument("--laco-samples", type=int, help="calibration sequences LaCo compares on (default 16)")
    p.add_argument("--out", required=True, help="output directory (must be empty or new)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output directory")
    add_config_args(p)
    p.set_defaults(func=run_prune)

    q = sub.add_parser("layers", help="print per-layer scores without pruning",
                       description="Score every decoder layer (ShortGPT block influence and angular distance).")
    add_model_args(q)
    q.add_argument("--method", default="shortgpt", choices=["shortgpt", "angular"], help="score to rank by")
    q.add_argument("--remove", type=int, default=None, help="mark the layers this many removals would take")
    add_calibration_args(q)
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_config_args(q)
    q.set_defaults(func=run_layers)


def spec_from_args(args: argparse.Namespace) -> PruneSpec:
    options = {k: getattr(args, f"laco_{k}") for k in _LACO if getattr(args, f"laco_{k}", None) is not None}
    if options and args.method != "laco":
        raise PrunescaleError(f"--laco-* options apply to --method laco, not {args.method!r}")
    return PruneSpec(model=args.model, method=args.method, remove=args.remove, ratio=args.ratio, layers=args.layers,
                     calibration=args.calibration, calibration_samples=args.calibration_samples,
                     max_seq_len=args.max_seq_len, batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
                     device=args.device, trust_remote_code=args.trust_remote_code, options=options)


def run_prune(args: argparse.Namespace) -> int:
    record = prune(spec_from_args(args), args.out, overwrite=args.overwrite)
    print(f"{record['method']}: removed layers {record['removed_layers']} of {record['layers_before']} "
          f"({record['params_before'] / 1e6:.1f}M -> {record['params_after'] / 1e6:.1f}M parameters, "
          f"{record['wall_time_s']:.1f}s)")
    for m in record["merges"]:
        print(f"  merged {m['merged']} into {m['into']} (similarity {m['similarity']:.4f})")
    print(f"saved to {args.out}")
    return 0


def layer_rows(stats: dict, remove: int | None, method: str) -> tuple[list[dict], list[int]]:
    """Per-layer rows (BI, angular distance of the layer and of the block starting there) and the pick."""
    n = remove or 1
    bi = [1.0 - c for c in stats["cos"]]
    block = [row[n - 1] if len(row) >= n else float("nan") for row in stats["angular"]]
    picked: list[int] = []
    if remove:
        if method == "shortgpt":
            picked = sorted(sorted(range(len(bi)), key=lambda i: (bi[i], -i))[:n])
        else:
            valid = [i for i, s in enumerate(block) if s == s]
            start = min(valid, key=lambda i: (block[i], -i))
            picked = list(range(start, start + n))
    rows = [{"layer": i, "block_influence": bi[i], "angular_distance": stats["angular"][i][0],
             f"angular_block_{n}": block[i], "removed": i in picked} for i in range(len(bi))]
    return rows, picked


def run_layers(args: argparse.Namespace) -> int:
    loaded = load_model(args.model, dtype=args.dtype, device=args.device, trust_remote_code=args.trust_remote_code)
    calib = load_calibration(args.calibration, loaded.model, loaded.tokenizer, samples=args.calibration_samples,
                             max_seq_len=args.max_seq_len, batch_size=args.batch_size, seed=args.seed)
    stats = layer_similarity(loaded.model, calib.batches)
    if args.remove is not None and not 1 <= args.remove < len(stats["cos"]):
        raise PrunescaleError(f"--remove {args.remove} must be between 1 and {len(stats['cos']) - 1}")
    rows, picked = layer_rows(stats, args.remove, args.method)
    if args.json:
        json.dump({"model": args.model, "method": args.method, "calibration": calib.describe(), "layers": rows,
                   "removed": picked}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.model}: {len(rows)} layers, calibration {calib.describe()['samples']} texts / "
          f"{calib.describe()['tokens']} tokens ({args.calibration})")
    print(format_table(list(rows[0]), [[r[k] if k != "removed" else ("x" if r[k] else "") for k in r] for r in rows]))
    if picked:
        print(f"{args.method} would remove {picked}")
    return 0
