"""Several recovery recipes per pruned variant (issue 25): ``finetune:`` as a list of named recipes, each a
``+NAME`` variant fine-tuned from the cached pruned model, KD and teacher traces learning from the unpruned one."""

from __future__ import annotations

import json

import pytest
import yaml

from prunescale.cli.main import main
from prunescale.study.run import run_study
from prunescale.study.spec import parse_study

STUDY = {
    "name": "r",
    "models": ["embedded:organism"],
    "methods": ["reverse"],
    "remove": [1],
    "prune": {"calibration": "organism", "calibration_samples": 8},
    "finetune": [
        {"name": "sft-given", "data": "organism", "samples": 16, "max_steps": 3, "lr": 0.001},
        {"name": "kd-teacher", "objective": "kd", "data": "teacher", "samples": 16, "teacher_budget": 32,
         "max_steps": 3, "lr": 0.001, "kd_top_k": 4},
    ],
    "eval": {"batch_size": 16},
    "tasks": [{"task": "organism-facts", "label": "facts", "budgets": [8], "temperature": 0, "limit": 8}],
}


@pytest.mark.slow
def test_named_recipes_are_variants_of_their_own(tmp_path, monkeypatch):
    pytest.importorskip("trl", reason="fine-tuning needs the train extra (part of dev)")
    monkeypatch.setenv("PRUNESCALE_CACHE", str(tmp_path / "cache"))
    study = parse_study(json.loads(json.dumps(STUDY)))
    assert [v.variant for v in study.variants()] == ["base", "reverse-1", "reverse-1+sft-given",
                                                     "reverse-1+kd-teacher"]
    result = run_study(study, tmp_path / "s", report=False, log=lambda *_: None)
    assert set(result.values()) == {"done"} and len(result) == 4
    models = tmp_path / "s" / "models"
    kd = json.loads((models / "organism__reverse-1+kd-teacher" / "prunescale.json").read_text())["finetune"]
    sft = json.loads((models / "organism__reverse-1+sft-given" / "prunescale.json").read_text())["finetune"]
    assert kd["objective"] == "kd" and kd["teacher"] == "embedded:organism" and kd["data"] == "teacher"
    assert kd["recipe"]["kd_top_k"] == 4 and kd["global_step"] == 3
    assert sft["objective"] == "sft" and sft["data"] == "organism" and "teacher" not in sft
    # recovery picks a subset of the names
    one = parse_study({**json.loads(json.dumps(STUDY)), "recovery": ["kd-teacher"]})
    assert [v.variant for v in one.variants()] == ["base", "reverse-1", "reverse-1+kd-teacher"]


@pytest.mark.parametrize("finetune, recovery, message", [
    ([{"name": "Sft+x", "data": "organism"}], None, "needs a name"),
    ([{"data": "organism"}], None, "needs a name"),
    ([{"name": "a", "data": "organism"}, {"name": "a", "data": "organism"}], None, "'a' is listed twice"),
    ([{"name": "a", "data": "organism", "kd_alpah": 0.5}], None, "fine-tuning option 'kd_alpah'"),
    ([{"name": "a", "data": "organism"}], ["lora"], "recovery 'lora' is not one of a"),
    ([], None, "lists no recipe"),
    ([{"name": "a", "data": "organism", "objective": "distil"}], None, "recipe 'a': --objective 'distil'"),
    ([{"name": "a", "kd_alpha": 0.5}], None, "needs 'data'"),
])
def test_bad_recipes_are_one_line_errors(tmp_path, capsys, finetune, recovery, message):
    spec = {**STUDY, "finetune": finetune}
    if recovery:
        spec["recovery"] = recovery
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    assert main(["study", "run", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prunescale: error:") and message in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()
