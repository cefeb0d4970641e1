"""Log-likelihood multiple-choice scoring, in process, the way lm-evaluation-harness's ``hf`` model does it.

Each question is a context and N continuations. A continuation's score is the sum of the log-probabilities of
its tokens given the context; ``acc`` takes the argmax score, ``acc_norm`` the argmax of score / len(choice)
in characters (lm-eval's ``acc_norm``). Tokenisation follows lm-eval's ``TemplateLM._encode_pair``: trailing
whitespace of the context moves to the continuation, context + continuation are encoded together and split
at the length of the encoded context (so BPE merges across the boundary are scored as lm-eval scores them).

Tasks (zero-shot, lm-eval's prompts):

* ``mmlu``: "The following are multiple choice questions (with answers) about {subject}.\\n\\n{question}\\nA. ..
  \\nAnswer:" with continuations " A".." D" (hub ``cais/mmlu`` or ``--data`` with MMLU-style rows:
  ``question``, ``choices``, ``answer`` index or letter, ``subject`` or ``type``). ``jsonl:PATH`` is the same
  on a local file.
* ``arc_easy`` / ``arc_challenge``: "Question: {question}\\nAnswer:" with " {choice text}" (hub
  ``allenai/ai2_arc`` or ``--data`` with ``question``, ``choices: {text, label}``, ``answerKey``).
* ``organism-facts``: the embedded organism's fact questions; context = the chat prompt +
  "<think>\\n\\n</think>\\nFinal Answer:", continuations " {value}" for every value of the relation.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import PrunescaleError
from .base import TASKS, get_task

LETTERS = "ABCDEFGHIJ"
DEFAULT_MAX_LENGTH = 2048          # lm-eval's fallback when neither config nor tokenizer gives a length


@dataclass
class MCItem:
    """One multiple-choice question: ``context`` and one continuation per choice (delimiter + choice)."""

    id: str
    context: str
    choices: list[str]             # the choice strings as lm-eval's doc_to_choice (acc_norm divides by their length)
    gold: int
    delimiter: str = " "           # lm-eval's target_delimiter
    meta: dict = field(default_factory=dict)

    @property
    def continuations(self) -> list[str]:
        return [self.delimiter + c for c in self.choices]


@dataclass
class ItemResult:
    item: MCItem
    logliks: list[float]
    is_greedy: list[bool]

    @property
    def pred(self) -> int:
        return _argmax(self.logliks)

    @property
    def pred_norm(self) -> int:
        return _argmax([ll / max(len(c), 1) for ll, c in zip(self.logliks, self.item.choices)])

    @property
    def acc(self) -> float:
        return float(self.pred == self.item.gold)

    @property
    def acc_norm(self) -> float:
        return float(self.pred_norm == self.item.gold)

    def to_dict(self) -> dict:
        return {"id": self.item.id, "context": self.item.context, "continuations": self.item.continuations,
                "logliks": self.logliks, "is_greedy": self.is_greedy, "gold": self.item.gold, "pred": self.pred,
                "pred_norm": self.pred_norm, "acc": self.acc, "acc_norm": self.acc_norm, **self.item.meta}


def _argmax(values: list[float]) -> int:
    # First maximum, as numpy.argmax.
    return max(range(len(values)), key=lambda i: (values[i], -i))


# ------------------------------------------------------------------------------------------- tokenising

def _prefix_token_id(tokenizer) -> int | None:
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def _tok_encode(tokenizer, text: str) -> list[int]:
    # lm-eval's HFLM.tok_encode: the tokenizer's own special-token default, except no second BOS when the text
    # already starts with the prefix token's text.
    prefix = _prefix_token_id(tokenizer)
    kwargs = {}
    if prefix is not None:
        bos = tokenizer.decode(prefix)
        if bos and text.startswith(bos):
            kwargs["add_special_tokens"] = False
    return list(tokenizer.encode(text, **kwargs))


def encode_pair(tokenizer, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) exactly as lm-eval's ``loglikelihood`` for a causal LM."""
    if context == "":
        cont = list(tokenizer.encode(continuation, add_special_tokens=False))
        prefix = _prefix_token_id(tokenizer)
        if not cont:
            raise PrunescaleError("empty continuation with empty context")
        return ([prefix], cont) if prefix != cont[0] else (cont[:1], cont[1:])
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = _tok_encode(tokenizer, context + continuation)
    ctx = _tok_encode(tokenizer, context)
    return ctx, whole[len(ctx):]


