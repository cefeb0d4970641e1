"""Greedy screen of an organism without each layer (and, with --pairs, each pair): what a user of `prunescale eval`
would measure, in minutes instead of a study's hour.

Rows: the unpruned model, then each layer removed (and each pair at --pair-k with --pairs). Columns: greedy chain
accuracy at full budget for each k (seeded problems, `organism-chain:k=K,seed=S`'s), why the wrong ones failed
(early / late / answer / step, summed over k), and all facts. `without_layers` drops layers in place, no copy.
Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/organism_screen.py [--model DIR] [--n 50] [--seed 11] [--pairs]
[--sets '14,15 3,9']
"""

import argparse
import itertools
import os
import sys
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from prunescale.models.surgery import without_layers  # noqa: E402
from prunescale.organism.check import accuracy, run_budget  # noqa: E402
from prunescale.organism.problems import all_facts, chain_failure, chain_problems  # noqa: E402


def screen(model, tok, drop, chains: dict, facts: list, batch: int) -> tuple[dict, Counter, float]:
    """Chain accuracy per k, failure reasons, fact accuracy, with layers ``drop`` removed."""
    acc, why = {}, Counter()
    with without_layers(model, drop):
        for k, probs in chains.items():
            got = run_budget(model, tok, probs, 1024, batch_size=batch)
            acc[k] = accuracy(got)
            why.update(chain_failure(s.text, k) for s in got if not s.correct)
        fact = accuracy(run_budget(model, tok, facts, 64, batch_size=batch)) if facts else float("nan")
    return acc, why, fact


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded:organism", help="model directory or embedded:organism")
    ap.add_argument("--ks", default="2,4,8,16", help="chain lengths, comma-separated (default 2,4,8,16)")
    ap.add_argument("--n", type=int, default=50, help="problems per k (default 50)")
    ap.add_argument("--seed", type=int, default=11, help="problem seed (default 11)")
    ap.add_argument("--pairs", action="store_true", help="also every pair of layers, at --pair-k only")
    ap.add_argument("--pair-k", type=int, default=8, help="chain length of the pair scan (default 8)")
    ap.add_argument("--sets", default="", help="more rows: layer sets removed together, e.g. '14,15 3,9' (at every k)")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args(argv)
    from prunescale.models.loading import load_model

    ks = [int(k) for k in args.ks.split(",")]
    loaded = load_model(args.model, device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    model.eval()
    chains = {k: chain_problems(args.n, k, args.seed) for k in ks}   # `organism-chain:k=K,seed=S`'s problems
    facts = all_facts()
    n_layers = len(model.model.layers)
    print(f"{args.model}: greedy, {args.n} chains per k (seed {args.seed}), {len(facts)} facts")
    head = " / ".join(f"k{k}" for k in ks)
    print(f"{'removed':>8} | {head} | why wrong | facts")
    parts = [part.split(",") for part in args.sets.split()]
    if not all(i.isdigit() and int(i) < n_layers for part in parts for i in part):
        ap.error(f"--sets {args.sets!r}: layers are 0..{n_layers - 1}, comma-separated, sets space-separated")
    sets = [tuple(sorted({int(i) for i in part})) for part in parts]
    for drop in [(), *((i,) for i in range(n_layers)), *sets]:
        acc, why, fact = screen(model, tok, drop, chains, facts, args.batch)
        _row(drop, ks, acc, why, fact)
    if args.pairs:
        pk = {args.pair_k: chains.get(args.pair_k) or chain_problems(args.n, args.pair_k, args.seed)}
        print(f"pairs, k={args.pair_k} only")
        for drop in itertools.combinations(range(n_layers), 2):
            acc, why, _ = screen(model, tok, drop, pk, [], args.batch)
            _row(drop, [args.pair_k], acc, why, None)
    return 0


def _row(drop, ks, acc, why, fact) -> None:
    name = ",".join(map(str, drop)) or "none"
    cells = " / ".join(f"{acc[k]:.2f}" for k in ks)
    reasons = " ".join(f"{r}:{c}" for r, c in sorted(why.items())) or "-"
    tail = "" if fact is None else f" | {fact:.2f}"
    print(f"{name:>8} | {cells} | {reasons}{tail}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
