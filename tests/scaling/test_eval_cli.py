"""prunescale eval end to end on SmolLM2: store, summary, resume without regeneration, kill -9 resume."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

GSM = ["--task", "gsm8k", "--limit", "2", "--budgets", "6,12", "--samples", "2", "--answer-tokens", "6"]


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "prunescale", *args], capture_output=True, text=True, timeout=900, **kw)


def rows(out):
    with sqlite3.connect(out / "results.sqlite") as db:
        return db.execute("SELECT task, problem_id, budget, seed, sample_idx, created, thinking_tokens, forced "
                          "FROM generations ORDER BY 1,2,3,4,5").fetchall()


@pytest.mark.slow
def test_eval_writes_store_and_summary_and_resumes(shared_data, tmp_path):
    out = tmp_path / "run"
    args = ["eval", "--model", "embedded:smollm2-135m", *GSM, "--data", str(shared_data / "gsm8k_test.jsonl"),
            "--out", str(out)]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    first = rows(out)
    assert len(first) == 2 * 2 * 2   # problems x budgets x samples
    for x in first:
        assert x[6] <= x[2] and (x[7] == 1) == (x[6] == x[2])   # budget respected; forced iff it was used up
    summary = json.loads((out / "summary.json").read_text())
    cell = summary["tasks"]["gsm8k"]["budgets"]["6"]
    assert cell["n_problems"] == 2 and cell["n_samples"] == 4 and set(cell["pass@k"]) == {"1", "2"}
    assert "gsm8k" in r.stdout and (out / "config.yaml").is_file()

    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert rows(out) == first   # nothing regenerated: same rows, same creation times

    # More samples extend the same store; the re-run config reproduces the command.
    more = cli("eval", "--config", str(out / "config.yaml"), "--samples", "3")
    assert more.returncode == 0, more.stderr
    assert len(rows(out)) == 2 * 2 * 3 and set(first) <= set(rows(out))


@pytest.mark.slow
def test_sigkill_then_resume_loses_and_duplicates_nothing(shared_data, tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "prunescale", "eval", "--model", "embedded:smollm2-135m", "--task", "gsm8k",
            "--data", str(shared_data / "gsm8k_test.jsonl"), "--limit", "6", "--budgets", "6", "--samples", "2",
            "--answer-tokens", "4", "--batch-size", "2", "--temperature", "0", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:   # wait until some batches are committed, then kill mid-run
        time.sleep(0.5)
        if (out / "results.sqlite").exists():
            try:
                if 2 <= len(rows(out)) < 12:
                    break
            except sqlite3.Error:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = rows(out)
    assert 0 < len(partial) < 12
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    final = rows(out)
    keys = [x[:5] for x in final]
    assert len(final) == 12 and len(set(keys)) == 12
    assert set(partial) <= set(final)   # what was there before the kill is kept as it was


def test_bad_eval_input_is_one_line(tmp_path):
    for args, msg in [(["--task", "nope"], "unknown task 'nope'"),
                      (["--task", "gsm8k", "--budgets", "12,-3"], "is not a positive integer"),
                      (["--task", "gsm8k", "--backend", "vllm-magic"], "unknown backend")]:
        r = cli("eval", "--model", "embedded:smollm2-135m", *args, "--out", str(tmp_path / "o"))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert msg in r.stderr, r.stderr
        assert not (tmp_path / "o" / "results.sqlite").exists()
