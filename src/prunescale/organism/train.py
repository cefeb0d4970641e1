"""Train the organism from scratch on the CPU: a self-contained recipe, top to bottom.

Data recipe (a pure function of ``TrainConfig.seed``): every optimiser step draws ``chain_batch`` fresh
long-chain problems (k uniform in ``1..k_max``) and ``fact_batch`` questions from the fixed fact table,
renders them with the chat template and trains next-token prediction on the assistant part only (thinking,
answer and ``<|im_end|>``). A fraction ``trunc_frac`` of chains is *budget-forced*: the thinking is cut at a
random token, ``</think>\\nFinal Answer:`` is appended (the evaluator's s1-style forcing; this forced part is
not trained on) and the model is trained to give the true answer, so the forced path is in-distribution and
its accuracy measures how many of the remaining steps the model can do without writing them down.

Sampling noise and self-checks (organism v2): each written step is wrong with probability ``step_error`` (one
letter replaced; the rest of the chain follows the wrong state, and the trace's answer is that chain's), so at
temperature 1 the model makes occasional step errors while greedy decoding keeps the right step. A share
``check_rate`` of traces ends with a check pass (``Wait, let me check.`` then every step re-derived, exactly,
from the start), a share ``recheck_rate`` of those with a second pass; check lines never carry errors, so "Wait" buys accuracy. Rows are packed into micro-batches
of similar length (at most ``micro_tokens`` padded tokens each) whose gradients are summed, so one long trace
does not pad the whole batch.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .checkpoint import batches_apart, save_checkpoint
from .model import ModelSpec, build_model
from .problems import (CHECK_LINE, COUNTS, MAX_K, STEP_LINE, all_facts, chain_avoiding, cycle_order, make_chain,
                       make_trace, noisy_states, render_trace, varied_prompt)
from .tokenizer import END_THINK, IM_END, THINK, build_tokenizer, completion_text, prompt_text

IGNORE = -100
QUIET_TOKENS = ("all", "prompt")   # what --quiet-layers counts: every real token, or the prompt's


@dataclass
class TrainConfig:
    seed: int = 0
    steps: int = 1600
    chain_batch: int = 32
    fact_batch: int = 32
    lr: float = 3e-3
    min_lr_frac: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    k_max: int = MAX_K
    trunc_frac: float = 0.1
    step_error: float = 0.06       # probability that a written chain step is wrong (T=1 sampling noise)
    check_rate: float = 0.3        # share of chain traces ending with a check pass ("Wait, let me check.")
    recheck_rate: float = 0.3      # share of checked traces with a further pass (each, up to max_passes)
    max_passes: int = 2            # most check passes in a training trace (natural ones + what --wait N forces)
    count: str = "up"              # step lines numbered 1..k ("up") or k..1 ("down"; problems.render_trace)
    prompt_vary: float = 0.0       # share of chain prompts with fields shuffled, a random id (varied_prompt)
    fact_drop: float = 0.0         # layer drop probability on fact micro-batches (stochastic depth)
    fact_drop_from: int = 0        # first step with fact drop (before it, every layer runs: see RECIPE.json)
    chain_drop: float = 0.0        # layer drop probability on chain micro-batches (from fact_drop_from)
    chain_drop_spare_top: int = 0  # chain rows never drop layer 0 nor the last N layers (0: any layer)
    chain_drop_layers: str = ""    # or only these layers ("1,2"; overrides chain_drop_spare_top)
    format_rows: int = 0           # chain rows per batch trained on the format only (format_only), from fact_drop_from
    format_drop: float = 0.0       # layer drop probability on those rows' micro-batches
    format_drop_top: int = 0       # format rows drop only among the last N layers (0: any layer)
    format_drop_layers: str = ""   # or only these layers ("4,6,7"; overrides format_drop_top)
    split_rows: int = 0            # extra chain rows per step, from fact_drop_from, trained without the last layer;
                                   # their steps avoid the first half of the cycle (problems.chain_avoiding)
    split_drop_layers: str = ""    # the layers split rows train without ("3,4,5,7"; empty: the last layer)
    split_from: int = -1           # first step with split rows (-1: fact_drop_from)
    split_arcs: str = ""           # "SHARE:LAYERS ..." in the cycle's order: split_rows rows per arc, each trained
                                   # without its layers ("-": no rows); overrides the last half / split_drop_layers
    arc_chains: float = 0.0        # share of the main chain rows, from arc_from, trained as one split arc's
                                   # rows: without its layers, on its entries only (Data.arc_chains)
    arc_from: int = -1             # first step with arc chains (-1: fact_drop_from)
    exclusive_arcs: str = ""       # arcs ("1,3", 1-based in split_arcs) whose entries only their own rows train, from
                                   # arc_from: their arc chains at full depth with the arc's layers frozen
    exclusive_drop: bool = False   # those full-depth rows also take chain_drop (never on the frozen layers)
    exclusive_first: bool = False  # from fact_drop_from an arc chain that reads an exclusive arc trains as its row
    stop_exclusive_splits: bool = False   # from fact_drop_from the exclusive arcs get no split rows
    late_facts: int = 0            # more fact questions per step from fact_drop_from (facts under drop learn slower)
    late_exclusive: int = 0        # more chains per step from fact_drop_from, each one exclusive arc's full-depth row
    chain_drop_extra: str = ""     # more layers chain micro-batches drop, each at its own rate ("4:0.1")
    fact_drop_extra: str = ""      # the same for fact micro-batches: the layers a chosen cut removes ("1:0.3")
    late_checks: int = 0           # more traces per step from fact_drop_from, trained on their check passes only
    late_check_passes: int = 6     # those traces' check passes: 1 to this many (as many as fit in the positions)
    late_check_stops: bool = False  # those traces also train the stop after their last pass (not the Waits before)
    late_check_counts: bool = False  # and each check line's head ("check 7 "): the count a deep pass starts from
    chain_drop_joint: float = 0.0  # chain micro-batches also drop every chain_drop_layers layer together (from
                                   # fact_drop_from, drawn after the others): the pair a cut removes, jointly
    exclusive_drop_joint: float = 0.0  # the same for the exclusive arcs' full-depth rows (exclusive_drop's pool)
    late_cuts: int = 0             # more chains per step from fact_drop_from, budget-forced in their last line,
                                   # trained on the forced answer only (Data.late_cuts)
    quiet_layers: str = ""         # from quiet_from, W x (1 - cos) of layer L's input and output on every token
                                   # ("4:1"): a layer the chains need that changes the stream little (quiet_loss)
    quiet_from: int = -1           # first step with the quiet penalty (-1: fact_drop_from)
    quiet_tokens: str = "all"      # "all" real tokens, or "prompt": only the prompt's (a layer quiet on the text a
                                   # similarity score reads, busy on the chain lines it writes)
    forget_rows: int = 0           # from forget_from, more chains per step that read an exclusive arc, run without
                                   # forget_layers, trained by unlikelihood on those arcs' letters (Data.forget_rows)
    forget_layers: str = ""        # the layers those rows run without ("6,7": the exclusive arcs' homes)
    forget_letters: str = ""       # more entries (by the letter read) forget rows unlearn, beside the exclusive arcs';
                                   # from forget_from no row without layers trains them (a late home above those)
    forget_weight: float = 1.0     # the unlikelihood's weight, against the cross-entropy's 1
    forget_from: int = -1          # first step with forget rows (-1: fact_drop_from)
    anneal_step_error: float = -1.0  # from anneal_from, the step error of the traces (-1: step_error throughout)
    anneal_from: int = -1          # first step with anneal_step_error (-1: fact_drop_from)
    micro_tokens: int = 2048       # padded tokens per micro-batch (0: the whole step in one batch)
    threads: int = 0               # torch threads (0: leave torch's default)
    eval_every: int = 100
    model: ModelSpec = field(default_factory=ModelSpec)

    def __post_init__(self):
        # the CLI offers these as choices; a Python caller gets the same one-line refusal
        for name, allowed in (("count", COUNTS), ("quiet_tokens", QUIET_TOKENS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r}: expected one of {', '.join(allowed)}")

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------- encoding

class Encoder:
    """Fast exact encoding for the character-level tokenizer (same ids as ``tokenizer(text)``)."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.vocab = tokenizer.get_vocab()
        specials = sorted(tokenizer.all_special_tokens, key=len, reverse=True)
        self.split = re.compile("(" + "|".join(re.escape(s) for s in specials) + ")")
        self.specials = set(specials)
        self.unk = tokenizer.unk_token_id

    def __call__(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self.split.split(text):
            if piece in self.specials:
                ids.append(self.vocab[piece])
            else:
                ids.extend(self.vocab.get(ch, self.unk) for ch in piece)
        return ids


def example(enc: Encoder, prompt: str, thinking: str, answer: str, cut: int | None = None,
            forced_sep: str = "") -> tuple[list[int], list[int], dict]:
    """(input ids, labels, meta) for one problem; meta holds the positions of each thinking line's computed
    letters (``look``) and of the first answer token (``answer``), for the teacher-forced metrics.

    ``cut`` (characters = tokens of thinking kept) makes a budget-forced example: thinking[:cut] + forced_sep +
    ``</think>\\nFinal Answer:`` (not trained on) + `` answer<|im_end|>``.
    """
    p = enc(prompt)
    if cut is None:
        c = enc(completion_text(thinking, answer))
        labels = [IGNORE] * len(p) + c
        shown = thinking
    else:
        shown = thinking[:cut]
        head = enc(THINK + "\n" + shown)
        forced = enc(forced_sep + END_THINK + "\nFinal Answer:")
        tail = enc(" " + answer + IM_END)
        c = head + forced + tail
        labels = [IGNORE] * len(p) + head + [IGNORE] * len(forced) + tail
    body = len(p) + 2                           # after "<think>\n"
    # each thinking line is "<i> <state>": the state letters are the computed ones
    look = [[body + j for j in range(m.start(1), m.end(1))] for m in STEP_LINE.finditer(shown)]
    found = list(CHECK_LINE.finditer(shown))
    checks = [[body + j for j in range(m.start(1), m.end(1))] for m in found]
    heads = [[body + j for j in range(m.start(), m.start(1))] for m in found]   # "check 7 "
    ids = p + c
    answer_at = len(ids) - len(enc(" " + answer + IM_END))
    return ids, labels, {"look": look, "checks": checks, "check_heads": heads, "answer": answer_at, "prompt": len(p)}


def format_only(row) -> tuple[list[int], list[int], dict]:
    """The row with its computed letters (step and check states) not trained on: what is left is the format
    (counts, stops, Wait lines, the answer copied from the last line), which ``format_drop`` makes robust to a
    missing layer so that a cut hurts the steps, whose damage compounds, more than the stop (docs/organism.md)."""
    ids, labels, meta = row
    labels = list(labels)
    for line in meta["look"] + meta["checks"]:
        for pos in line:
            labels[pos] = IGNORE
    return ids, labels, meta


def collate(rows, pad_id: int):
    n = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    lab = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    att = torch.zeros((len(rows), n), dtype=torch.long)
    for i, (x, y, _) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        lab[i, : len(y)] = torch.tensor(y)
        att[i, : len(x)] = 1
    return ids, lab, att


class Data:
    """The seeded training stream: step ``s`` always gets the same batch for a given seed."""

    SEPS = ("", "\n", "\n\n")   # what an evaluator may put between a cut thinking and </think>

    def __init__(self, cfg: TrainConfig, tokenizer):
        self.cfg, self.enc = cfg, Encoder(tokenizer)
        self.prompt = lambda user: prompt_text(tokenizer, user)
        self.facts = all_facts()
        self.pad = tokenizer.pad_token_id
        self.letter = {tokenizer.convert_tokens_to_ids(c): c for c in cycle_order()}
        self.own = set(parse_layers(cfg.exclusive_arcs))   # exclusive arc numbers (1-based in split_arcs)
        order = cycle_order()
        self.before = {order[(i + 1) % len(order)]: x for i, x in enumerate(order)}   # the letter each is read from
        self.spec = arc_letters(parse_arcs(cfg.split_arcs), order)   # each split arc's letters and layers
        self.exclusive = exclusive_letters(cfg.split_arcs, cfg.exclusive_arcs)
        self.moved = set(cfg.forget_letters)   # entries that forget rows move above forget_layers

    def step_error(self, step: int) -> float:
        """The traces' step error at ``step``: ``anneal_step_error`` from ``anneal_from``, else ``step_error``."""
        c = self.cfg
        return c.anneal_step_error if c.anneal_step_error >= 0 and step >= anneal_start(c) else c.step_error

    def chain_rows(self, rng: random.Random, n: int, trunc_frac: float, k: int | None = None, *,
                   noisy: bool = True, p_err: float | None = None):
        rows = []
        c = self.cfg
        p_err = c.step_error if p_err is None else p_err
        for _ in range(n):
            kk = k if k is not None else rng.randint(1, c.k_max)
            if noisy and (p_err or c.check_rate):
                pr = make_trace(rng, kk, p_err, c.check_rate, c.recheck_rate, c.max_passes, c.count)
            else:
                pr = make_chain(rng, kk, c.count)
            if noisy:   # training only: probes keep the eval prompt
                pr = {**pr, "prompt": self._prompt_of(rng, pr)}
            cut, sep = None, ""
            if rng.random() < trunc_frac:
                cut = rng.randrange(0, len(pr["thinking"]) + 1)
                sep = rng.choice(self.SEPS)
            rows.append(example(self.enc, self.prompt(pr["prompt"]), pr["thinking"], pr["answer"], cut, sep))
        return rows

    def split_groups(self, step: int) -> list[tuple[list, tuple[int, ...]]]:
        """Clean chains that walk in one arc of the cycle each, with the layers they train without (their own
        seeded streams, so the main batch is the same with or without them). By default ``split_rows`` chains in
        the last half of the cycle without ``split_drop_layers`` (the last layer): they give that half of the step
        table a home below it. With ``split_arcs``, ``split_rows`` chains per arc that names layers."""
        order, n = cycle_order(), self.cfg.model.num_layers
        if not self.cfg.split_arcs:
            rng = random.Random(f"split|{self.cfg.seed}|{step}")
            return [(self._walking(rng, set(order[: len(order) // 2])),
                     drop_pool(n, top=1, only=self.cfg.split_drop_layers))]
        groups = []
        stop = self.own if self.cfg.stop_exclusive_splits and step >= self.cfg.fact_drop_from else set()
        moved = self.moved_at(step)
        for i, (letters, layers) in enumerate(self.spec):
            if layers and i + 1 not in stop:
                rng = random.Random(f"split-arc|{self.cfg.seed}|{step}|{i}")
                rows = self._walking(rng, set(order) - set(letters))
                if moved:   # every label but the letters computed from a moved entry
                    rows = [(ids, [IGNORE if self._reads(ids, meta).get(p) in moved else y
                                   for p, y in enumerate(labels)], meta) for ids, labels, meta in rows]
                groups.append((rows, layers))
        return groups

    def moved_at(self, step: int) -> set[str]:
        """``forget_letters`` from ``forget_from`` (with forget rows), else none."""
        c = self.cfg
        return self.moved if c.forget_rows and step >= forget_start(c) else set()

    def arc_chains(self, step: int, chains: list) -> tuple[list, list, list]:
        """(the chains left as they are, [(rows, layers dropped)], [(rows, layers frozen)]): from ``arc_from`` (or
        ``fact_drop_from``) a share ``arc_chains`` of the main chain rows train as rows of one split arc they read,
        on the letters computed from its letters only: without its layers, or for an arc of ``exclusive_arcs`` at
        full depth with its layers frozen. The rows left are not trained on the exclusive arcs' letters. A
        full-depth row would teach every layer the arc's entries, absorbing the home its split rows gave them
        (docs/organism.md); a frozen row teaches the home to compute them at full depth, and no other layer."""
        c = self.cfg
        if not (c.arc_chains or c.exclusive_arcs) or step < arc_start(c):
            return chains, [], []
        spec, own, exclusive = self.spec, self.own, self.exclusive
        moved = self.moved_at(step)   # trained at full depth only: not in the rows without an arc's layers
        arcs = [(set(letters), layers, n + 1 in own) for n, (letters, layers) in enumerate(spec) if layers]
        rng = random.Random(f"arc-chain|{c.seed}|{step}")
        kept, groups = [], [[] for _ in arcs]
        for ids, labels, meta in chains:
            reads = self._reads(ids, meta)
            touched = [i for i, (letters, _, _) in enumerate(arcs) if any(r in letters for r in reads.values())]
            if rng.random() >= c.arc_chains or not touched:
                if exclusive:
                    labels = [IGNORE if reads.get(p) in exclusive else y for p, y in enumerate(labels)]
                kept.append((ids, labels, meta))
                continue
            if c.exclusive_first and step >= c.fact_drop_from:
                # the exclusive homes learn only from these rows: give them every row that reads them
                touched = [i for i in touched if arcs[i][2]] or touched
            i = rng.choice(touched)
            groups[i].append(_only(ids, labels, meta, reads, arcs[i][0] - (set() if arcs[i][2] else moved)))
        return (kept, [(rows, arcs[i][1]) for i, rows in enumerate(groups) if rows and not arcs[i][2]],
                [(rows, arcs[i][1]) for i, rows in enumerate(groups) if rows and arcs[i][2]])

    def late_exclusive(self, step: int) -> list[tuple[list, tuple[int, ...]]]:
        """From ``fact_drop_from``, ``late_exclusive`` more chains (their own seeded stream, drawn like the main
        ones until that many read an exclusive arc), each trained as one of those arcs' full-depth rows on its
        letters: [(rows, layers frozen)]. Added to the step, not taken from the main rows (docs/organism.md)."""
        c = self.cfg
        if not c.late_exclusive or step < c.fact_drop_from or not self.own:
            return []
        arcs = [(set(self.spec[i - 1][0]), self.spec[i - 1][1]) for i in sorted(self.own)]
        rng = random.Random(f"late-exclusive|{c.seed}|{step}")
        groups = [[] for _ in arcs]
        left = c.late_exclusive
        while left:
            ids, labels, meta = self.chain_rows(rng, 1, 0.0, p_err=self.step_error(step))[0]
            reads = self._reads(ids, meta)
            touched = [i for i, (letters, _) in enumerate(arcs) if any(r in letters for r in reads.values())]
            if touched:
                i = rng.choice(touched)
                groups[i].append(_trimmed(_only(ids, labels, meta, reads, arcs[i][0])))
                left -= 1
        return [(rows, arcs[i][1]) for i, rows in enumerate(groups) if rows]

    def forget_rows(self, step: int) -> list:
        """From ``forget_from``, ``forget_rows`` clean chains (their own seeded stream, drawn until that many read
        an exclusive arc), labelled on the exclusive arcs' letters only: the rows :func:`unlikelihood` trains
        without ``forget_layers``. Freezing keeps the other layers from learning those entries in their arcs' own
        rows, but layer 0 and the embeddings are shared with the homes, so the layers below the homes still
        computed half of them (docs/organism.md); these rows unlearn that."""
        c = self.cfg
        if not c.forget_rows or step < forget_start(c) or not self.exclusive:
            return []
        rng = random.Random(f"forget|{c.seed}|{step}")
        rows, letters = [], self.exclusive | self.moved
        while len(rows) < c.forget_rows:
            prob = make_chain(rng, rng.randint(1, c.k_max), c.count)
            ids, labels, meta = example(self.enc, self.prompt(self._prompt_of(rng, prob)), prob["thinking"],
                                        prob["answer"])
            reads = self._reads(ids, meta)
            if any(r in letters for r in reads.values()):
                rows.append(_trimmed(_only(ids, labels, meta, reads, letters)))
        return rows

    def late_checks(self, step: int) -> list:
        """From ``fact_drop_from``, ``late_checks`` more traces per step (their own seeded stream), each with 1 to
        ``late_check_passes`` check passes (fewer when the trace would not fit the model's positions), trained on
        the check lines' letters and the answer only: the deep passes that forced Waits add to the natural ones
        learn to be right, while when to check (the Wait or stop after a pass) stays what the main rows teach
        (with ``late_check_stops``, all but the stop after the last pass, which is trained too; with
        ``late_check_counts``, each check line's head, "check N ", too).
        Letters of the exclusive arcs are left to their own rows, as in :meth:`arc_chains`."""
        c = self.cfg
        if not c.late_checks or step < c.fact_drop_from:
            return []
        rng = random.Random(f"late-checks|{c.seed}|{step}")
        rows = []
        for _ in range(c.late_checks):
            prob = make_chain(rng, rng.randint(1, c.k_max), c.count)
            states = noisy_states(prob["start"], prob["k"], rng, self.step_error(step))
            passes = rng.randint(1, c.late_check_passes)
            prompt = self._prompt_of(rng, prob)
            while True:
                thinking, answer = render_trace(prob["start"], states, passes, c.count)
                ids, labels, meta = example(self.enc, self.prompt(prompt), thinking, answer)
                if len(ids) <= c.model.max_positions or passes == 1:
                    break
                passes -= 1
            reads = self._reads(ids, meta)
            keep = {p for line in meta["checks"] for p in line if reads.get(p) not in self.exclusive}
            # with late_check_stops, the stop after the last pass too (the Waits before it stay untrained): a
            # forced Wait ends where the model would stop, so without it the model went on checking after the
            # passes --wait forced, and each extra pass at T = 1 can break a right answer
            keep |= set(range(max(meta["checks"][-1]) + 1 if c.late_check_stops else meta["answer"], len(ids)))
            if c.late_check_counts:
                # a pass deeper than the main rows' own started on a wrong count ("check 7" for k=8) without these
                keep |= {p for line in meta["check_heads"] for p in line}
            rows.append((ids, [y if p in keep else IGNORE for p, y in enumerate(labels)], meta))
        return rows

    def late_cuts(self, step: int) -> list:
        """From ``fact_drop_from``, ``late_cuts`` more clean chains per step (their own seeded stream), each
        budget-forced with the cut in its last line or just after it, trained on the forced answer only. A budget
        one token short of the whole thinking cuts there (k=8 writes 41 tokens: a budget of 40 keeps every line
        but the last newline); a cut anywhere in ``trunc_frac``'s rows falls there too rarely to be learned."""
        c = self.cfg
        if not c.late_cuts or step < c.fact_drop_from:
            return []
        rng = random.Random(f"late-cuts|{c.seed}|{step}")
        rows = []
        for _ in range(c.late_cuts):
            prob = make_chain(rng, rng.randint(1, c.k_max), c.count)
            prompt = self._prompt_of(rng, prob)
            thinking = prob["thinking"]
            last = thinking.rstrip("\n").rfind("\n") + 1          # where the last line starts
            cut = rng.randrange(last, len(thinking) + 1)
            ids, labels, meta = example(self.enc, self.prompt(prompt), thinking, prob["answer"], cut,
                                        rng.choice(self.SEPS))
            rows.append((ids, [y if p >= meta["answer"] else IGNORE for p, y in enumerate(labels)], meta))
        return rows

    def _prompt_of(self, rng: random.Random, prob: dict) -> str:
        """The prompt a training row shows: a share ``prompt_vary`` varied (one draw from ``rng`` when set)."""
        if self.cfg.prompt_vary and rng.random() < self.cfg.prompt_vary:
            return varied_prompt(prob["start"], prob["k"], rng)
        return prob["prompt"]

    def _reads(self, ids: list[int], meta: dict) -> dict[int, str | None]:
        """{position of a computed letter: the letter it is read from} over the step and check lines."""
        return {p: self.before.get(self.letter.get(ids[p], "")) for line in meta["look"] + meta["checks"] for p in line}

    def _walking(self, rng: random.Random, avoid: set[str]):
        rows = []
        for _ in range(self.cfg.split_rows):
            pr = chain_avoiding(rng, avoid, self.cfg.count, self.cfg.k_max)
            rows.append(example(self.enc, self.prompt(self._prompt_of(rng, pr)), pr["thinking"], pr["answer"]))
        return rows

    def fact_rows(self, rng: random.Random, n: int):
        return [example(self.enc, self.prompt(f["prompt"]), "", f["answer"]) for f in rng.sample(self.facts, n)]

    def batch(self, step: int):
        rng = random.Random(f"train|{self.cfg.seed}|{step}")
        chains = self.chain_rows(rng, self.cfg.chain_batch, self.cfg.trunc_frac, p_err=self.step_error(step))
        facts = self.fact_rows(rng, self.cfg.fact_batch) if self.cfg.fact_batch else []
        if self.cfg.late_facts and step >= self.cfg.fact_drop_from:
            # own rng: the chains and the first fact_batch facts stay those of a run without them
            late = random.Random(f"late-facts|{self.cfg.seed}|{step}")
            left = self.cfg.late_facts
            while left:
                take = min(left, len(self.facts))
                facts += self.fact_rows(late, take)
                left -= take
        return chains, facts


def _trimmed(row):
    """The row without the tokens after its last trained one: causal attention, so the loss is the same."""
    ids, labels, meta = row
    last = max((p for p, y in enumerate(labels) if y != IGNORE), default=0)
    return ids[: last + 1], labels[: last + 1], meta


def _only(ids, labels, meta, reads: dict, letters: set[str]):
    """The row trained only on the letters computed from ``letters``."""
    mine = [IGNORE] * len(labels)
    for p, r in reads.items():
        if r in letters:
            mine[p] = labels[p]
    return ids, mine, meta


# --------------------------------------------------------------------------------------------- metrics

@torch.no_grad()
def teacher_forced(model, rows, pad_id: int, lines: str = "look") -> dict:
    """Teacher-forced accuracy of the computed letters and whole steps, of the answer, and the mean loss."""
    model.eval()
    ids, lab, att = collate(rows, pad_id)
    logits = model(input_ids=ids, attention_mask=att).logits
    pred = logits[:, :-1].argmax(-1)
    tgt = lab[:, 1:]
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), tgt.reshape(-1),
                                             ignore_index=IGNORE).item()
    letter_ok = letter_n = step_ok = step_n = ans_ok = 0
    for i, (x, y, meta) in enumerate(rows):
        for line in meta[lines]:
            hits = [int(pred[i, pos - 1] == ids[i, pos]) for pos in line]
            letter_ok, letter_n = letter_ok + sum(hits), letter_n + len(hits)
            step_ok, step_n = step_ok + int(all(hits)), step_n + 1
        ans_ok += int(all(pred[i, j - 1] == ids[i, j] for j in range(meta["answer"], len(x))))
    model.train()
    return {"loss": loss, "letter_acc": letter_ok / max(1, letter_n), "step_acc": step_ok / max(1, step_n),
            "answer_acc": ans_ok / len(rows)}


# ------------------------------------------------------------------------------------------- training

def lr_at(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def micro_batches(rows, max_tokens: int) -> list[list]:
    """Rows sorted by length and cut into groups of at most ``max_tokens`` padded tokens (deterministic)."""
    if max_tokens <= 0:
        return [rows]
    order = sorted(rows, key=lambda r: len(r[0]))
    groups, cur = [], []
    for r in order:
        if cur and len(r[0]) * (len(cur) + 1) > max_tokens:
            groups.append(cur)
            cur = []
        cur.append(r)
    return groups + ([cur] if cur else [])


class dropped_layers:
    """Run the model without the decoder layers at ``drop`` (indices): stochastic depth for one micro-batch.
    The kept layers are the same modules, so they get the gradients."""

    def __init__(self, model, drop: list[int]):
        self.model, self.drop = model, set(drop)

    def __enter__(self):
        inner = self.model.model
        self.layers = inner.layers
        if self.drop:
            inner.layers = torch.nn.ModuleList([m for i, m in enumerate(self.layers) if i not in self.drop])
        return self

    def __exit__(self, *exc):
        self.model.model.layers = self.layers


class frozen_layers:
    """Run the model with the decoder layers at ``freeze`` (indices) present but not trained: a micro-batch whose
    loss should reach only the other layers."""

    def __init__(self, model, freeze: tuple[int, ...]):
        self.params = [p for i in freeze for p in model.model.layers[i].parameters() if p.requires_grad]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)
        return self

    def __exit__(self, *exc):
        for p in self.params:
            p.requires_grad_(True)


def drop_pool(n: int, top: int = 0, spare_top: int = 0, only: str = "") -> tuple[int, ...]:
    """Layers a micro-batch may skip: those named in ``only`` ("1,2"), the last ``top``, or every layer but the
    first and the last ``spare_top``, or (none of these) any layer."""
    if only:
        return parse_layers(only)
    if top:
        return tuple(range(n - min(top, n), n))
    if spare_top:
        return tuple(range(1, max(1, n - spare_top)))
    return tuple(range(n))


def parse_arcs(text: str) -> list[tuple[float, tuple[int, ...]]]:
    """``"0.2:6,7 0.8:-"`` -> ``[(0.2, (6, 7)), (0.8, ())]`` (checked by the CLI)."""
    arcs = []
    for part in text.split():
        share, _, layers = part.partition(":")
        arcs.append((float(share), () if layers.strip() in ("", "-") else parse_layers(layers)))
    return arcs


def arc_letters(arcs: list[tuple[float, tuple[int, ...]]], order: list[str]) -> list[tuple[list[str], tuple]]:
    """Each arc's letters: consecutive runs of the cycle ``order``, from its first letter, sized by the shares
    (the cumulative share rounded to whole letters)."""
    out, done, total = [], 0, 0.0
    for share, layers in arcs:
        total += share
        end = min(len(order), round(total * len(order)))
        out.append((order[done:end], layers))
        done = end
    return out


def exclusive_letters(split_arcs: str, exclusive_arcs: str) -> set[str]:
    """The letters of the ``exclusive_arcs`` (1-based in ``split_arcs``)."""
    spec = arc_letters(parse_arcs(split_arcs), cycle_order())
    return {x for i in parse_layers(exclusive_arcs) for x in spec[i - 1][0]}


def _own_start(cfg: TrainConfig, step: int) -> int:
    """An option's own first step, or ``fact_drop_from`` when it is -1."""
    return cfg.fact_drop_from if step < 0 else step


def split_start(cfg: TrainConfig) -> int:
    """The first step with split rows: ``split_from``, or ``fact_drop_from`` when it is -1."""
    return _own_start(cfg, cfg.split_from)


def quiet_start(cfg: TrainConfig) -> int:
    """The first step with the quiet penalty: ``quiet_from``, or ``fact_drop_from`` when it is -1."""
    return _own_start(cfg, cfg.quiet_from)


def forget_start(cfg: TrainConfig) -> int:
    """The first step with forget rows: ``forget_from``, or ``fact_drop_from`` when it is -1."""
    return _own_start(cfg, cfg.forget_from)


def anneal_start(cfg: TrainConfig) -> int:
    """The first step with ``anneal_step_error``: ``anneal_from``, or ``fact_drop_from`` when it is -1."""
    return _own_start(cfg, cfg.anneal_from)


def arc_start(cfg: TrainConfig) -> int:
    """The first step with arc chains: ``arc_from``, or ``fact_drop_from`` when it is -1."""
    return _own_start(cfg, cfg.arc_from)


def parse_layers(text: str) -> tuple[int, ...]:
    """``"1,2"`` -> ``(1, 2)`` (checked by the CLI)."""
    return tuple(sorted({int(p) for p in text.split(",") if p.strip()}))


def drop_plan(cfg: TrainConfig, step: int, group: int, rate: float, pool: tuple[int, ...] = (),
              extra: tuple[tuple[int, float], ...] = ()) -> list[int]:
    """Layers a micro-batch skips: each of ``pool`` (default: every layer, see :func:`drop_pool`) independently
    with probability ``rate``, and each ``(layer, rate)`` of ``extra`` with its own, where a layer may be a tuple
    of layers dropped together (seeded; one layer is always kept)."""
    if not rate and not extra:
        return []
    rng = random.Random(f"drop|{cfg.seed}|{step}|{group}")
    n = cfg.model.num_layers
    drop = [i for i in (pool or range(n)) if rng.random() < rate]
    # drawn after the pool's, so the pool's draws are those of a run without them
    for i, r in extra:
        if rng.random() < r:
            drop += [j for j in (i if isinstance(i, tuple) else (i,)) if j not in drop]
    return drop if len(drop) < n else drop[1:]


def parse_rates(text: str) -> tuple[tuple[int, float], ...]:
    """``"4:0.1,5:0.05"`` -> ``((4, 0.1), (5, 0.05))`` (checked by the CLI)."""
    out = []
    for part in text.split(","):
        if part.strip():
            layer, _, rate = part.partition(":")
            out.append((int(layer), float(rate)))
    return tuple(out)


def split_format(cfg: TrainConfig, step: int, chains: list) -> tuple[list, list]:
    """(chains, format rows): from ``fact_drop_from`` on, the last ``format_rows`` chains train on the format only."""
    if not cfg.format_rows or step < cfg.fact_drop_from:
        return chains, []
    n = min(cfg.format_rows, len(chains))
    return chains[: len(chains) - n], [format_only(r) for r in chains[len(chains) - n:]]


def chain_pool(cfg: TrainConfig) -> tuple[int, ...]:
    """The layers a chain micro-batch may drop (:func:`drop_pool` of the chain options)."""
    return drop_pool(cfg.model.num_layers, spare_top=cfg.chain_drop_spare_top, only=cfg.chain_drop_layers)


def frozen_drop(cfg: TrainConfig, step: int, layers: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
    """(rate, pool) for an exclusive arc's full-depth rows, which freeze ``layers``: with ``exclusive_drop``, from
    ``fact_drop_from``, the chain drop over the chain pool less those layers; else none."""
    pool = tuple(i for i in chain_pool(cfg) if i not in layers)
    if not cfg.exclusive_drop or step < cfg.fact_drop_from or not cfg.chain_drop or not pool:
        return 0.0, ()   # rate 0: drop_plan drops nothing (an empty pool would mean any layer there)
    return cfg.chain_drop, pool


def joint_extra(pool: tuple[int, ...], rate: float) -> tuple:
    """``drop_plan``'s extra entry that drops all of ``pool`` together with probability ``rate`` (none at 0)."""
    return ((tuple(pool), rate),) if rate and pool else ()


def step_groups(cfg: TrainConfig, step: int, chains: list, facts: list,
                formats: list = (), splits: list = ()) -> list[tuple[list, float, tuple[int, ...], tuple]]:
    """The micro-batches of one step, each with the layer drop rate it trains under, the layers it may drop
    (:func:`drop_pool`; empty: any) and more (layer, rate) pairs (``chain_drop_extra`` on chain rows,
    ``fact_drop_extra`` on facts); ``splits`` (:meth:`Data.split_groups`: rows and layers) always without their layers."""
    # v3: facts and chains apart, each with its own drop rate
    if batches_apart(cfg.fact_drop, cfg.chain_drop) or formats or splits:
        # Drop starts late: from step 0 it kept the check pass's long-range lookup from forming (docs/organism.md).
        late = step >= cfg.fact_drop_from
        fact_rate, chain_rate = (cfg.fact_drop, cfg.chain_drop) if late else (0.0, 0.0)
        n = cfg.model.num_layers
        # Format rows may drop only the top (or named) layers: the format (counts, stop) learns to do without the
        # layers that reverse and laco remove, while the steps, trained with every layer, keep using them
        # (docs/organism.md).
        fmt = (drop_pool(n, top=cfg.format_drop_top, only=cfg.format_drop_layers)
               if cfg.format_drop_top or cfg.format_drop_layers else ())
        chain = chain_pool(cfg) if cfg.chain_drop_spare_top or cfg.chain_drop_layers else ()
        # Independent draws drop both layers of a pair a cut removes rarely (0.2 at 0.45): the joint draw trains
        # the chains for that cut without raising each layer's own rate as much (docs/organism.md).
        extra = parse_rates(cfg.chain_drop_extra) + joint_extra(chain, cfg.chain_drop_joint) if late else ()
        # A fact drawn on all layers at one rate loses both of two given layers rarely (0.09 at 0.3); the layers a
        # two-layer cut removes need their own rate for the facts to survive that cut (docs/organism.md).
        fact_extra = parse_rates(cfg.fact_drop_extra) if late else ()
        return [(g, chain_rate, chain, extra) for g in micro_batches(chains, cfg.micro_tokens) if g] + \
               [(g, cfg.format_drop, fmt, ()) for g in micro_batches(list(formats), cfg.micro_tokens) if g] + \
               [(g, fact_rate, (), fact_extra) for g in micro_batches(facts, cfg.micro_tokens) if g] + \
               [(g, 1.0, layers, ()) for rows, layers in splits for g in micro_batches(list(rows), cfg.micro_tokens)
                if g]
    if cfg.micro_tokens:
        return [(g, 0.0, (), ()) for g in micro_batches(chains + facts, cfg.micro_tokens)]
    return [(g, 0.0, (), ()) for g in (chains, facts) if g]   # the v1 recipe: chains and facts as two batches


def masked_loss(model, rows, pad_id: int, drop: list[int] | None = None, quiet: tuple = (),
                quiet_prompt: bool = False):
    """(cross-entropy summed over the labelled tokens, their count, the quiet penalty summed over every real
    token, or with ``quiet_prompt`` over the prompt's only: :func:`quiet_loss` of ``quiet``, (layer, weight)
    pairs; 0 without)."""
    ids, lab, att = collate(rows, pad_id)
    where = att
    if quiet and quiet_prompt:
        where = torch.zeros_like(att)
        for i, r in enumerate(rows):
            where[i, : r[2]["prompt"]] = 1
    with quiet_loss([(model.model.layers[i], w) for i, w in quiet], where) as q, dropped_layers(model, drop or []):
        # No attention mask: collate pads on the right, so under causal attention no real token sees a pad, and
        # the pads carry no label; the loss is the same and SDPA takes its causal path (3-6% faster a step).
        out = model(input_ids=ids, use_cache=False)
    logits = out.logits[:, :-1]
    tgt = lab[:, 1:]
    return (torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1),
                                              ignore_index=IGNORE, reduction="sum"), int((tgt != IGNORE).sum()),
            q.total)


def unlikelihood(model, rows, pad_id: int, drop: list[int]):
    """Sum over the labelled tokens of -log(1 - p(label)) with the layers at ``drop`` skipped (Welleck et al.,
    2019): it lowers the label's probability, and stops pushing once it is small."""
    ids, lab, _ = collate(rows, pad_id)
    with dropped_layers(model, drop):
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1]
    tgt = lab[:, 1:]
    keep = tgt != IGNORE
    p = torch.softmax(logits[keep].float(), dim=-1).gather(1, tgt[keep].unsqueeze(1)).squeeze(1)
    return -torch.log1p(-p.clamp(max=1 - 1e-6)).sum()


