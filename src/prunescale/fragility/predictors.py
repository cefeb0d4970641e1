"""The cheap predictors: one pass of each model over the parent's traces, plus knowledge log-likelihoods.

* **loss increase** (nats / token): the pruned model's teacher-forced loss on the parent's thinking minus the
  parent's, on short and on long traces (see :mod:`.traces` for the groups), their difference and ratio;
* **answer KL**: KL(parent || pruned) of the next-token distributions over the answer line that follows a full
  parent trace: the end of thinking, "Final Answer:" and the answer (its first ANSWER_TOKENS tokens), summed over
  those positions, averaged over traces. The line is part of it because that is where a pruned model can break
  while its chain is intact (ShortGPT at 2 layers on the organism writes the chain, then "Final Ana...");
* **agreement**: over the first N thinking tokens, greedy decoding of the pruned model given the same prompt
  reproduces the parent's greedy trace up to the first position where their argmax differs; ``agreement`` is
  that common prefix as a share of N (teacher forcing on the parent's greedy trace gives the same prefix as
  running both freely), ``token_agreement`` the share of the N positions whose argmax agrees;
* **knowledge drop**: the parent's mean log-likelihood of the right choice minus the pruned model's (nats), and
  the accuracy drop, on the organism's facts or a small built-in general set.

Both models see the same token ids in the same batches, so a model compared with itself gives exactly zero
loss increase, KL and drops and agreement 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import PrunescaleError
from ..stats import mean as _mean
from .catalog import PREDICTORS
from .parent_traces import ANSWER_TOKENS, Trace

BATCH = 8
KNOWLEDGE_BATCH = 64   # short questions: few large forwards are much faster than many small ones on a CPU
SHORT_SHARE = 0.25   # other models: the first quarter of a trace's thinking is "short", the rest "long"


@dataclass
class Encoded:
    ids: list[int]
    think: tuple[int, int]       # [start, end) of the thinking tokens in ids
    answer: tuple[int, int]      # [start, end) of the answer line: the lead (end of thinking, "Final Answer:")
                                 # and the answer tokens
    group: str                   # "short" / "long" / "" (split by position)


def encode(tokenizer, trace: Trace) -> Encoded:
    """Token ids of a trace, piece by piece (as the hf backend feeds forced text)."""
    enc = lambda s: list(tokenizer(s, add_special_tokens=False)["input_ids"]) if s else []  # noqa: E731
    ctx, think, lead = enc(trace.context), enc(trace.thinking), enc(trace.lead)
    answer = enc(trace.answer)[:ANSWER_TOKENS]
    a = len(ctx) + len(think)
    return Encoded(ctx + think + lead + answer, (a - len(think), a), (a, a + len(lead) + len(answer)), trace.group)


@dataclass
class TraceStats:
    nll: torch.Tensor            # per thinking token: -log p(token)
    argmax: torch.Tensor         # per thinking token: the model's most likely token there
    answer_logp: torch.Tensor    # [answer line positions, vocab] log-probabilities


@torch.no_grad()
def trace_stats(model, encoded: list[Encoded], pad_id: int) -> list[TraceStats]:
    """Teacher-forced statistics of ``model`` on every encoded trace (fixed batches, right padding)."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(encoded), BATCH):
        batch = encoded[start:start + BATCH]
        width = max(len(e.ids) for e in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, e in enumerate(batch):
            ids[r, :len(e.ids)] = torch.tensor(e.ids)
            mask[r, :len(e.ids)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        for r, e in enumerate(batch):
            out.append(_row_stats(logits[r], ids[r].to(device), e))
    return out


def _row_stats(logits: torch.Tensor, ids: torch.Tensor, e: Encoded) -> TraceStats:
    ts, te = e.think
    logp = logits[ts - 1:te - 1].log_softmax(-1)
    nll = -logp.gather(-1, ids[ts:te, None]).squeeze(-1)
    a0, a1 = e.answer
    answer = logits[a0 - 1:a1 - 1].log_softmax(-1)
    return TraceStats(nll.cpu(), logp.argmax(-1).cpu(), answer.cpu())


def group_masks(encoded: list[Encoded]) -> list[dict[str, torch.Tensor]]:
    """Per trace, which thinking tokens count as "short" and which as "long"."""
    out = []
    for e in encoded:
        n = e.think[1] - e.think[0]
        if e.group:
            m = torch.ones(n, dtype=torch.bool)
            out.append({"short": m if e.group == "short" else ~m, "long": m if e.group == "long" else ~m})
        else:
            pos = torch.arange(n)
            cut = max(1, round(SHORT_SHARE * n))
            out.append({"short": pos < cut, "long": pos >= cut})
    return out


@dataclass
class Reference:
    """What is computed once per parent: its traces, their ids, its statistics and knowledge scores."""

    traces: list[Trace]
    encoded: list[Encoded]
    stats: list[TraceStats]
    items: list = field(default_factory=list)
    knowledge: list = field(default_factory=list)   # ItemResult per item
    pad_id: int = 0
    vocab: int = 0


def build_reference(model, tokenizer, traces: list[Trace], items: list) -> Reference:
    from ..tasks.loglik import score_items

    encoded = [e for e in (encode(tokenizer, t) for t in traces) if e.think[1] > e.think[0]]
    if not encoded:
        raise PrunescaleError("the parent wrote no thinking tokens on any built-in prompt: nothing to compare")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    stats = trace_stats(model, encoded, pad)
    know = score_items(model, tokenizer, items, batch_size=KNOWLEDGE_BATCH) if items else []
    return Reference(traces, encoded, stats, items, know, pad, stats[0].answer_logp.shape[-1])


def compare(ref: Reference, model, tokenizer, agree_tokens: int) -> tuple[dict, dict]:
    """(predictors, details) of ``model`` against the parent ``ref`` was built from."""
    from ..tasks.loglik import score_items

    stats = trace_stats(model, ref.encoded, ref.pad_id)
    if stats[0].answer_logp.shape[-1] != ref.vocab:
        raise PrunescaleError(f"the model's vocabulary ({stats[0].answer_logp.shape[-1]} tokens) is not the "
                              f"parent's ({ref.vocab}): not the same tokenizer")
    loss = loss_increase(ref, stats)
    kl = answer_kl(ref.stats, stats)
    prefix, tokens = agreement(ref.stats, stats, agree_tokens)
    know = score_items(model, tokenizer, ref.items, batch_size=KNOWLEDGE_BATCH) if ref.items else []
    ll_drop, acc_drop = knowledge_drop(ref.knowledge, know)
    predictors = {"loss_short": loss["increase_short"], "loss_long": loss["increase_long"],
                  "loss_long_minus_short": loss["difference"], "loss_long_over_short": loss["ratio"],
                  "answer_kl": kl, "agreement": prefix, "token_agreement": tokens,
                  "knowledge_ll_drop": ll_drop, "knowledge_acc_drop": acc_drop}
    for p in PREDICTORS.ordered():   # plug-ins compute their own
        if p.compute is not None:
            predictors[p.name] = p.compute(ref, stats)
    details = {"losses": loss, "traces": len(ref.encoded), "knowledge_items": len(ref.items),
               "knowledge_acc_parent": _mean([r.acc for r in ref.knowledge]),
               "knowledge_acc": _mean([r.acc for r in know])}
    return predictors, details


def loss_increase(ref: Reference, stats: list[TraceStats]) -> dict:
    """Mean thinking-token loss of each model on the short and the long group, the increases, their gap."""
    sums = {(who, g): [0.0, 0] for who in ("parent", "model") for g in ("short", "long")}
    for masks, p, m in zip(group_masks(ref.encoded), ref.stats, stats):
        for g, mask in masks.items():
            for who, s in (("parent", p), ("model", m)):
                sums[(who, g)][0] += float(s.nll[mask].sum())
                sums[(who, g)][1] += int(mask.sum())
    mean = {k: (v[0] / v[1] if v[1] else None) for k, v in sums.items()}
    out = {f"{who}_{g}": mean[(who, g)] for who, g in mean}
    for g in ("short", "long"):
        a, b = mean[("model", g)], mean[("parent", g)]
        out[f"increase_{g}"] = a - b if a is not None and b is not None else None
    s, lg = out["increase_short"], out["increase_long"]
    out["difference"] = lg - s if s is not None and lg is not None else None
    out["ratio"] = lg / s if s is not None and lg is not None and abs(s) > 1e-9 else None
    return out


def answer_kl(parent: list[TraceStats], model: list[TraceStats]) -> float:
    """KL(parent || model) summed over each trace's answer-line positions, averaged over traces."""
    kls = []
    for p, m in zip(parent, model):
        kl = (p.answer_logp.exp() * (p.answer_logp - m.answer_logp)).sum(-1)
        kls.append(float(kl.clamp(min=0).sum()))
    return sum(kls) / len(kls)


def agreement(parent: list[TraceStats], model: list[TraceStats], n: int) -> tuple[float, float]:
    """(common greedy prefix share, share of positions agreeing) over the first ``n`` thinking tokens."""
    prefix, tokens = [], []
    for p, m in zip(parent, model):
        a, b = p.argmax[:n], m.argmax[:n]
        same = (a == b)
        diff = (~same).nonzero()
        first = int(diff[0]) if len(diff) else len(same)
        prefix.append(first / len(same))
        tokens.append(float(same.float().mean()))
    return sum(prefix) / len(prefix), sum(tokens) / len(tokens)


def knowledge_drop(parent: list, model: list) -> tuple[float | None, float | None]:
    """(mean log-likelihood of the right choice, parent minus model; accuracy, parent minus model)."""
    if not parent or not model:
        return None, None
    gold = lambda rs: [r.logliks[r.item.gold] for r in rs]  # noqa: E731
    ll = _mean([a - b for a, b in zip(gold(parent), gold(model))])
    acc = _mean([r.acc for r in parent]) - _mean([r.acc for r in model])
    return ll, acc


def method_score(record: dict | None) -> tuple[float | None, str | None]:
    """The score the pruning method gave the layers it removed (summed), and its name, from prunescale.json."""
    record = record or {}
    scores, removed = record.get("scores"), record.get("removed_layers") or []
    if not scores or not removed:
        return None, record.get("score_name")
    picked = [scores[i] for i in removed if i < len(scores) and isinstance(scores[i], (int, float))]
    return (float(sum(picked)) if picked else None), record.get("score_name")
