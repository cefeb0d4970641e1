"""A small, self-contained budget-forcing check of the organism (s1 semantics).

For each problem: generate the thinking for at most ``budget`` new tokens, stopping at ``</think>``. If the
budget runs out first, append ``</think>\\nFinal Answer:`` and generate the answer; otherwise let the model
continue after its own ``</think>``. The answer is graded by :func:`prunescale.organism.problems.grade`.
This is the organism's own sanity check; the project's evaluation engine does the same at scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .problems import grade
from .tokenizer import END_THINK, prompt_text

FORCED_SUFFIX = END_THINK + "\nFinal Answer:"


@dataclass
class Sample:
    problem_id: str
    text: str            # everything generated after the prompt (forced suffix included), special tokens kept
    thinking_tokens: int
    forced: bool
    correct: bool


def _left_pad(seqs: list[list[int]], pad_id: int):
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    att = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, n - len(s):] = torch.tensor(s)
        att[i, n - len(s):] = 1
    return ids, att


@torch.no_grad()
def _generate(model, seqs, pad_id, max_new, stop_ids, temperature, seed):
    ids, att = _left_pad(seqs, pad_id)
    kw = dict(max_new_tokens=max_new, eos_token_id=stop_ids, pad_token_id=pad_id, attention_mask=att)
    if temperature > 0:
        torch.manual_seed(seed)
        kw.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
    else:
        kw.update(do_sample=False)
    out = model.generate(ids, **kw)[:, ids.size(1):]
    res = []
    for row in out.tolist():
        cut = len(row)
        for j, t in enumerate(row):
            if t in stop_ids:
                cut = j + 1
                break
        res.append(row[:cut])
    return res


def run_budget(model, tokenizer, problems: list[dict], budget: int, *, temperature: float = 0.0,
               seed: int = 0, answer_tokens: int = 32, batch_size: int = 64) -> list[Sample]:
    """One sample per problem at thinking budget ``budget`` (greedy when ``temperature`` is 0)."""
    model.eval()
    pad = tokenizer.pad_token_id
    end_think = tokenizer.convert_tokens_to_ids(END_THINK)
    eos = tokenizer.eos_token_id
    forced_ids = tokenizer(FORCED_SUFFIX, add_special_tokens=False)["input_ids"]
    samples: list[Sample] = []
    for b in range(0, len(problems), batch_size):
        chunk = problems[b:b + batch_size]
        prompts = [tokenizer(prompt_text(tokenizer, p["prompt"]), add_special_tokens=False)["input_ids"]
                   for p in chunk]
        think = _generate(model, prompts, pad, budget, [end_think, eos], temperature, seed + b)
        cont, forced = [], []
        for pr, th in zip(prompts, think):
            f = not th or th[-1] not in (end_think, eos)
            forced.append(f)
            cont.append(pr + th + (forced_ids if f else []))
        done = [th and th[-1] == eos for th in think]
        ans = _generate(model, cont, pad, answer_tokens, [eos], temperature, seed + b + 7919)
        for p, pr, th, f, a, d in zip(chunk, prompts, think, forced, ans, done):
            gen = th + (forced_ids if f else []) + ([] if d else a)
            text = tokenizer.decode(gen, skip_special_tokens=False)
            plain = tokenizer.decode(gen, skip_special_tokens=True)
            n_think = len(th) - (0 if f else 1)
            samples.append(Sample(p["id"], text, n_think, f, grade(plain, p["answer"])))
    return samples


def accuracy(samples: list[Sample]) -> float:
    return sum(s.correct for s in samples) / max(1, len(samples))


def budget_curve(model, tokenizer, problems, budgets=(8, 16, 32, 64, 1024), **kw) -> dict[int, float]:
    """Greedy (by default) accuracy at each thinking budget."""
    return {b: accuracy(run_budget(model, tokenizer, problems, b, **kw)) for b in budgets}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def parallel(model, tokenizer, problems, budget: int = 1024, samples: int = 8, temperature: float = 1.0,
             seed: int = 0, ks=(1, 2, 4, 8)) -> dict[int, float]:
    """Mean pass@k over problems from ``samples`` samples each at ``temperature``."""
    correct = [0] * len(problems)
    for s in range(samples):
        for i, smp in enumerate(run_budget(model, tokenizer, problems, budget, temperature=temperature,
                                           seed=seed + 1000 * s)):
            correct[i] += smp.correct
    return {k: sum(pass_at_k(samples, c, k) for c in correct) / len(problems) for k in ks if k <= samples}


def load(path=None):
    """Load the organism (default: the committed weights) with the Auto classes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from . import WEIGHTS_DIR

    path = path or WEIGHTS_DIR
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    model.eval()
    return model, tok


def check_report(model_dir: str | None = None, k: int = 8, n: int = 100, budgets=(8, 16, 32, 48, 64, 1024),
                 samples: int = 8, seed: int = 1234) -> dict:
    """Greedy chain accuracy per budget, facts accuracy, and (``samples`` > 0) pass@k at T = 1."""
    from .problems import chain_problems, fact_problems

    model, tok = load(model_dir)
    chains = chain_problems(n, k, seed=seed)
    report = {
        "chain_k": k,
        "greedy_by_budget": budget_curve(model, tok, chains, list(budgets)),
        "facts_greedy": accuracy(run_budget(model, tok, fact_problems(n, seed=seed), 1024)),
    }
    if samples:
        report["pass_at_k_T1"] = parallel(model, tok, chains, samples=samples)
    return report