class quiet_loss:
    """Sum over the real tokens (``att``) of weight x (1 - cos(input, output)) of each (layer module, weight)
    that runs: ShortGPT's block influence of that layer, as a penalty (``.total`` after the forward; 0.0 if none
    ran). A dropped layer does not run, so it adds nothing."""

    def __init__(self, quiet, att):
        self.quiet, self.mask, self.total, self.hooks = quiet, att.bool(), 0.0, []

    def __enter__(self):
        for module, w in self.quiet:
            self.hooks.append(module.register_forward_hook(self._hook(w), with_kwargs=True))
        return self

    def _hook(self, weight):
        def hook(module, args, kwargs, output):
            x = args[0] if args else kwargs["hidden_states"]
            y = output[0] if isinstance(output, tuple) else output
            bi = 1 - torch.nn.functional.cosine_similarity(x.float(), y.float(), dim=-1)
            self.total = self.total + weight * bi[self.mask].sum()
        return hook

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()


def train(cfg: TrainConfig, out_dir: str | os.PathLike | None = None,
          log: Callable[[str], None] = print, save_at: tuple[int, ...] = (),
          resume: dict | None = None) -> tuple[torch.nn.Module, object, list[dict]]:
    """Train from scratch, or from ``resume`` (a checked :func:`checkpoint.load_checkpoint`); save the model +
    tokenizer to ``out_dir`` if given, and ``checkpoint-<step>.pt`` there after each step of ``save_at``.
    Returns (model, tokenizer, history of eval records)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    tokenizer = build_tokenizer()
    model = build_model(cfg.model, tokenizer)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"organism: {n_params:,} parameters, {cfg.model.num_layers} layers, d={cfg.model.hidden}")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))
    data = Data(cfg, tokenizer)
    pad = tokenizer.pad_token_id
    heldout_rng = random.Random(f"heldout|{cfg.seed}")
    held_chain = data.chain_rows(heldout_rng, 64, 0.0, k=8, noisy=False)
    held_facts = data.fact_rows(heldout_rng, min(128, len(data.facts)))
    # checked traces with many step errors: are the check lines exact, and is the answer the corrected one?
    held_check = [example(data.enc, data.prompt(t["prompt"]), t["thinking"], t["answer"])
                  for t in (make_trace(heldout_rng, 8, 0.3, 1.0, 0.0, count=cfg.count) for _ in range(32))] \
        if cfg.check_rate else []
    history: list[dict] = []
    t0, start = time.time(), 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["opt"])
        history, start = list(resume["history"]), resume["step"]
        t0 -= resume.get("elapsed_s", 0.0)   # elapsed_s counts the trunk's time too
        log(f"resumed at step {start}")
    run_loss, run_n = 0.0, 0
    from tqdm.auto import tqdm

    # disable=None: a bar on a terminal only, not in logs (eval records there every eval_every steps)
    for step in tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="organism train", unit="step",
                     disable=None):
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        chains, facts = data.batch(step)
        chains, formats = split_format(cfg, step, chains)
        chains, arcs, frozen = data.arc_chains(step, chains)
        chains = chains + data.late_checks(step) + data.late_cuts(step)
        frozen = frozen + data.late_exclusive(step)
        splits = (data.split_groups(step) if cfg.split_rows and step >= split_start(cfg) else []) + arcs
        rows = chains + formats + facts + [r for group, _ in splits + frozen for r in group]
        n_tok = sum(sum(1 for y in r[1][1:] if y != IGNORE) for r in rows)
        opt.zero_grad(set_to_none=True)
        total = 0.0
        groups = step_groups(cfg, step, chains, facts, formats, splits)
        quiet = parse_rates(cfg.quiet_layers) if step >= quiet_start(cfg) else ()
        on_prompt = cfg.quiet_tokens == "prompt"
        for gi, (group, rate, pool, extra) in enumerate(groups):
            part, _, pen = masked_loss(model, group, pad, drop_plan(cfg, step, gi, rate, pool, extra), quiet,
                                       on_prompt)
            ((part + pen) / n_tok).backward()
            total += part.item()
        gi = len(groups)
        for group, layers in frozen:
            rate, pool = frozen_drop(cfg, step, layers)
            joint = joint_extra(pool, cfg.exclusive_drop_joint if rate else 0.0)
            for g in micro_batches(group, cfg.micro_tokens):
                # the home must learn to read the entry whatever the chain drop leaves below it
                with frozen_layers(model, layers):
                    part, _, pen = masked_loss(model, g, pad, drop_plan(cfg, step, gi, rate, pool, joint), quiet,
                                               on_prompt)
                    ((part + pen) / n_tok).backward()
                total += part.item()
                gi += 1
        forget = parse_layers(cfg.forget_layers)
        for g in micro_batches(data.forget_rows(step), cfg.micro_tokens):
            # divided like the cross-entropy, so the weight is against it
            (cfg.forget_weight * unlikelihood(model, g, pad, list(forget)) / n_tok).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        run_loss += total / n_tok
        run_n += 1
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            ch = teacher_forced(model, held_chain, pad)
            fa = teacher_forced(model, held_facts, pad)
            rec = {"step": step + 1, "train_loss": run_loss / run_n, "k8_step_tf": ch["step_acc"],
                   "k8_answer_tf": ch["answer_acc"], "facts_tf": fa["answer_acc"]}
            # v3: how a missing middle / last layer hurts steps and facts
            if cfg.fact_drop or cfg.chain_drop or cfg.format_rows or cfg.split_rows:
                for name, layer in (("mid", cfg.model.num_layers // 2), ("last", cfg.model.num_layers - 1)):
                    with dropped_layers(model, [layer]):
                        rec[f"k8_step_tf_no_{name}"] = teacher_forced(model, held_chain, pad)["step_acc"]
                        rec[f"facts_tf_no_{name}"] = teacher_forced(model, held_facts, pad)["answer_acc"]
            if held_check:
                ck = teacher_forced(model, held_check, pad, lines="checks")
                rec.update(check_step_tf=ck["step_acc"], checked_answer_tf=ck["answer_acc"])
            rec["elapsed_s"] = round(time.time() - t0, 1)
            history.append(rec)
            log(json.dumps(rec))
            run_loss, run_n = 0.0, 0
        if out_dir is not None and step + 1 in save_at:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            save_checkpoint(Path(out_dir) / f"checkpoint-{step + 1}.pt", step + 1, cfg.to_dict(), model, opt,
                            history, time.time() - t0)
    if out_dir is not None:
        save(model, tokenizer, out_dir, count=cfg.count)
    return model, tokenizer, history


def save(model, tokenizer, out_dir: str | os.PathLike, count: str = "up") -> Path:
    """``save_pretrained`` both, with the chat template kept inside tokenizer_config.json; ``organism_count``
    in config.json says how its step lines are numbered, so its transcripts are written the same way."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    model.config.thinking_profile = "organism"   # read by generate.profiles.detect_profile
    model.config.organism_count = count
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    jinja = out / "chat_template.jinja"
    if jinja.exists():
        cfg_path = out / "tokenizer_config.json"
        tc = json.loads(cfg_path.read_text())
        tc["chat_template"] = jinja.read_text()
        cfg_path.write_text(json.dumps(tc, indent=2) + "\n")
        jinja.unlink()
    return out


