"""``prunescale prune`` and ``prunescale layers``."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import PrunescaleError
from ..fileio import out_dir_type
from ..models.loading import load_model
from ..models.surgery import num_layers
from ..prune import METHODS
from ..prune.base import resolve_count
from ..prune.calibration import load_calibration
from ..prune.run import PruneSpec, prune
from .common import COMMANDS, add_calibration_args, add_config_args, add_model_args, format_table, int_list



def add_method_options(p: argparse.ArgumentParser) -> None:
    """Every registered method's declared options as ``--<method>-<option>`` flags, one group per method."""
    for name in METHODS.names():
        cls = METHODS.get(name)
        if not cls.options:
            continue
        g = p.add_argument_group(f"{name} options")
        for o in cls.options:
            g.add_argument(o.flag(name), dest=o.dest(name), type=o.type, choices=o.choices, help=o.help)


def method_options(args: argparse.Namespace) -> dict:
    """The options of ``args.method`` given on the command line; another method's flag is an error."""
    options = {}
    for name in METHODS.names():
        for o in METHODS.get(name).options:
            value = getattr(args, o.dest(name), None)
            if value is None:
                continue
            if name != args.method:
                raise PrunescaleError(f"{o.flag(name)} applies to --method {name}, not {args.method!r}")
            options[o.name] = value
    return options


def add_sparsity_args(p: argparse.ArgumentParser) -> None:
    from ..prune.sparsity import OWL_LAMBDA, OWL_M

    g = p.add_argument_group("unstructured methods (magnitude-unstructured, sparsegpt, wanda: keep every layer, "
                             "zero weights)")
    g.add_argument("--sparsity", type=float, help="share of each projection's weights to zero (0 < S < 1)")
    g.add_argument("--pattern", help="N:M: at most N nonzero weights in every M consecutive inputs (2:4 = 50%%)")
    g.add_argument("--allocation", default="uniform", help="layer-wise sparsity: uniform (default), owl, or a "
                   "JSON/YAML file listing one sparsity per layer")
    g.add_argument("--owl-m", type=float, default=OWL_M,
                   help=f"OWL outlier threshold: M x mean score (default {OWL_M:g})")
    g.add_argument("--owl-lambda", type=float, default=OWL_LAMBDA,
                   help=f"OWL: layer sparsities span S +- lambda (default {OWL_LAMBDA:g})")