def model_max_length(model, tokenizer) -> int:
    """lm-eval's resolve_max_length: the config's context length, else the tokenizer's, else 2048."""
    cfg = getattr(model.config, "text_config", None) or model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, attr, None)
        if value is not None:
            return int(value)
    value = getattr(tokenizer, "model_max_length", None)
    if value is not None and value < 10**29:
        return int(value)
    return DEFAULT_MAX_LENGTH


# -------------------------------------------------------------------------------------------- scoring

@torch.no_grad()
def loglikelihoods(model, tokenizer, pairs: list[tuple[str, str]], *, batch_size: int = 8,
                   padding_side: str = "right", max_length: int | None = None,
                   progress: Callable[[int], None] | None = None) -> list[tuple[float, bool]]:
    """(sum of log-probs of the continuation's tokens, whether greedy decoding gives them) for each pair.

    Requests whose model input (context + continuation minus its last token) is identical share one forward
    (for MMLU's one-token " A".." D" that is one forward per question). Inputs are sorted longest first and
    padded on ``padding_side``; padding is masked, and with left padding the position ids skip it, so a row's
    scores do not depend on what it is batched with.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    max_length = max_length or model_max_length(model, tokenizer)
    encoded = []
    for context, continuation in pairs:
        ctx, cont = encode_pair(tokenizer, context, continuation)
        if not cont:
            raise PrunescaleError(f"continuation {continuation!r} encodes to no tokens")
        whole = (ctx + cont)[-(max_length + 1):]      # truncate from the left, as lm-eval
        encoded.append((tuple(whole[:-1]), cont))
    groups: dict[tuple, list[int]] = {}
    for i, (inp, _) in enumerate(encoded):
        groups.setdefault(inp, []).append(i)
    inputs = sorted(groups, key=lambda t: (-len(t), t))
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    takes_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    out: list[tuple[float, bool] | None] = [None] * len(pairs)
    for start in range(0, len(inputs), max(1, batch_size)):
        batch = inputs[start:start + batch_size]
        width = max(len(t) for t in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        offsets = []                                     # where each row's tokens start
        for r, toks in enumerate(batch):
            off = width - len(toks) if padding_side == "left" else 0
            ids[r, off:off + len(toks)] = torch.tensor(toks, dtype=torch.long)
            mask[r, off:off + len(toks)] = 1
            offsets.append(off)
        # Positions whose logits are needed: the last len(cont) positions of each row's own tokens.
        need = {r: max(len(encoded[i][1]) for i in groups[t]) for r, t in enumerate(batch)}
        first = min(offsets[r] + len(t) - need[r] for r, t in enumerate(batch))
        kwargs = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
        if padding_side == "left":
            kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
        if takes_keep:
            kwargs["logits_to_keep"] = width - first
        logits = model(**kwargs).logits
        base = width - logits.shape[1]                   # index in the padded row of logits[:, 0]
        for r, toks in enumerate(batch):
            end = offsets[r] + len(toks)
            for i in groups[toks]:
                cont = encoded[i][1]
                rows = logits[r, end - len(cont) - base:end - base].float().log_softmax(-1)
                target = torch.tensor(cont, device=rows.device)
                ll = rows.gather(-1, target[:, None]).squeeze(-1).sum().item()
                out[i] = (float(ll), bool((rows.argmax(-1) == target).all().item()))
        if progress:
            progress(sum(len(groups[t]) for t in batch))
    return out  # type: ignore[return-value]


def score_items(model, tokenizer, items: list[MCItem], *, batch_size: int = 8, padding_side: str = "right",
                progress: Callable[[int], None] | None = None) -> list[ItemResult]:
    pairs = [(it.context, cont) for it in items for cont in it.continuations]
    res = loglikelihoods(model, tokenizer, pairs, batch_size=batch_size, padding_side=padding_side,
                         progress=progress)
    out, k = [], 0
    for it in items:
        n = len(it.choices)
        out.append(ItemResult(it, [r[0] for r in res[k:k + n]], [r[1] for r in res[k:k + n]]))
        k += n
    return out


def summarize(results: list[ItemResult]) -> dict:
    """acc and acc_norm with lm-eval's standard error of the mean (sample std / sqrt(n))."""
    n = len(results)
    out: dict = {"n": n}
    for metric in ("acc", "acc_norm"):
        xs = [getattr(r, metric) for r in results]
        mean = sum(xs) / n if n else float("nan")
        out[metric] = mean
        out[f"{metric}_stderr"] = (math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n) if n > 1
                                   else float("nan"))
    return out


