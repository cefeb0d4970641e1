"""A study with `backend: openai` and `serve:`: one `transformers serve` per model variant, stopped after it."""

import json
import shlex
import sys
from pathlib import Path

import pytest

from prunescale.study import serving
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

SERVE = shlex.quote(str(Path(sys.executable).with_name("transformers"))) + \
    " serve --host 127.0.0.1 --port {port} {model}"

STUDY = {
    "name": "served",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "eval": {"backend": "openai", "serve": SERVE, "temperature": 0, "limit": 2, "answer_tokens": 24},
    "tasks": [{"task": "organism-chain:k=8", "label": "chain", "budgets": [40]}],
}


def _recording(monkeypatch):
    servers = []
    start = serving.Server.start

    def recorded(self):
        servers.append(self)
        return start(self)

    monkeypatch.setattr(serving.Server, "start", recorded)
    return servers


@pytest.mark.slow
def test_study_serves_each_variant_and_stops_it(tmp_path, monkeypatch):
    servers = _recording(monkeypatch)
    result = run_study(parse_study(STUDY), tmp_path, report=True, log=lambda *_: None)
    assert set(result.values()) == {"done"} and len(result) == 2
    assert len(servers) == 2 and servers[0].model_path != servers[1].model_path
    assert not any(s.running for s in servers)
    summaries = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("cells/*/summary.json"))]
    assert len(summaries) == 2
    base = [s for s in summaries if s["tasks"]["organism-chain:k=8"]["budgets"]["40"]["accuracy"] == 1.0]
    assert base   # the unpruned organism answers every chain at budget 40, as with hf


def test_a_server_that_dies_fails_its_cells_in_one_line(tmp_path, monkeypatch):
    servers = _recording(monkeypatch)
    spec = {**STUDY, "remove": [], "methods": [],
            "eval": {**STUDY["eval"], "serve": f"{shlex.quote(sys.executable)} -c 'raise SystemExit(3)' {{model}} {{port}}"}}
    result = run_study(parse_study(spec), tmp_path, report=False, log=lambda *_: None)
    assert set(result.values()) == {"failed"}
    err = next(tmp_path.glob("cells/*/error.txt")).read_text()
    assert "exited with 3 before answering" in err
    assert not any(s.running for s in servers)
