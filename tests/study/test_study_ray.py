"""``--executor ray`` on a local Ray instance: cells run as Ray tasks and land in the same store."""

from __future__ import annotations

import json
import sqlite3

import pytest

from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

ray = pytest.importorskip("ray", reason="Ray is part of the dev extra")

STUDY = {
    "name": "ray",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "executor": {"name": "ray", "num_cpus": 1, "local_cpus": 2},
    "tasks": [{"task": "organism-facts", "label": "facts", "budgets": [8], "temperature": 0, "limit": 8},
              {"task": "organism-chain:k=3", "label": "chain", "budgets": [32], "temperature": 0, "limit": 4,
               "resources": {"num_cpus": 2}}],
}


@pytest.mark.slow
def test_ray_executor_runs_cells_as_tasks(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("RAY_DISABLE_USAGE_STATS", "1")
    result = run_study(parse_study(STUDY), tmp_path, report=False, log=lambda *_: None)
    assert set(result.values()) == {"done"} and len(result) == 4
    with sqlite3.connect(tmp_path / "study.sqlite") as c:
        pids = {r[0] for r in c.execute("SELECT pid FROM cells")}
    import os

    assert os.getpid() not in pids                      # the cells ran in Ray worker processes
    base = json.loads((tmp_path / "cells" / "organism__base__facts" / "summary.json").read_text())
    assert base["tasks"]["organism-facts"]["budgets"]["8"]["accuracy"] >= 0.95
    # a local re-run of the same study finds everything done
    local = {**STUDY, "executor": {"name": "local"}}
    assert set(run_study(parse_study(local), tmp_path, report=False, log=lambda *_: None).values()) == {"done"}
