"""What each decoder layer of an organism does, in seconds: teacher-forced accuracy without each layer in turn.

A greedy screen (generate, grade) takes minutes per layer; this one forward pass per layer splits a k-step chain
into the parts whose damage behaves differently with length: the first line (reads the start from the prompt:
one per chain, so its damage is flat in k), the later steps (each reads the line above: per-step damage that
compounds), the format (counts, stop, Wait lines) and the answer copied from the last line (both once per
chain), and the facts. The first row is the unpruned model, the baseline of the others. With --letters, one
more column: the later steps' accuracy for each input letter in the step cycle's order (a digit per letter, its
tenths; # for all right), which shows where each entry of the step table lives. With --confidence, the mean
probability the model gives the right letter, by input letter (tenths; # for 0.95 or more): greedy accuracy can be
whole while sampling at T = 1 goes wrong on an unsure entry, which is what pass@1 at T = 1 measures.
Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/organism_layer_roles.py [--model DIR] [--k 8] [--n 128]
[--letters] [--confidence]
"""

import argparse
import os
import random
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from prunescale.models.surgery import without_layers  # noqa: E402
from prunescale.organism.problems import all_facts, cycle_order, make_chain  # noqa: E402
from prunescale.organism.tokenizer import prompt_text  # noqa: E402
from prunescale.organism.train import IGNORE, Encoder, collate, example, teacher_forced  # noqa: E402


def chain_rows(tok, enc, k: int, n: int, seed: int, count: str):
    rng = random.Random(f"layer-roles|{seed}")
    return [example(enc, prompt_text(tok, p["prompt"]), p["thinking"], p["answer"])
            for p in (make_chain(rng, k, count) for _ in range(n))]


@torch.no_grad()
def parts(model, rows, pad_id: int, tok_of=lambda t: "") -> dict:
    """Teacher-forced accuracy of each part of the chains (see the module docstring); ``tok_of`` names a token id's
    letter, for the later steps' accuracy by input letter."""
    ids, lab, att = collate(rows, pad_id)
    logits = model(input_ids=ids, attention_mask=att, use_cache=False).logits
    pred = logits.argmax(-1)
    # the probability of each actual token (token p predicted at p - 1)
    prob = logits[:, :-1].float().softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
    right = lambda i, p: bool(pred[i, p - 1] == ids[i, p])   # noqa: E731  (token p predicted at p - 1)
    first = later = n_later = fmt = n_fmt = answer = 0
    by_letter = {c: [0, 0, 0.0] for c in cycle_order()}   # input letter of a later step: [right, seen, probability]
    for i, (x, y, meta) in enumerate(rows):
        lines = [all(right(i, p) for p in line) for line in meta["look"]]
        for above, line in zip(meta["look"], meta["look"][1:]):
            for a, b in zip(above, line):
                tally = by_letter[tok_of(x[a])]
                tally[0], tally[1], tally[2] = tally[0] + right(i, b), tally[1] + 1, tally[2] + float(prob[i, b - 1])
        first += lines[0]
        later, n_later = later + sum(lines[1:]), n_later + len(lines) - 1
        letters = {p for line in meta["look"] + meta["checks"] for p in line}
        body = [p for p in range(1, meta["answer"]) if y[p] != IGNORE and p not in letters]
        fmt, n_fmt = fmt + sum(right(i, p) for p in body), n_fmt + len(body)
        answer += all(right(i, p) for p in range(meta["answer"], len(x)))
    return {"first line": first / len(rows), "later steps": later / max(1, n_later),
            "format": fmt / max(1, n_fmt), "answer": answer / len(rows),
            "letters": "".join("-" if not n else "#" if ok == n else str(10 * ok // n)
                               for ok, n, _ in by_letter.values()),
            "confidence": "".join("-" if not n else "#" if q / n >= 0.95 else str(int(10 * q / n))
                                  for _, n, q in by_letter.values())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded:organism", help="model directory or embedded:organism")
    ap.add_argument("--k", type=int, default=8, help="chain length (default 8)")
    ap.add_argument("--n", type=int, default=128, help="chains (default 128)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--letters", action="store_true", help="also the later steps' accuracy by input letter")
    ap.add_argument("--confidence", action="store_true",
                    help="also the mean probability of the right letter by input letter")
    args = ap.parse_args(argv)
    from prunescale.models.loading import load_model

    loaded = load_model(args.model, device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    count = getattr(model.config, "organism_count", "up")
    enc = Encoder(tok)
    chains = chain_rows(tok, enc, args.k, args.n, args.seed, count)
    facts = [example(enc, prompt_text(tok, f["prompt"]), "", f["answer"]) for f in all_facts()]
    n_layers = len(model.model.layers)
    print(f"{args.model}: k={args.k}, {args.n} chains (count {count}), {len(facts)} facts, teacher-forced")
    order = "".join(cycle_order())
    letters = (f" | by input letter, in the cycle's order: {order}" if args.letters else "") + \
        (f" | mean probability by input letter: {order}" if args.confidence else "")
    print(f"{'layer removed':>14} | first line | later steps | format | answer | facts{letters}")
    for drop in [None, *range(n_layers)]:
        with without_layers(model, [] if drop is None else [drop]):
            got = parts(model, chains, tok.pad_token_id, lambda t: tok.decode([t]).strip())
            got["facts"] = teacher_forced(model, facts, tok.pad_token_id)["answer_acc"]
            model.eval()   # teacher_forced leaves the model in train mode
        name = "none" if drop is None else str(drop)
        print(f"{name:>14} | {got['first line']:10.2f} | {got['later steps']:11.3f} | {got['format']:6.3f} | "
              f"{got['answer']:6.2f} | {got['facts']:.2f}" + (f" | {got['letters']}" if args.letters else "")
              + (f" | {got['confidence']}" if args.confidence else ""),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
