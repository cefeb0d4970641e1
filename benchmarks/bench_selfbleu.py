"""Self-BLEU over every response of the shared lm-eval sample log: ours vs a loop over NLTK's sentence_bleu.

Both get the same tokens (our offline sentence and word splitting); the values must be equal (1e-9) and
ours should be at least 20x faster. NLTK's loop is quadratic in the number of sentences, so this takes a
few minutes on one core. Peak RSS above the pre-run level is sampled while each runs.
Run: .venv/bin/python benchmarks/bench_selfbleu.py
"""

import json
import resource
import sys
from pathlib import Path

from _util import peak_rss_during
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from prunescale.analysis.selfbleu import bleu_against_others, mean_in_order
from prunescale.analysis.text import clean_markers, sentence_spans, words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "s1.1-7B_aime24_lmeval_samples.jsonl"


def tokenized_responses() -> list[list[list[str]]]:
    out = []
    with DATA.open() as f:
        for line in f:
            for text in json.loads(line)["resps"][0]:
                clean = clean_markers(text)
                out.append([words(clean[a:b]) for a, b in sentence_spans(clean)])
    return out


def nltk_self_bleu(responses):
    m4 = SmoothingFunction().method4
    out = []
    for segs in responses:
        scores = [sentence_bleu(segs[:i] + segs[i + 1:], segs[i], smoothing_function=m4) for i in range(len(segs))]
        out.append(mean_in_order(scores))
    return out


def ours_self_bleu(responses):
    return [mean_in_order(bleu_against_others(segs)) for segs in responses]


def main() -> int:
    responses = tokenized_responses()
    n_sent = sum(len(r) for r in responses)
    n_tok = sum(len(s) for r in responses for s in r)
    print(f"{len(responses)} responses, {n_sent} sentences, {n_tok} tokens")
    ours, ours_mb, ours_s = peak_rss_during(ours_self_bleu, responses)
    theirs, nltk_mb, nltk_s = peak_rss_during(nltk_self_bleu, responses)
    worst = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"per-response Self-BLEU equal: max |diff| = {worst:.2e}; mean {sum(ours) / len(ours):.4f}")
    print(f"peak RSS above start: nltk {nltk_mb:.1f} MiB, ours {ours_mb:.1f} MiB; "
          f"process peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    ratio = nltk_s / ours_s
    print(f"selfbleu: nltk {nltk_s:.1f}s, ours {ours_s:.2f}s, ratio {ratio:.1f}x")
    if worst > 1e-9:
        print("FAIL: values differ", file=sys.stderr)
        return 1
    if ratio < 20:
        print("FAIL: less than 20x faster", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