@COMMANDS.register("prune", order=10)
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
    add_sparsity_args(p)
    add_calibration_args(p)
    add_method_options(p)
    p.add_argument("--out", required=True, type=out_dir_type(), help="output directory (must be empty or new)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output directory")
    add_config_args(p)
    p.set_defaults(func=run_prune)

    q = sub.add_parser("layers", help="print per-layer scores without pruning",
                       description="Score every decoder layer (ShortGPT block influence, angular distance, and the "
                       "chosen method's own score) and, with --remove, mark what the method would remove.")
    add_model_args(q)
    q.add_argument("--method", default="shortgpt", choices=METHODS.names(), help="method whose choice to show")
    q.add_argument("--remove", type=int, default=None, help="mark the layers this many removals would take")
    q.add_argument("--layers", type=int_list, help="explicit layer indices i,j,k (with --method selection)")
    add_calibration_args(q)
    add_method_options(q)
    q.add_argument("--similarity", action="store_true",
                   help="also show block influence and angular distance beside a method's own scores (a pass over "
                   "the calibration; shown anyway for shortgpt, angular and methods without scores of their own)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_config_args(q)
    q.set_defaults(func=run_layers)


def spec_from_args(args: argparse.Namespace) -> PruneSpec:
    METHODS.get(args.method)   # an unknown method is named before anything else
    options = method_options(args)
    return PruneSpec(model=args.model, method=args.method, remove=args.remove, ratio=args.ratio, layers=args.layers,
                     calibration=args.calibration, calibration_samples=args.calibration_samples,
                     max_seq_len=args.max_seq_len, batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
                     device=args.device, trust_remote_code=args.trust_remote_code, options=options,
                     **{k: getattr(args, k) for k in ("sparsity", "pattern", "allocation", "owl_m", "owl_lambda")
                        if hasattr(args, k)})


def run_prune(args: argparse.Namespace) -> int:
    record = prune(spec_from_args(args), args.out, overwrite=args.overwrite)
    if "measured_sparsity" in record:
        print(f"{record['method']}: zeroed {record['zeroed_params'] / 1e6:.2f}M of "
              f"{record['projection_params'] / 1e6:.2f}M projection weights, "
              f"measured sparsity {record['measured_sparsity']:.4f} "
              f"({record['allocation']}{', ' + record['pattern'] if record['pattern'] else ''}; "
              f"{record['wall_time_s']:.1f}s)\nsaved to {args.out}")
        return 0
    print(f"{record['method']}: removed layers {record['removed_layers']} of {record['layers_before']} "
          f"({record['params_before'] / 1e6:.1f}M -> {record['params_after'] / 1e6:.1f}M parameters, "
          f"{record['wall_time_s']:.1f}s)")
    for m in record["merges"]:
        print(f"  merged {m['merged']} into {m['into']} (similarity {m['similarity']:.4f})")
    print(f"saved to {args.out}")
    return 0


SIMILARITY_SCORES = ("block_influence", "angular_distance_of_block")   # what the similarity columns show


def own_scores(plan) -> bool:
    """Whether a plan brings per-layer columns of its own (else the table shows the similarity columns)."""
    return bool(plan and ((plan.scores and plan.score_name not in SIMILARITY_SCORES)
                          or plan.details.get("layer_columns")))


def layer_rows(stats: dict | None, n: int, plan=None, total: int | None = None) -> list[dict]:
    """Per-layer rows: block influence, angular distance of the layer and of the n-block starting there (where
    ``stats``, the similarity pass, is given), the method's own score (when it has one of its own), and what
    its plan removes or merges. ``total``: the layer count, without ``stats``."""
    merged = {i for m in (plan.merges if plan else []) for i in m["merged"]}
    own = plan.scores if plan and plan.scores and plan.score_name not in SIMILARITY_SCORES else None
    rows = []
    for i in range(len(stats["cos"]) if stats else total):
        row = {"layer": i}
        if stats:
            block = stats["angular"][i][n - 1] if len(stats["angular"][i]) >= n else float("nan")
            row.update({"block_influence": 1.0 - stats["cos"][i], "angular_distance": stats["angular"][i][0],
                        f"angular_block_{n}": block})
        if own is not None:
            row[plan.score_name] = own[i] if i < len(own) else None
        for name, values in (plan.details.get("layer_columns", {}) if plan else {}).items():
            row[name] = values[i] if i < len(values) else None   # a method's parts of its score (chain)
        row["removed"] = bool(plan) and i in plan.removed
        if merged:
            row["merged"] = i in merged
        rows.append(row)
    return rows


def run_layers(args: argparse.Namespace) -> int:
    from ..prune.run import make_method
    from ..prune.scoring import similarity

    spec = spec_from_args(argparse.Namespace(**{**vars(args), "ratio": None}))
    method = make_method(spec)   # bad options fail before the model loads
    n = len(args.layers) if args.layers else args.remove
    if n is not None and n < 1:
        raise PrunescaleError(f"--remove {n} must be at least 1")
    loaded = load_model(args.model, dtype=args.dtype, device=args.device, trust_remote_code=args.trust_remote_code)
    total = num_layers(loaded.model)   # how much to remove is checked before the calibration's forward passes
    if args.layers:
        resolve_count(total, layers=args.layers)   # an index out of range, a repeated one
    elif n is not None and not 1 <= n < total:
        raise PrunescaleError(f"--remove {n} must be between 1 and {total - 1} ({args.model} has {total} layers)")
    # The similarity pass (a forward over the calibration, ~90 s of a 480 s taylor run on SmolLM2) runs only
    # for the columns that show it: asked for, or no columns of the method's own.
    shown = args.similarity or not n or not (method.score_name and method.score_name not in SIMILARITY_SCORES)

    def calibration():
        return load_calibration(spec.calibration, loaded.model, loaded.tokenizer, samples=args.calibration_samples,
                                max_seq_len=args.max_seq_len, batch_size=args.batch_size, seed=args.seed)

    calib = calibration() if shown or method.needs_calibration else None
    plan = method.plan(loaded.model, n, calib) if n else None
    if not own_scores(plan) and calib is None:   # a method that said it scores layers gave no scores
        calib = calibration()
    stats = similarity(loaded.model, calib) if calib is not None and (shown or not own_scores(plan)) else None
    rows = layer_rows(stats, n or 1, plan, total)
    picked = plan.removed if plan else []
    if args.json:
        json.dump({"model": args.model, "method": args.method, "calibration": calib.describe() if calib else None,
                   "layers": rows, "removed": picked, "merges": plan.merges if plan else []}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.model}: {len(rows)} layers, " + (f"calibration {calib.describe()['samples']} texts / "
          f"{calib.describe()['tokens']} tokens ({spec.calibration})" if calib else
          f"no calibration ({args.method} needs none; --similarity adds the similarity columns)"))
    flags = ("removed", "merged")
    print(format_table(list(rows[0]), [[r[k] if k not in flags else ("x" if r[k] else "") for k in r]
                                       for r in rows]))
    if picked:
        print(f"{args.method} would remove {picked}"
              + "".join(f"; merge {m['merged']} into {m['into']}" for m in plan.merges))
    return 0
