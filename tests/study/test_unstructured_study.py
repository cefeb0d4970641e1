"""One harness: a study with a layer method and an unstructured method, compared at equal parameters."""

import json

import pytest

from prunescale.errors import PrunescaleError
from prunescale.contract.study_dir import StudyDir
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study
from prunescale.study.variants import prune_spec

STUDY = {
    "name": "mixed",
    "models": ["embedded:organism"],
    "methods": ["shortgpt", "wanda"],
    "remove": [1],
    "sparsity": [0.2, 0.5],
    "prune": {"calibration": "organism", "calibration_samples": 8, "allocation": "owl"},
    "eval": {"batch_size": 16, "answer_tokens": 32},
    "tasks": [{"task": "organism-chain:k=4", "label": "chain", "budgets": [40], "temperature": 0, "limit": 6}],
}


def test_grid_names_sparsity_variants_and_specs():
    study = parse_study(STUDY)
    ids = [v.id for v in study.variants()]
    assert ids == ["organism__base", "organism__shortgpt-1", "organism__wanda-s0.2", "organism__wanda-s0.5"]
    specs = {v.id: prune_spec(study, v) for v in study.variants() if v.method}
    assert specs["organism__wanda-s0.2"].sparsity == 0.2 and specs["organism__wanda-s0.2"].remove is None
    assert specs["organism__wanda-s0.2"].allocation == "owl"
    assert specs["organism__shortgpt-1"].allocation == "uniform" and specs["organism__shortgpt-1"].remove == 1


@pytest.mark.parametrize("change,message", [
    ({"sparsity": [0.2, 1.5]}, "sparsity value 1.5"),
    ({"sparsity": []}, "need a 'sparsity' list"),
])
def test_bad_sparsity_is_named(change, message):
    with pytest.raises(PrunescaleError, match=message):
        parse_study({**STUDY, **change})


@pytest.mark.slow
def test_study_with_layer_and_unstructured_methods_reports_both_at_equal_parameters(tmp_path):
    result = run_study(parse_study(STUDY), tmp_path, log=lambda *_: None)
    assert set(result.values()) == {"done"}
    variants = StudyDir(tmp_path).variants()
    w = variants["organism__wanda-s0.5"]
    assert w.sparsity == 0.5 and w.allocation == "owl" and w.measured_sparsity == pytest.approx(0.5, abs=0.01)
    assert w.layers == 8 and 0 < w.params_removed_share < 0.5   # embeddings are never pruned
    s = variants["organism__shortgpt-1"]
    assert s.sparsity is None and s.layers == 7 and s.params_removed_share == pytest.approx(1 - s.params / w.params)
    assert variants["organism__base"].params_removed_share == 0.0
    data = json.loads((tmp_path / "report_data.json").read_text())
    md = (tmp_path / "report.md").read_text()
    assert "Every method at equal parameters" in md
    section = md.split("Every method at equal parameters", 1)[1]
    for name in ("shortgpt-1", "wanda-s0.2", "wanda-s0.5"):
        assert name in section
    assert data["variants"]["organism__wanda-s0.2"]["params_removed_share"] > 0