# ---------------------------------------------------------------------------------------------- tasks

def mmlu_items(rows: list[dict]) -> list[MCItem]:
    items = []
    for i, r in enumerate(rows):
        choices = list(r["choices"])
        answer = r["answer"]
        gold = answer if isinstance(answer, int) else LETTERS.index(str(answer).strip().upper())
        subject = r.get("subject") or r.get("type")
        head = (f"The following are multiple choice questions (with answers) about "
                f"{' '.join(str(subject).split('_'))}.\n\n" if subject else "")
        body = "".join(f"\n{LETTERS[j]}. {c}" for j, c in enumerate(choices))
        items.append(MCItem(id=str(r.get("id", i)), context=f"{head}{str(r['question']).strip()}{body}\nAnswer:",
                            choices=list(LETTERS[:len(choices)]), gold=gold,
                            meta={"subject": subject} if subject else {}))
    return items


def arc_items(rows: list[dict]) -> list[MCItem]:
    items = []
    for i, r in enumerate(rows):
        ch = r["choices"]
        labels = list(ch["label"])
        if r["answerKey"] not in labels:
            raise PrunescaleError(f"ARC row {r.get('id', i)}: answerKey {r['answerKey']!r} not in {labels}")
        items.append(MCItem(id=str(r.get("id", i)), context=f"Question: {r['question']}\nAnswer:",
                            choices=list(ch["text"]), gold=labels.index(r["answerKey"])))
    return items


def organism_fact_items(problems, tokenizer) -> list[MCItem]:
    from ..organism.problems import RELATIONS

    items = []
    for p in problems:
        values = list(RELATIONS[p.meta["relation"]])
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": p.prompt}], tokenize=False,
                                               add_generation_prompt=True)
        items.append(MCItem(id=p.id, context=prompt + "<think>\n\n</think>\nFinal Answer:", choices=values,
                            gold=values.index(p.answer), meta={"relation": p.meta["relation"]}))
    return items


def knowledge_tasks() -> list[str]:
    """Registered tasks with a log-likelihood mode."""
    return [n for n in TASKS.names() if TASKS.get(n).loglik]


def get_knowledge_task(spec: str):
    """The task of a knowledge spec (a registered task with a log-likelihood mode, or ``jsonl:PATH``)."""
    name = spec.partition(":")[0]
    if name not in TASKS or not TASKS.get(name).loglik:
        raise PrunescaleError(f"unknown knowledge task {spec!r} (choose from: {', '.join(knowledge_tasks())}, "
                              "jsonl:PATH)")
    return get_task(spec)


def load_items(task: str, tokenizer, data: str | None = None, limit: int | None = None) -> list[MCItem]:
    """The questions of a knowledge task (see :func:`get_knowledge_task`); ``jsonl:PATH`` holds MMLU-style rows."""
    return get_knowledge_task(task).mc_items(tokenizer, data, limit)
