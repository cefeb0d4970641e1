"""Fragility in a study: every pruned variant scored once into fragility/<id>.json (resumable), off by the study
option, and carried into report_data.json beside the measured loss of test-time scaling."""

from __future__ import annotations

import json

import pytest

from prunescale.errors import PrunescaleError
from prunescale.fragility import study as fstudy
from prunescale.contract.study_dir import StudyDir
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

STUDY = {
    "name": "frag",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "prune": {"calibration": "organism", "calibration_samples": 4},
    "tasks": [{"task": "organism-chain:k=2", "label": "chain", "budgets": [8, 16], "samples": 2, "temperature": 1.0,
               "limit": 2, "answer_tokens": 24}],
}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("frag_study")
    run_study(parse_study(STUDY), root, log=lambda *_: None)
    return root


def test_each_pruned_variant_scored_once_and_reported(study_dir):
    lay = StudyDir(study_dir)
    assert sorted(p.name for p in (study_dir / "fragility").iterdir()) == ["organism__reverse-1.json"]
    rec = json.loads(lay.fragility_json("organism__reverse-1").read_text())
    assert rec["variant_id"] == "organism__reverse-1" and rec["parent"] == "embedded:organism"
    assert rec["predictors"]["answer_kl"] > 0
    data = json.loads(lay.report_data.read_text())
    entry = data["fragility"]["organism__reverse-1"]
    assert entry["predictors"] == rec["predictors"] and set(entry["tts"]) <= {"auc_loss", "pass_loss", "tasks"}
    assert "organism__base" not in data["fragility"]
    # one pruned variant: the figure is absent and says why, in one line
    html = lay.report_html.read_text()
    assert 'id="fragility"' in html and "fewer than 4 pruned variants" in html


def test_a_second_pass_scores_nothing(study_dir):
    path = StudyDir(study_dir).fragility_json("organism__reverse-1")
    before = path.stat().st_mtime_ns
    assert fstudy.write_study_fragility(StudyDir(study_dir), log=lambda *_: None) == {}
    assert path.stat().st_mtime_ns == before


def test_auto_scores_small_models_only(study_dir, tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(study_dir, root)
    shutil.rmtree(root / "fragility")
    monkeypatch.setattr(fstudy, "SMALL_PARAMS", 1000)   # the organism now counts as large
    assert fstudy.todo(StudyDir(root), small_only=True) == {}
    assert [v.id for v in fstudy.todo(StudyDir(root))["embedded:organism"]] == ["organism__reverse-1"]


def test_a_failure_is_logged_not_raised(study_dir, tmp_path):
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(study_dir, root)
    shutil.rmtree(root / "fragility")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")   # a directory that does not load as a model
    vj = root / "variants" / "organism__reverse-1.json"
    vj.write_text(json.dumps({**json.loads(vj.read_text()), "path": str(bad)}))
    lines = []
    status = fstudy.write_study_fragility(StudyDir(root), log=lines.append)
    assert list(status) == ["organism__reverse-1"] and status["organism__reverse-1"] != "done"
    assert any("organism__reverse-1" in line for line in lines)
    assert not (root / "fragility" / "organism__reverse-1.json").exists()


def test_study_option():
    assert parse_study(STUDY).fragility == "auto"
    assert parse_study({**STUDY, "fragility": False}).fragility is False
    with pytest.raises(PrunescaleError, match="fragility 'sometimes' is not true, false or auto"):
        parse_study({**STUDY, "fragility": "sometimes"})
