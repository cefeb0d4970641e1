"""Knowledge distillation from the unpruned teacher and the teacher's own traces (issue 25): the loss against a
hand computation, cached against on-the-fly teacher logits, the cache bound, reproducible teacher traces, bad
input, and prune -> finetune --objective kd --data teacher -> eval end to end."""

from __future__ import annotations

import json
import math

import pytest
import torch

from prunescale.cli.main import main
from prunescale.models.loading import load_model
from prunescale.train.kd import kd_loss, mixed_loss, teacher_targets

pytest.importorskip("trl", reason="fine-tuning needs the train extra (part of dev)")


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    out = tmp_path_factory.mktemp("kd") / "pruned"
    assert main(["prune", "--model", "embedded:organism", "--method", "reverse", "--remove", "2",
                 "--calibration", "organism", "--calibration-samples", "8", "--out", str(out)]) == 0
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNESCALE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _softmax(xs: list[float], t: float) -> list[float]:
    m = max(xs)
    e = [math.exp((x - m) / t) for x in xs]
    return [v / sum(e) for v in e]


def _hand_kd(student: list[list[float]], teacher: list[list[float]], t: float, k: int) -> float:
    """T^2 * KL(teacher || student), averaged over rows, by explicit sums; top-k: the teacher renormalised over
    its k largest logits, the student's probabilities over the whole vocabulary."""
    total = 0.0
    for s_row, t_row in zip(student, teacher):
        q = _softmax(s_row, t)
        keep = sorted(range(len(t_row)), key=lambda i: -t_row[i])[:k] if k else list(range(len(t_row)))
        p = _softmax([t_row[i] for i in keep], t)
        total += sum(pi * (math.log(pi) - math.log(q[i])) for pi, i in zip(p, keep))
    return t * t * total / len(student)


@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (2.0, 0), (1.0, 3), (0.5, 3)])
def test_kd_loss_equals_a_hand_computation(temperature, top_k):
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 7, generator=g) * 3, torch.randn(4, 7, generator=g) * 3
    values, indices = teacher_targets(teacher, top_k)
    assert (indices is None) == (top_k == 0)
    got = kd_loss(student, values, indices, temperature).item()
    want = _hand_kd(student.tolist(), teacher.tolist(), temperature, top_k)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert got > 0.01                                           # the two distributions differ
    assert kd_loss(teacher, *teacher_targets(teacher, 0), temperature).item() == pytest.approx(0, abs=1e-6)


def test_the_mixed_loss_is_alpha_kd_plus_the_rest_ce_on_assistant_tokens_only():
    g = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(2, 5, 6, generator=g), torch.randn(2, 5, 6, generator=g)
    labels = torch.tensor([[-100, -100, 3, 1, -100], [-100, 2, 5, 0, 4]])   # prompt and padding: -100
    # logits at t predict the token at t + 1: rows (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3)
    at = [(0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3)]
    targets = [3, 1, 2, 5, 0, 4]
    s_rows = [student[b, t].tolist() for b, t in at]
    ce = -sum(math.log(_softmax(r, 1.0)[y]) for r, y in zip(s_rows, targets)) / len(at)
    kd = _hand_kd(s_rows, [teacher[b, t].tolist() for b, t in at], 2.0, 0)
    loss, terms = mixed_loss(student, labels, teacher[:, :-1][labels[:, 1:] != -100], None, alpha=0.3,
                             temperature=2.0)
    assert terms["ce"] == pytest.approx(ce, rel=1e-5) and terms["kd"] == pytest.approx(kd, rel=1e-5)
    assert loss.item() == pytest.approx(0.3 * kd + 0.7 * ce, rel=1e-5)


def _kd_setup(pruned, tmp_path, top_k: int):
    """A KD trainer's batches (its own collator) on organism traces, the student and the teacher."""
    import datasets
    from trl import SFTConfig

    from prunescale.train.data import load_traces
    from prunescale.train.kd import kd_trainer_class
    from prunescale.train.render import render

    student, teacher = load_model(str(pruned)), load_model("embedded:organism")
    rows = render(load_traces("organism", samples=12), student.tokenizer, student.model.config)
    trainer = kd_trainer_class()(model=student.model, processing_class=student.tokenizer,
                                 train_dataset=datasets.Dataset.from_list(rows), teacher=None, alpha=0.5,
                                 temperature=2.0,
                                 args=SFTConfig(output_dir=str(tmp_path / "ckpt"), completion_only_loss=True,
                                                report_to="none", bf16=False, activation_checkpointing=False))
    data = trainer.train_dataset
    batches = [trainer.data_collator([data[j] for j in range(i, min(i + 5, len(data)))])
               for i in range(0, len(data), 5)]
    regrouped = trainer.data_collator([data[j] for j in (7, 2, 11, 0)])   # other neighbours, other padding
    return student, teacher, batches, regrouped