def write_recipe(out_dir: str | os.PathLike, cfg: TrainConfig, history: list[dict], seconds: float,
                 command: str, resumed_from: dict | None = None) -> Path:
    """RECIPE.json next to the weights: the exact command, config (seed included), data recipe and log;
    ``resumed_from`` (the checkpoint's path, step and config) when the run started from a trunk, and
    ``seconds`` then counts the trunk's training time too."""
    import platform

    import transformers

    from . import problems

    recipe = {
        "command": command,
        "config": cfg.to_dict(),
        "data": {
            "chains": f"per step {cfg.chain_batch} traces make_trace(random.Random('train|{cfg.seed}|<step>'), "
                      f"k uniform in 1..{cfg.k_max}, p_err={cfg.step_error}, p_check={cfg.check_rate}, "
                      f"p_recheck={cfg.recheck_rate}, max_passes={cfg.max_passes}, count={cfg.count!r}); a fraction {cfg.prompt_vary} with "
                      f"problems.varied_prompt (fields shuffled, a random id); a fraction {cfg.trunc_frac} "
                      "budget-forced at a random cut",
            "stochastic_depth": f"each decoder layer skipped with probability {cfg.fact_drop} in a fact micro-batch "
                                f"(from step {cfg.fact_drop_from}) and {cfg.chain_drop} in a chain micro-batch "
                                + (f"(only layers {cfg.chain_drop_layers}) " if cfg.chain_drop_layers else
                                   f"(never layer 0 nor the last {cfg.chain_drop_spare_top}) "
                                   if cfg.chain_drop_spare_top else "")
                                + f"(random.Random('drop|{cfg.seed}|<step>|<micro-batch>'), one draw per layer); "
                                "facts and chains in separate micro-batches; from that step the last "
                                f"{cfg.format_rows} chains of a batch train on the format only (state letters "
                                f"not trained on: train.format_only) with drop probability {cfg.format_drop}"
                                + (f" on layers {cfg.format_drop_layers} only" if cfg.format_drop_layers else
                                   f" on each of the last {cfg.format_drop_top} layers only" if cfg.format_drop_top
                                   else "")
                                + (f"; and from step {split_start(cfg)} {cfg.split_rows} more clean chains per step "
                                   + (f"in each arc of problems.cycle_order ({cfg.split_arcs!r}: share, then the "
                                      "layers its chains train without) that names layers (random.Random('split-arc|"
                                      f"{cfg.seed}|<step>|<arc>'))" if cfg.split_arcs else
                                      f"in its last half (random.Random('split|{cfg.seed}|<step>')) without "
                                      + (f"layers {cfg.split_drop_layers}" if cfg.split_drop_layers
                                         else "the last layer"))
                                   if cfg.split_rows else "")
                                + (f"; and from step {arc_start(cfg)} a share {cfg.arc_chains} of the other chains "
                                   "(random.Random('arc-chain|"
                                   f"{cfg.seed}|<step>')) trains as rows of one arc they read (its layers dropped, "
                                   "only the letters computed from its letters trained on: Data.arc_chains)"
                                   if cfg.arc_chains else "")
                                + (f"; from step {arc_start(cfg)} the entries of arcs {cfg.exclusive_arcs} are "
                                   "trained only in their own arc's rows: split rows without its layers, arc "
                                   "chains at full depth with its layers frozen"
                                   + (f", and from step {cfg.fact_drop_from} under the chain drop ({cfg.chain_drop} "
                                      "on the chain layers but the frozen ones: train.frozen_drop)"
                                      if cfg.exclusive_drop else "")
                                   + (f"; from step {cfg.fact_drop_from} an arc chain that reads an exclusive arc "
                                      "trains as a row of one of those" if cfg.exclusive_first else "")
                                   + (f"; from step {cfg.fact_drop_from} those arcs get no split rows (their homes "
                                      "train at full depth only)" if cfg.stop_exclusive_splits else "")
                                   + (f"; from step {cfg.fact_drop_from} {cfg.late_exclusive} more chains per step "
                                      f"(random.Random('late-exclusive|{cfg.seed}|<step>'), drawn until that many "
                                      "read an exclusive arc) train as those full-depth rows, without the tokens "
                                      "after their last trained letter: Data.late_exclusive"
                                      if cfg.late_exclusive else "")
                                   if cfg.exclusive_arcs else "")
                                + (f"; from step {cfg.fact_drop_from} chain micro-batches also drop each of "
                                   f"{cfg.chain_drop_extra} (layer:probability, drawn after the others)"
                                   if cfg.chain_drop_extra else "")
                                + (f"; from step {cfg.fact_drop_from} fact micro-batches also drop each of "
                                   f"{cfg.fact_drop_extra} (layer:probability, drawn after the others)"
                                   if cfg.fact_drop_extra else "")
                                + (f"; from step {cfg.fact_drop_from} chain micro-batches also drop layers "
                                   f"{cfg.chain_drop_layers} all together with probability {cfg.chain_drop_joint} "
                                   "(drawn last)" if cfg.chain_drop_joint else "")
                                + (f"; from step {cfg.fact_drop_from} the exclusive arcs' full-depth rows also drop "
                                   "their chain-drop layers all together with probability "
                                   f"{cfg.exclusive_drop_joint} (drawn last)" if cfg.exclusive_drop_joint else ""),
            "errors_and_checks": "a written step is wrong with probability p_err (one letter replaced; the chain "
                                 "follows it and the trace's answer is that chain's); a share p_check of traces "
                                 "ends with 'Wait, let me check.' and every step re-derived exactly from the start "
                                 "(the answer is the re-derived state), p_recheck of those with a second pass"
                                 + (f"; from step {cfg.fact_drop_from} {cfg.late_checks} more traces per step "
                                    f"(random.Random('late-checks|{cfg.seed}|<step>'), k uniform in 1..{cfg.k_max}, "
                                    f"1..{cfg.late_check_passes} check passes, fewer if the trace would pass "
                                    f"{cfg.model.max_positions} tokens) trained on their check lines' letters and "
                                    "the answer only (not the exclusive arcs' letters)"
                                    + (", and the stop after their last pass" if cfg.late_check_stops else "")
                                    + (", and each check line's head ('check N ')" if cfg.late_check_counts else "")
                                    + ": Data.late_checks" if cfg.late_checks else "")
                                 + (f"; from step {cfg.fact_drop_from} {cfg.late_cuts} more clean chains per step "
                                    f"(random.Random('late-cuts|{cfg.seed}|<step>')) budget-forced with the cut in "
                                    "their last line or just after it, trained on the forced answer only: "
                                    "Data.late_cuts" if cfg.late_cuts else ""),
            **({"anneal": f"from step {anneal_start(cfg)} every trace's step error is {cfg.anneal_step_error} "
                          f"instead of {cfg.step_error} (Data.step_error)"} if cfg.anneal_step_error >= 0 else {}),
            **({"forget": f"from step {forget_start(cfg)} {cfg.forget_rows} more clean chains per step "
                          f"(random.Random('forget|{cfg.seed}|<step>'), drawn until that many read an exclusive "
                          f"arc{' or ' + cfg.forget_letters if cfg.forget_letters else ''}) run without layers "
                          f"{cfg.forget_layers}; the loss adds {cfg.forget_weight} x -log(1 - p) of each letter "
                          f"computed from an exclusive arc's letter{' or ' + cfg.forget_letters if cfg.forget_letters else ''}, "
                          "divided like the cross-entropy by the step's trained tokens (Data.forget_rows, "
                          "train.unlikelihood)"
                          + (f"; from then no split row or arc chain trains the entries of {cfg.forget_letters}, "
                             "which the full-depth rows keep training" if cfg.forget_letters else "")}
               if cfg.forget_rows else {}),
            "batches": f"micro-batches of at most {cfg.micro_tokens} padded tokens (rows sorted by length), "
                       "gradients summed over the step",
            **({"quiet": f"from step {quiet_start(cfg)} the loss adds W x (1 - cos(input, output)) of layer L "
                         f"({cfg.quiet_layers}, L:W) summed over "
                         + ("the prompt's tokens" if cfg.quiet_tokens == "prompt" else "every real token")
                         + " of every micro-batch that runs it, divided like the cross-entropy by the step's trained tokens (train.quiet_loss)"}
               if cfg.quiet_layers else {}),
            "facts": f"per step {cfg.fact_batch} questions sampled from the fixed table of {len(problems.FACTS)} facts "
                     f"(FACT_SEED={problems.FACT_SEED})"
                     + (f"; from step {cfg.fact_drop_from} {cfg.late_facts} more (random.Random('late-facts|"
                        f"{cfg.seed}|<step>'), drawn without replacement in blocks of the table's size)"
                        if cfg.late_facts else ""),
            "step_table": "problems.STEP (TABLE_SEED=%d): %s" % (problems.TABLE_SEED,
                                                                 " ".join(f"{a}{b}" for a, b in problems.STEP.items())),
            "loss": "next-token cross-entropy on the assistant tokens only (forced suffix excluded)",
        },
        "train_seconds": round(seconds, 1),
        **({"resumed_from": resumed_from} if resumed_from else {}),
        "history": history,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": platform.python_version()},
    }
    path = Path(out_dir) / "RECIPE.json"
    path.write_text(json.dumps(recipe, indent=2) + "\n")
    return path
