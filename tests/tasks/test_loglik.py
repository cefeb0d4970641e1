"""The builtin log-likelihood scorer: direct per-example forwards, padding, lm-eval's tokenisation and metrics."""

import json

import pytest
import torch

from prunescale.tasks.loglik import (ItemResult, MCItem, encode_pair, load_items, loglikelihoods, score_items,
                                     summarize)


def _pairs(shared_data, n=4):
    """Real MMLU contexts of different lengths with one-token and multi-token continuations."""
    rows = [json.loads(line) for line in (shared_data / "mmlu_stem_test.jsonl").open()][:n]
    pairs = []
    for r in rows:
        ctx = f"Question: {r['question']}\nAnswer:"
        pairs += [(ctx, " A"), (ctx, " " + r["choices"][0]), (ctx + " ", r["choices"][-1])]
    return pairs


def _direct(model, tokenizer, context, continuation):
    """One unpadded forward of context + continuation, tokenised with lm-eval's split."""
    ctx, cont = encode_pair(tokenizer, context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = model(ids).logits[0, len(ctx) - 1:-1].float().log_softmax(-1)
    return logp.gather(-1, torch.tensor(cont)[:, None]).sum().item()


def test_batched_equals_direct_with_either_padding(smollm2, shared_data):
    model, tok = smollm2.model, smollm2.tokenizer
    pairs = _pairs(shared_data)
    direct = [_direct(model, tok, c, x) for c, x in pairs]
    for bs, side in [(1, "right"), (5, "right"), (5, "left"), (64, "left")]:
        got = [ll for ll, _ in loglikelihoods(model, tok, pairs, batch_size=bs, padding_side=side)]
        assert max(abs(a - b) for a, b in zip(got, direct)) < 2e-3, (bs, side)
    # One-token continuations share a forward and get the same numbers as scored alone.
    alone = loglikelihoods(model, tok, pairs[:1], batch_size=1)[0][0]
    assert abs(alone - direct[0]) < 2e-3


def test_padding_has_no_cross_talk(smollm2):
    model, tok = smollm2.model, smollm2.tokenizer
    short, long_ = ("Hi", " there"), ("A much longer context that pads the short one a lot, " * 4, " indeed")
    solo = loglikelihoods(model, tok, [short], batch_size=1)[0][0]
    for side in ("left", "right"):
        mixed = loglikelihoods(model, tok, [short, long_], batch_size=2, padding_side=side)[0][0]
        assert abs(mixed - solo) < 2e-3, side


def test_encode_pair_follows_lm_eval(smollm2):
    tok = smollm2.tokenizer
    ctx, cont = encode_pair(tok, "Answer: ", "Paris")           # trailing space moves to the continuation
    assert tok.decode(ctx) == "Answer:" and tok.decode(cont) == " Paris"
    whole = tok.encode("Question: 2+2?\nAnswer: four")
    ctx, cont = encode_pair(tok, "Question: 2+2?\nAnswer:", " four")
    assert ctx + cont == whole
    ctx, cont = encode_pair(tok, "", "hello")                   # empty context: the prefix token
    assert ctx == [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]


def test_same_numbers_as_lm_eval_hflm(smollm2, shared_data):
    """lm-eval's own HFLM.loglikelihood on the same in-memory model and requests (padding, splitting, greedy)."""
    pytest.importorskip("lm_eval")
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=smollm2.model, tokenizer=smollm2.tokenizer, batch_size=4, device="cpu")
    pairs = _pairs(shared_data, 3) + [("", "hello world")]
    ref = lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)], disable_tqdm=True)
    got = loglikelihoods(smollm2.model, smollm2.tokenizer, pairs, batch_size=4)
    assert [g for _, g in got] == [g for _, g in ref]
    assert max(abs(a[0] - b[0]) for a, b in zip(got, ref)) < 1e-3


