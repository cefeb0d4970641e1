"""A real, small study directory (contract/study_dir.py) built with the real CLI on the embedded organism, once per session.

Variants: base (unpruned), shortgpt-1, shortgpt-2, reverse-2, and shortgpt-2+lora (a copy of shortgpt-2 standing
in for a recovered model, so the report has a recovered line to draw). Cells: each variant on the long-chain task
(budgets 16, 28 and 40, 2 samples, seeds 0 and 1, 6 problems) and on the knowledge task (budget 16, 8 problems)
and on a greedy two-step chain task (budget 16, 4 problems; with the k=8 task it feeds the chain-length figure),
except reverse-2 on facts, which is recorded as failed in study.sqlite. Every pruned variant gets its early-warning
predictors (fragility/<id>.json), as a study run writes them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

CHAIN, FACTS, LEN2 = "organism-chain:k=8", "organism-facts", "organism-chain:k=2"
VARIANTS = [  # (variant, method, n_removed, recovery)
    ("base", None, 0, None),
    ("shortgpt-1", "shortgpt", 1, None),
    ("shortgpt-2", "shortgpt", 2, None),
    ("reverse-2", "reverse", 2, None),
    ("shortgpt-2+lora", "shortgpt", 2, "lora"),
]
FAILED_CELL = "organism__reverse-2__facts"
FAILED_ERROR = "RuntimeError: CUDA out of memory <tried to allocate 2 GiB> & gave up"

STUDY_YAML = f"""\
name: report-test
models: [embedded:organism]
methods: [shortgpt, reverse]
remove: [1, 2]
recovery: [lora]
prune: {{calibration: organism}}
tasks:
  - {{task: "{CHAIN}", label: chain, budgets: [16, 28, 40], samples: 2, temperature: 1.0, seeds: [0, 1], limit: 6}}
  - {{task: {FACTS}, label: facts, kind: knowledge, budgets: [16], temperature: 1.0, limit: 8}}
  - {{task: "{LEN2}", label: len2, budgets: [16], limit: 4}}
"""


def _cli(*argv: str) -> None:
    from prunescale.cli.main import main

    rc = main(list(argv))
    assert rc == 0, f"prunescale {' '.join(argv)} exited {rc}"


def _params(path: str) -> int:
    from prunescale.models.loading import load_model
    from prunescale.models.surgery import param_count

    return param_count(load_model(path).model)


def build_study(root: Path) -> Path:
    from prunescale.contract.naming import cell_id, variant_id
    from prunescale.contract.study_dir import StudyDir

    lay = StudyDir(root)
    root.mkdir(parents=True, exist_ok=True)
    lay.study_yaml.write_text(STUDY_YAML)
    db = sqlite3.connect(lay.status_db)
    db.execute("CREATE TABLE cells (id TEXT PRIMARY KEY, status TEXT, error TEXT, started REAL, finished REAL, "
               "seconds REAL)")
    for name, method, n, recovery in VARIANTS:
        vid = variant_id("embedded:organism", name)
        record: dict = {}
        if method is None:
            path = "embedded:organism"
        elif recovery:
            parent = lay.model_dir(variant_id("embedded:organism", name.split("+")[0]))
            path = str(lay.model_dir(vid))
            shutil.copytree(parent, path)
            record = json.loads((parent / "prunescale.json").read_text())
        else:
            path = str(lay.model_dir(vid))
            _cli("prune", "--model", "embedded:organism", "--method", method, "--remove", str(n),
                 "--calibration", "organism", "--calibration-samples", "8", "--out", path)
            record = json.loads((Path(path) / "prunescale.json").read_text())
        params = _params(path)
        lay.variant_json(vid).parent.mkdir(parents=True, exist_ok=True)
        lay.variant_json(vid).write_text(json.dumps({
            "id": vid, "model": "embedded:organism", "model_label": "organism", "variant": name, "method": method,
            "n_removed": n, "recovery": recovery, "path": path, "layers": record.get("layers_after", 8),
            "params": params, "size_bytes": params * 4, "removed_layers": record.get("removed_layers", []),
            "merges": record.get("merges", []), "score_name": record.get("score_name"),
            "scores": record.get("scores"), "prune_seconds": record.get("wall_time_s")}, indent=1))
        for task, label, kind, opts in [
            (CHAIN, "chain", "long_chain",
             ["--budgets", "16,28,40", "--samples", "2", "--seeds", "0,1", "--limit", "6", "--temperature", "1"]),
            (FACTS, "facts", "knowledge", ["--budgets", "16", "--limit", "8", "--temperature", "1"]),
            (LEN2, "len2", "long_chain", ["--budgets", "16", "--limit", "4", "--temperature", "0"]),
        ]:
            cid = cell_id(vid, label)
            cdir = lay.cell_dir(cid)
            cdir.mkdir(parents=True)
            (cdir / "cell.json").write_text(json.dumps({
                "id": cid, "variant_id": vid, "task": task, "task_label": label, "kind": kind,
                "eval": {"budgets": [16, 28, 40] if label == "chain" else [16]}}))
            t0 = time.time()
            if cid == FAILED_CELL:
                db.execute("INSERT INTO cells VALUES (?, 'failed', ?, ?, ?, 0.1)", (cid, FAILED_ERROR, t0, t0))
                continue
            _cli("eval", "--model", path, "--task", task, "--batch-size", "16",
                 "--answer-tokens", "32", *opts, "--out", str(cdir))
            _cli("analyze", "--run", str(cdir), "--model-name", name)
            db.execute("INSERT INTO cells VALUES (?, 'done', NULL, ?, ?, ?)", (cid, t0, time.time(), time.time() - t0))
    db.commit()
    db.close()
    from prunescale.fragility.run import FragilitySettings
    from prunescale.fragility.study import write_study_fragility

    status = write_study_fragility(lay, FragilitySettings(traces=8, knowledge=8), log=lambda *_: None)
    assert set(status.values()) == {"done"}, status
    return root


@pytest.fixture(scope="session")
def built_study(tmp_path_factory) -> Path:
    """The study directory (treat as read-only; copy it to change it)."""
    return build_study(tmp_path_factory.mktemp("report_study") / "study")