@pytest.mark.parametrize("top_k", [0, 4])
def test_cached_teacher_logits_give_the_on_the_fly_loss(pruned, tmp_path, cache, top_k):
    from prunescale.train.teacher_logits import TeacherLogits, teacher_logits

    student, teacher, batches, regrouped = _kd_setup(pruned, tmp_path, top_k)
    messages = []
    cached = teacher_logits(teacher.model, teacher.tokenizer, batches, top_k=top_k, cache_mb=64,
                            log=messages.append)
    assert cached.cached and len(list((cache / "kd_logits").glob("*.pt"))) == 1
    live = TeacherLogits(teacher.model, top_k)
    # rows in another order and grouping than the cache was built from: it is keyed per example
    with torch.no_grad():
        for b in [regrouped] + batches:
            logits = student.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            a, _ = mixed_loss(logits, b["labels"], *live.for_batch(b["input_ids"], b["attention_mask"], b["labels"]),
                              alpha=0.5, temperature=2.0)
            c, _ = mixed_loss(logits, b["labels"], *cached.for_batch(b["input_ids"], b["attention_mask"],
                                                                    b["labels"]), alpha=0.5, temperature=2.0)
            assert a.item() > 0.05 and c.item() == pytest.approx(a.item(), rel=2e-3)   # fp16 storage
    again = teacher_logits(teacher.model, teacher.tokenizer, batches, top_k=top_k, cache_mb=64, log=messages.append)
    assert again.cached and "from the cache" in messages[-1]


def test_the_cache_bound_is_honoured(pruned, tmp_path, cache):
    from prunescale.train.teacher_logits import teacher_logits

    _, teacher, batches, _ = _kd_setup(pruned, tmp_path, 0)
    messages = []
    small = teacher_logits(teacher.model, teacher.tokenizer, batches, top_k=0, cache_mb=0.01, log=messages.append)
    assert not small.cached and "--kd-cache-mb 0.01" in messages[-1] and "on the fly" in messages[-1]
    assert not (cache / "kd_logits").exists()
    off = teacher_logits(teacher.model, teacher.tokenizer, batches, top_k=0, cache_mb=0, log=messages.append)
    assert not off.cached and not (cache / "kd_logits").exists()
    bound = 0.5
    fits = teacher_logits(teacher.model, teacher.tokenizer, batches, top_k=2, cache_mb=bound, log=messages.append)
    (file,) = (cache / "kd_logits").glob("*.pt")
    assert fits.cached and file.stat().st_size <= bound * 2**20


def test_teacher_traces_are_reproducible_and_cached(tmp_path, monkeypatch):
    from prunescale.train.teacher import teacher_traces

    teacher = load_model("embedded:organism")

    def traces(cache_name: str, seed: int, log=print):
        monkeypatch.setenv("PRUNESCALE_CACHE", str(tmp_path / cache_name))
        return teacher_traces("teacher", teacher.model, teacher.tokenizer, teacher_spec="embedded:organism", count=6,
                              budget=24, temperature=1.0, seed=seed, max_length=256, log=log)

    first, fresh, other = traces("a", 3), traces("b", 3), traces("c", 4)
    assert [(t.question, t.completion) for t in first] == [(t.question, t.completion) for t in fresh]
    assert [t.completion for t in first] != [t.completion for t in other]
    assert all("</think>" in t.completion for t in first)      # budget-forced: thinking closed, then an answer
    messages = []
    assert [t.completion for t in traces("a", 3, messages.append)] == [t.completion for t in first]
    assert "from the cache" in messages[-1]
    # teacher:TASK: the task's first problems
    from prunescale.tasks import get_task

    task = teacher_traces("teacher:organism-chain:k=4", teacher.model, teacher.tokenizer, count=3, budget=24,
                          teacher_spec="embedded:organism", temperature=0.0, seed=0, max_length=256)
    assert [t.question for t in task] == [p.prompt for p in get_task("organism-chain:k=4").load(None, 3)]


