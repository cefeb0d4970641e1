"""`prunescale eval --sweep shared` on the organism: the rows of an independent sweep, every budget of a chunk
stored together (kill -9 mid-sweep resumes with nothing lost or doubled), new budgets added to a store."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from prunescale.cli.main import main

ORG = ["--model", "embedded:organism", "--task", "organism-chain:k=8"]
COLS = ("task, problem_id, budget, seed, sample_idx, text, thinking, answer_text, thinking_tokens, answer_tokens, "
        "forced, waits, finished, correct, created")


def rows(out, created=False):
    with sqlite3.connect(out / "results.sqlite") as db:
        got = db.execute(f"SELECT {COLS} FROM generations ORDER BY 1, 2, 3, 4, 5").fetchall()
    return got if created else [r[:-1] for r in got]


def test_resume_after_sigkill_mid_sweep(tmp_path):
    out = tmp_path / "run"
    args = [*ORG, "--limit", "24", "--samples", "2", "--budgets", "16,32,64,none", "--wait", "2",
            "--temperature", "1", "--answer-tokens", "24", "--max-tokens", "300", "--batch-size", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "prunescale", "eval", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial, deadline = [], time.time() + 300
    while time.time() < deadline and proc.poll() is None:   # kill once some chunks are stored
        time.sleep(0.05)
        try:
            if (out / "results.sqlite").exists() and 4 <= len(partial := rows(out, created=True)) < 4 * 40:
                break
        except sqlite3.Error:
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = rows(out, created=True)
    assert 0 < len(partial) < 4 * 48, len(partial)
    per_key = {}
    for r in partial:
        per_key.setdefault(r[1:2] + r[3:5], set()).add(r[2])
    assert all(b == {16, 32, 64, -1} for b in per_key.values())   # a chunk's budgets: all stored or none

    assert main(["eval", *args, "--out", str(out)]) == 0
    final = rows(out, created=True)
    assert len(final) == 4 * 48 and len({r[:5] for r in final}) == len(final)
    assert set(partial) <= set(final)   # what was stored before the kill is kept as it was
    # the first problems again, each budget from scratch: the same rows (sample seeds do not depend on --limit)
    assert main(["eval", *args, "--limit", "3", "--batch-size", "8", "--sweep", "independent",
                 "--out", str(tmp_path / "ind")]) == 0
    ind = rows(tmp_path / "ind")
    assert len(ind) == 3 * 2 * 4 and set(ind) <= set(rows(out))


def test_new_budgets_extend_the_store_as_independent_runs_would(tmp_path):
    out, ind = tmp_path / "run", tmp_path / "ind"
    base = [*ORG, "--limit", "4", "--samples", "2", "--wait", "1", "--temperature", "0", "--answer-tokens", "24",
            "--max-tokens", "200"]
    assert main(["eval", *base, "--budgets", "16,64", "--out", str(out)]) == 0
    first = rows(out, created=True)
    assert main(["eval", *base, "--budgets", "16,32,64,none", "--out", str(out)]) == 0
    assert set(first) <= set(rows(out, created=True)) and len(rows(out)) == 4 * 2 * 4
    assert main(["eval", *base, "--budgets", "16,32,64,none", "--sweep", "independent", "--out", str(ind)]) == 0
    assert rows(out) == rows(ind)
    assert any(r[10] for r in rows(out)) and not all(r[10] for r in rows(out))   # forced and natural rows


def test_sweep_is_recorded_and_checked(tmp_path):
    import json

    from prunescale.contract.run_dir import RunDir
    from prunescale.errors import PrunescaleError
    from prunescale.scaling.evaluate import EvalConfig

    out = tmp_path / "run"
    assert main(["eval", *ORG, "--limit", "1", "--budgets", "8,none", "--max-tokens", "64", "--sweep",
                 "independent", "--out", str(out)]) == 0
    assert "sweep: independent" in RunDir(out).config_yaml.read_text()
    with sqlite3.connect(out / "results.sqlite") as db:
        manifest = json.loads(db.execute("SELECT value FROM manifest WHERE key='config'").fetchone()[0])
    assert manifest["sweep"] == "independent"
    cfg = EvalConfig(model="embedded:organism", tasks=["organism-chain:k=8"], out="x", sweep="both")
    try:
        cfg.validate()
    except PrunescaleError as e:
        assert "--sweep 'both'" in str(e)
    else:
        raise AssertionError("--sweep both was accepted")