def test_metrics_like_lm_eval():
    item = MCItem(id="x", context="Q:", choices=["a", "bbbbbbbb"], gold=1)
    r = ItemResult(item, logliks=[-2.0, -4.0], is_greedy=[False, False])
    assert (r.pred, r.acc) == (0, 0.0)                 # raw argmax
    assert (r.pred_norm, r.acc_norm) == (1, 1.0)       # divided by characters: -2/1 < -4/8
    tie = ItemResult(MCItem(id="y", context="Q:", choices=["a", "b"], gold=1), [-1.0, -1.0], [False, False])
    assert tie.pred == tie.pred_norm == 0              # first maximum, as numpy.argmax
    s = summarize([r, r, tie, tie])
    assert s["n"] == 4 and s["acc"] == 0.0 and s["acc_norm"] == 0.5
    assert abs(s["acc_norm_stderr"] - (1 / 3) ** 0.5 / 2) < 1e-12   # sample std / sqrt(n)


def test_mmlu_and_arc_prompts(shared_data, tmp_path):
    items = load_items("mmlu", None, str(shared_data / "mmlu_stem_test.jsonl"), limit=2)
    row = json.loads((shared_data / "mmlu_stem_test.jsonl").open().readline())
    assert items[0].context.startswith("The following are multiple choice questions (with answers) about "
                                       f"{row['type'].replace('_', ' ')}.\n\n{row['question'].strip()}\nA. ")
    assert items[0].context.endswith("\nAnswer:") and items[0].continuations == [" A", " B", " C", " D"]
    assert items[0].gold == row["answer"]
    arc = tmp_path / "arc.jsonl"
    arc.write_text(json.dumps({"id": "q1", "question": "Which is a gas?", "answerKey": "2",
                               "choices": {"text": ["rock", "air", "ice"], "label": ["1", "2", "3"]}}) + "\n")
    (a,) = load_items("arc_easy", None, str(arc))
    assert a.context == "Question: Which is a gas?\nAnswer:" and a.continuations[1] == " air" and a.gold == 1


def test_organism_facts_are_known():
    from prunescale.models.loading import load_model

    org = load_model("embedded:organism")
    items = load_items("organism-facts", org.tokenizer, limit=128)
    assert items[0].context.endswith("<|im_start|>assistant\n<think>\n\n</think>\nFinal Answer:")
    assert len(items[0].choices) == 8 and items[0].continuations[0].startswith(" ")
    s = summarize(score_items(org.model, org.tokenizer, items, batch_size=32))
    assert s["n"] == 128 and s["acc"] >= 0.95 and s["acc_norm"] >= 0.95


def test_one_registry_serves_both_modes(tmp_path):
    """A knowledge task is an ordinary registered task: the same object loads problems for generation and
    items for log-likelihood scoring, and a task without that mode says so."""
    from prunescale.errors import PrunescaleError
    from prunescale.tasks import TASKS, get_task
    from prunescale.tasks.loglik import knowledge_tasks

    assert {"mmlu", "arc_easy", "arc_challenge", "organism-facts", "jsonl"} <= set(knowledge_tasks())
    assert all(TASKS.get(n).loglik for n in knowledge_tasks()) and "math500" not in knowledge_tasks()
    arc = tmp_path / "arc.jsonl"
    arc.write_text(json.dumps({"id": "q1", "question": "Which is a gas?", "answerKey": "B",
                               "choices": {"text": ["ice", "steam", "rock"], "label": ["A", "B", "C"]}}) + "\n")
    task = get_task("arc_easy")
    (problem,) = task.load(str(arc))
    (item,) = task.mc_items(None, str(arc))
    assert problem.answer == "B" and "B. steam" in problem.prompt and task.is_correct("B", problem)
    assert item.choices == ["ice", "steam", "rock"] and item.gold == 1
    with pytest.raises(PrunescaleError, match="unknown knowledge task 'math500'"):
        load_items("math500", None)