@pytest.mark.parametrize("extra,words", [
    (["--kd-alpha", "2"], ("--kd-alpha", "2")),
    (["--objective", "distil"], ("--objective", "distil")),
    (["--kd-temperature", "0"], ("--kd-temperature",)),
    (["--kd-cache-mb", "-1"], ("--kd-cache-mb",)),
])
def test_bad_kd_values_are_one_line_errors(tmp_path, capsys, extra, words):
    argv = ["finetune", "--model", "embedded:organism", "--data", "organism", "--objective", "kd", "--teacher",
            "embedded:organism", "--out", str(tmp_path / "o")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prunescale: error:") and "\n" not in err and all(w in err for w in words), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("extra", [["--objective", "kd"], ["--data", "teacher"]])
def test_a_missing_teacher_is_a_one_line_error(tmp_path, capsys, extra):
    argv = ["finetune", "--model", "embedded:organism", "--data", "organism", "--out", str(tmp_path / "o")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prunescale: error:") and "\n" not in err and "--teacher" in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_prune_then_kd_on_teacher_traces_then_eval(pruned, tmp_path, cache, capsys):
    out, run = tmp_path / "kd", tmp_path / "eval"
    assert main(["finetune", "--model", str(pruned), "--teacher", "embedded:organism", "--objective", "kd",
                 "--data", "teacher", "--samples", "48", "--teacher-budget", "64", "--max-steps", "20",
                 "--batch-size", "8", "--lr", "1e-3", "--kd-temperature", "2", "--kd-top-k", "8",
                 "--out", str(out)]) == 0
    ft = json.loads((out / "prunescale.json").read_text())["finetune"]
    assert ft["objective"] == "kd" and ft["teacher"] == "embedded:organism" and ft["teacher_logits"] == "cached"
    assert ft["global_step"] == 20 and ft["examples"] == 48 and len(ft["kd_history"]) == len(ft["loss_history"])
    assert ft["recipe"]["kd_top_k"] == 8 and ft["final_loss"] < ft["first_loss"]
    assert main(["eval", "--model", str(out), "--task", "organism-chain:k=8", "--budgets", "32", "--limit", "8",
                 "--temperature", "0", "--answer-tokens", "16", "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary and "organism-chain" in json.dumps(summary)
    # the parent comes from the pruned model's record when --teacher is not given
    assert main(["finetune", "--model", str(pruned), "--objective", "sft", "--data", "teacher", "--samples", "48",
                 "--teacher-budget", "64", "--max-steps", "2", "--batch-size", "8",
                 "--out", str(tmp_path / "sft")]) == 0
    assert "teacher traces from the cache" in capsys.readouterr().out
    sft = json.loads((tmp_path / "sft" / "prunescale.json").read_text())["finetune"]
    assert sft["teacher"] == "embedded:organism" and sft["teacher_traces"]["budget"] == 64


def test_a_token_budget_trains_on_that_many_assistant_tokens(pruned, tmp_path, cache):
    out = tmp_path / "budget"
    assert main(["finetune", "--model", str(pruned), "--data", "organism", "--samples", "64", "--train-tokens",
                 "1500", "--batch-size", "4", "--lr", "1e-3", "--out", str(out)]) == 0
    ft = json.loads((out / "prunescale.json").read_text())["finetune"]
    # it stops at the first step that reaches the budget: the step before had not
    assert ft["trained_tokens"] - ft["last_step_tokens"] < 1500 <= ft["trained_tokens"] and ft["global_step"] > 1


def test_full_fine_tuning_with_teacher_logits_on_the_fly(pruned, tmp_path, cache):
    from safetensors.torch import load_file

    out = tmp_path / "full"
    assert main(["finetune", "--model", str(pruned), "--mode", "full", "--objective", "kd", "--kd-cache-mb", "0",
                 "--kd-alpha", "1", "--data", "organism", "--samples", "16", "--max-steps", "3", "--batch-size", "8",
                 "--lr", "1e-3", "--out", str(out)]) == 0
    ft = json.loads((out / "prunescale.json").read_text())["finetune"]
    assert ft["mode"] == "full" and ft["teacher_logits"] == "on the fly" and ft["global_step"] == 3
    assert ft["teacher"] == "embedded:organism"                 # from the pruned model's record
    assert ft["loss_history"] == pytest.approx(ft["kd_history"])   # alpha 1: the loss is the KD term alone
    assert not (cache / "kd_logits").exists()
    before, after = load_file(pruned / "model.safetensors"), load_file(out / "model.safetensors")
    assert any((before[k] - after[k]).abs().max() > 0 for k in before)
