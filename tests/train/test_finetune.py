"""Recovery fine-tuning on the embedded organism: rendering, loss going down, merged LoRA, resume, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from prunescale.cli.main import main
from prunescale.models.loading import load_model

pytest.importorskip("trl", reason="fine-tuning needs the train extra (part of dev)")


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "pruned"
    assert main(["prune", "--model", "embedded:organism", "--method", "shortgpt", "--remove", "2",
                 "--calibration", "organism", "--calibration-samples", "8", "--out", str(out)]) == 0
    return out


def test_organism_traces_render_exactly_as_training_and_eval_see_them():
    from prunescale.organism.tokenizer import completion_text, prompt_text
    from prunescale.train.data import load_traces
    from prunescale.train.render import render

    org = load_model("embedded:organism")
    traces = load_traces("organism", samples=8)
    rows = render(traces, org.tokenizer, org.model.config)
    for t, r in zip(traces, rows):
        assert r["prompt"] + r["completion"] == prompt_text(org.tokenizer, t.question) + \
            completion_text(t.thinking, t.answer)
        assert r["completion"].endswith("<|im_end|>") and r["prompt"].endswith("<think>\n")


def test_only_the_completion_is_trained_on(tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    from prunescale.train.data import load_traces
    from prunescale.train.render import render

    org = load_model("embedded:organism")
    rows = render(load_traces("organism", samples=2), org.tokenizer, org.model.config)
    trainer = SFTTrainer(model=org.model, processing_class=org.tokenizer, train_dataset=datasets.Dataset.from_list(rows),
                         args=SFTConfig(output_dir=str(tmp_path), completion_only_loss=True, report_to="none",
                                       bf16=False, activation_checkpointing=False))
    batch = trainer.data_collator([trainer.train_dataset[0]])
    prompt_len = len(org.tokenizer(rows[0]["prompt"], add_special_tokens=False)["input_ids"])
    labels = batch["labels"][0].tolist()
    assert all(x == -100 for x in labels[:prompt_len]) and all(x != -100 for x in labels[prompt_len:])


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_loss_goes_down_and_the_model_reloads_and_generates(pruned, tmp_path, mode):
    out = tmp_path / mode
    assert main(["finetune", "--model", str(pruned), "--data", "organism", "--samples", "48", "--mode", mode,
                 "--lr", "1e-3", "--max-steps", "16", "--save-steps", "4", "--batch-size", "8", "--out", str(out)]) == 0
    record = json.loads((out / "prunescale.json").read_text())
    ft = record["finetune"]
    assert ft["mode"] == mode and ft["global_step"] == 16 and ft["examples"] == 48
    assert ft["final_loss"] < 0.7 * ft["first_loss"]
    assert record["parent_record"]["method"] == "shortgpt" and len(record["removed_layers"]) == 2
    assert ft["recipe"]["lora_r"] == 16 and ft["recipe"]["adam_beta2"] == 0.95
    assert not (out / "adapter_config.json").exists()          # merged: a plain model
    reloaded = load_model(str(out))
    assert reloaded.model.config.num_hidden_layers == 6
    from prunescale.generate import BACKENDS, Forcing, Request, Sampling, get_profile

    be = BACKENDS.get("hf")(reloaded.model, reloaded.tokenizer,
                            get_profile("auto", reloaded.model.config, reloaded.tokenizer))
    (s,) = be.generate([Request("start=ab steps=2", 0)], Forcing(budget=32, answer_tokens=24), Sampling(0))
    assert s.thinking_tokens > 0 and s.text


def test_self_distillation_traces_come_from_correct_generations(tmp_path):
    run = tmp_path / "run"
    assert main(["eval", "--model", "embedded:organism", "--task", "organism-chain:k=2", "--budgets", "64",
                 "--temperature", "0", "--limit", "4", "--out", str(run)]) == 0
    from prunescale.train.data import load_traces

    traces = load_traces(f"self:{run}")
    assert len(traces) == 4 and all(t.question.startswith("start=") for t in traces)
    assert all("Final Answer:" in t.completion for t in traces)


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(pruned, tmp_path):
    """SIGKILL after a checkpoint, restart with --resume: the step count goes on from that checkpoint and the
    result is the model an uninterrupted run writes (same weights, same loss history)."""
    cmd = [sys.executable, "-m", "prunescale", "finetune", "--model", str(pruned), "--data", "organism",
           "--samples", "64", "--mode", "full", "--lr", "1e-3", "--max-steps", "60", "--save-steps", "5",
           "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out, ckpt = tmp_path / "resumed", tmp_path / "resumed-checkpoints"
    proc = subprocess.Popen(cmd + ["--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (ckpt / "checkpoint-10" / "trainer_state.json").is_file():
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()                                    # nothing half-written
    done = sorted(int(p.name.split("-")[1]) for p in ckpt.glob("checkpoint-*"))
    assert done and 10 <= done[-1] < 60
    assert subprocess.run(cmd + ["--out", str(out), "--resume"], env=env, capture_output=True).returncode == 0
    ft = json.loads((out / "prunescale.json").read_text())["finetune"]
    assert ft["global_step"] == 60 and ft["resumed_from"].endswith(tuple(f"checkpoint-{d}" for d in done))
    state = json.loads((ckpt / "checkpoint-60" / "trainer_state.json").read_text())
    assert state["global_step"] == 60
    assert [h["step"] for h in state["log_history"] if "loss" in h] == list(range(5, 61, 5))   # no step twice

    straight = tmp_path / "straight"
    assert subprocess.run(cmd + ["--out", str(straight)], env=env, capture_output=True).returncode == 0
    ref = json.loads((straight / "prunescale.json").read_text())["finetune"]
    assert ft["loss_history"] == pytest.approx(ref["loss_history"], rel=1e-4)
    from safetensors.torch import load_file

    a, b = load_file(straight / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-5 for k in a)


def test_bad_input_is_one_line_before_training(pruned, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    notok = tmp_path / "notok"
    shutil.copytree(pruned, notok)
    for f in notok.glob("tokenizer*"):
        f.unlink()
    cases = [
        (["--data", str(bad)], ("thinking", str(bad))),
        (["--data", str(empty)], ("empty",)),
        (["--data", "organism", "--mode", "qlora"], ("qlora", "lora, full")),
        (["--data", "organism", "--model", str(notok)], ("no tokenizer",)),
    ]
    for extra, messages in cases:
        argv = ["finetune", "--model", str(pruned), "--out", str(tmp_path / "o")] + extra
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("prunescale: error:") and "\n" not in err
        assert all(m in err for m in messages), err
        assert not (tmp_path / "o").exists()
