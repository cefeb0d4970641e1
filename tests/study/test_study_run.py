"""The study runner on the embedded organism: a real grid, resume after SIGKILL, a failing cell, bad files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from prunescale.cli.main import main
from prunescale.study.run import run_study, status_rows
from prunescale.study.spec import parse_study

STUDY = {
    "name": "t",
    "models": ["embedded:organism"],
    "methods": ["shortgpt", "reverse"],
    "remove": [1],
    "prune": {"calibration": "organism", "calibration_samples": 8},
    "eval": {"batch_size": 16},
    "tasks": [
        {"task": "organism-chain:k=4", "label": "chain", "budgets": [8, 40], "samples": 2, "temperature": 1.0,
         "limit": 4},
        {"task": "organism-facts", "label": "facts", "budgets": [8], "temperature": 0, "limit": 8},
    ],
}


def _rows(cell_dir: Path) -> int:
    with sqlite3.connect(cell_dir / "results.sqlite") as c:
        return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]


def _status(root: Path) -> dict:
    with sqlite3.connect(root / "study.sqlite") as c:
        return {r[0]: (r[1], r[2], r[3]) for r in c.execute("SELECT id, status, error, attempts FROM cells")}


@pytest.fixture(scope="module")
def done_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    result = run_study(parse_study(STUDY), root, report=False, log=lambda *_: None)
    return root, result


def test_grid_runs_every_cell_with_the_baseline(done_study):
    root, result = done_study
    assert sorted(result) == sorted(f"organism__{v}__{t}" for v in ("base", "shortgpt-1", "reverse-1")
                                    for t in ("chain", "facts"))
    assert set(result.values()) == {"done"}
    for cid in result:
        cell = root / "cells" / cid
        summary = json.loads((cell / "summary.json").read_text())
        cj = json.loads((cell / "cell.json").read_text())
        assert cj["task"] in summary["tasks"]
        assert (cell / "analysis.json").is_file()
        # chain: 4 problems x 2 samples x 2 budgets; facts: 8 x 1 x 1
        assert _rows(cell) == (16 if cj["task_label"] == "chain" else 8)
    # each pruned model exists once, with its record; the baseline is not copied
    assert sorted(p.name for p in (root / "models").iterdir()) == ["organism__reverse-1", "organism__shortgpt-1"]
    variant = json.loads((root / "variants" / "organism__shortgpt-1.json").read_text())
    base = json.loads((root / "variants" / "organism__base.json").read_text())
    assert variant["layers"] == 7 and base["layers"] == 8
    assert variant["params"] < base["params"] and len(variant["scores"]) == 8
    assert len(variant["removed_layers"]) == 1
    # the unpruned organism solves short chains when the budget fits them
    base_chain = json.loads((root / "cells" / "organism__base__chain" / "summary.json").read_text())
    assert base_chain["tasks"]["organism-chain:k=4"]["budgets"]["40"]["accuracy"] >= 0.75


def test_second_run_does_nothing_and_status_is_done(done_study):
    root, _ = done_study
    before = _status(root)
    counts = {c.name: _rows(c) for c in (root / "cells").iterdir()}
    mtimes = {c.name: (c / "summary.json").stat().st_mtime for c in (root / "cells").iterdir()}
    run_study(parse_study(STUDY), root, report=False, log=lambda *_: None)
    assert _status(root) == before                 # no attempt re-counted
    assert {c.name: _rows(c) for c in (root / "cells").iterdir()} == counts
    assert {c.name: (c / "summary.json").stat().st_mtime for c in (root / "cells").iterdir()} == mtimes
    assert {r["status"] for r in status_rows(parse_study(STUDY), root)} == {"done"}


def test_new_budget_reruns_only_the_new_work(done_study, tmp_path):
    root, _ = done_study
    spec = json.loads(json.dumps(STUDY))
    spec["tasks"][1]["budgets"] = [8, 16]
    study = parse_study(spec)
    assert {r["status"] for r in status_rows(study, root) if r["task"] == "organism-facts"} == {"todo"}
    run_study(study, root, report=False, log=lambda *_: None)
    assert _rows(root / "cells" / "organism__base__facts") == 16
    assert _status(root)["organism__base__chain"][2] == 1   # other cells untouched


def test_failed_cell_is_recorded_and_others_go_on(tmp_path):
    spec = json.loads(json.dumps(STUDY))
    spec["methods"] = ["reverse"]
    spec["tasks"] = [spec["tasks"][1], {"task": f"jsonl:{tmp_path / 'missing.jsonl'}", "label": "broken",
                                        "budgets": [8]}]
    result = run_study(parse_study(spec), tmp_path / "s", report=False, log=lambda *_: None)
    assert result["organism__base__facts"] == "done" and result["organism__reverse-1__facts"] == "done"
    assert result["organism__base__broken"] == "failed"
    status, error, _ = _status(tmp_path / "s")["organism__reverse-1__broken"]
    assert status == "failed" and "missing.jsonl" in error and "\n" not in error
    # the CLI reports the failure in its status table and exit code
    study_file = tmp_path / "s.yaml"
    study_file.write_text(yaml.safe_dump(spec))
    assert main(["study", "run", str(study_file), "--out", str(tmp_path / "s"), "--no-report"]) == 1


def test_variant_that_cannot_be_built_fails_its_cells_only(tmp_path):
    spec = json.loads(json.dumps(STUDY))
    spec["methods"] = ["reverse", "laco"]
    spec["tasks"] = [spec["tasks"][1]]
    spec["prune"]["options"] = {"laco": {"threshold": 1.01}}   # no merge can pass: LaCo finds nothing
    result = run_study(parse_study(spec), tmp_path, report=False, log=lambda *_: None)
    assert result["organism__laco-1__facts"] == "failed"
    assert result["organism__reverse-1__facts"] == "done" and result["organism__base__facts"] == "done"
    assert "laco" in _status(tmp_path)["organism__laco-1__facts"][1].lower()


@pytest.mark.slow
def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path):
    spec = json.loads(json.dumps(STUDY))
    spec["tasks"][0]["limit"] = 8
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(spec))
    root = tmp_path / "run"
    cmd = [sys.executable, "-m", "prunescale", "study", "run", str(study_file), "--out", str(root), "--no-report"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    try:
        # kill once at least two cells are done and a later one is running
        while time.time() < deadline:
            time.sleep(0.2)
            if (root / "study.sqlite").is_file():
                try:
                    st = _status(root)
                except sqlite3.OperationalError:
                    continue
                if sum(s[0] == "done" for s in st.values()) >= 2 and any(s[0] == "running" for s in st.values()):
                    break
        assert proc.poll() is None, "the study finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    killed = _status(root)
    done_before = {c for c, s in killed.items() if s[0] == "done"}
    assert any(s[0] == "running" for s in killed.values())
    assert {r["status"] for r in status_rows(parse_study(spec), root) if r["cell"] not in done_before} \
        <= {"todo", "interrupted"}
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    final = _status(root)
    assert {s[0] for s in final.values()} == {"done"} and len(final) == 6
    for c in done_before:
        assert final[c][2] == 1                      # done cells were not run again
    for cell in (root / "cells").iterdir():
        cj = json.loads((cell / "cell.json").read_text())
        assert _rows(cell) == (32 if cj["task_label"] == "chain" else 8)   # nothing lost, nothing duplicated


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "unknown study key"),
    ({"methods": ["nope"]}, "nope"),
    ({"remove": [0]}, "remove value 0"),
    ({"tasks": [{"task": "no-such-task"}]}, "no-such-task"),
    ({"recovery": ["qlora"]}, "recovery 'qlora'"),
    ({"models": [{"spec": "embedded:organism", "tasks": ["nope"]}]}, "task 'nope'"),
    ({"recovery": ["lora"], "finetune": {"data": "organism", "learning_rat": 0.1}}, "fine-tuning option 'learning_rat'"),
    ({"eval": {"budget": [8]}}, "unknown eval option(s) budget"),
    ({"prune": {"options": {"laco": {"treshold": 0.5}}}}, "method 'laco' has no option 'treshold'"),
])
def test_bad_study_file_is_one_line_error(tmp_path, capsys, change, message):
    study_file = tmp_path / "bad.yaml"
    study_file.write_text(yaml.safe_dump({**STUDY, **change}))
    assert main(["study", "run", str(study_file), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prunescale: error:") and message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_flags_build_a_study_and_status_lists_cells(tmp_path, capsys):
    out = tmp_path / "flags"
    assert main(["study", "status", "--models", "embedded:organism", "--methods", "reverse", "--remove", "1,2",
                 "--tasks", "organism-facts", "--budgets", "8", "--limit", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "organism__reverse-2__organism-facts" in text and "todo: 3" in text


def test_table_shows_every_budget_per_variant(done_study, capsys):
    root, _ = done_study
    assert main(["study", "table", str(root), "--task", "chain", "--metric", "pass@2", "--markdown"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| variant | 8 | 40 |" and len(out) == 2 + 3
    base = json.loads((root / "cells" / "organism__base__chain" / "summary.json").read_text())
    want = base["tasks"]["organism-chain:k=4"]["budgets"]["40"]["pass@k"]["2"]
    assert "| base | " in out[2] and out[2].endswith(f"| {want:.2f} |")
    assert main(["study", "table", str(root), "--task", "nope"]) == 2


def test_recovery_variants_are_fine_tuned_from_the_cached_pruned_model(tmp_path):
    pytest.importorskip("trl", reason="fine-tuning needs the train extra (part of dev)")
    spec = json.loads(json.dumps(STUDY))
    spec.update(methods=["reverse"], recovery=["lora"], tasks=[spec["tasks"][1]],
                finetune={"data": "organism", "samples": 16, "max_steps": 4, "lr": 0.001, "save_steps": 2})
    result = run_study(parse_study(spec), tmp_path, report=False, log=lambda *_: None)
    assert result == {"organism__base__facts": "done", "organism__reverse-1__facts": "done",
                      "organism__reverse-1+lora__facts": "done"}
    record = json.loads((tmp_path / "models" / "organism__reverse-1+lora" / "prunescale.json").read_text())
    assert record["parent_path"] == str(tmp_path / "models" / "organism__reverse-1")
    assert record["finetune"]["global_step"] == 4
    variant = json.loads((tmp_path / "variants" / "organism__reverse-1+lora.json").read_text())
    assert variant["recovery"] == "lora" and variant["n_removed"] == 1 and variant["layers"] == 7
    assert variant["finetune"]["mode"] == "lora" and variant["removed_layers"] == [7]
