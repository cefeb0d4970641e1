"""``prunescale knowledge``: the builtin engine against real lm-evaluation-harness on the same local rows."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from prunescale.cli.main import main


def _read(out: Path) -> tuple[dict, dict]:
    report = json.loads((out / "knowledge.json").read_text())
    samples = {(s["task"], s["doc_id"]): s for s in map(json.loads, (out / "knowledge_samples.jsonl").open())}
    return report, samples


def _local_tasks(tmp: Path, shared_data: Path) -> None:
    """lm-eval task YAMLs made from lm-eval's own mmlu and arc_easy configs, reading local JSONL (no network)."""
    import lm_eval

    tasks_dir = Path(lm_eval.__file__).parent / "tasks"
    rows = [json.loads(line) for line in (shared_data / "mmlu_stem_test.jsonl").open()][:20]
    (tmp / "mmlu.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    arc = [{"id": f"q{i}", "question": r["question"], "answerKey": "ABCD"[r["answer"]],
            "choices": {"text": r["choices"], "label": list("ABCD")}} for i, r in enumerate(rows[:8])]
    (tmp / "arc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in arc))
    local = {"dataset_path": "json", "test_split": "test"}
    kwargs = lambda name: {"data_files": {"test": str(tmp / name)}, "cache_dir": str(tmp / "cache")}  # noqa: E731

    mmlu = yaml.safe_load((tasks_dir / "mmlu" / "default" / "_default_template_yaml").read_text())
    for key in ("dataset_path", "fewshot_split", "fewshot_config"):
        mmlu.pop(key, None)
    mmlu.update(local, task="local_mmlu", dataset_kwargs=kwargs("mmlu.jsonl"),
                # lm-eval's per-subject description (mmlu_<subject>.yaml), from the row's subject
                description="The following are multiple choice questions (with answers) about "
                "{{type | replace('_', ' ')}}.\n\n",
                metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                             {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}])
    arc_cfg = yaml.safe_load((tasks_dir / "arc" / "arc_easy.yaml").read_text())
    for key in ("tag", "dataset_name", "training_split", "validation_split"):
        arc_cfg.pop(key, None)
    arc_cfg.update(local, task="local_arc", dataset_kwargs=kwargs("arc.jsonl"))
    (tmp / "tasks").mkdir()
    (tmp / "tasks" / "local_mmlu.yaml").write_text(yaml.safe_dump(mmlu))
    (tmp / "tasks" / "local_arc.yaml").write_text(yaml.safe_dump(arc_cfg))


def test_builtin_agrees_with_lm_eval(tmp_path, shared_data, monkeypatch, capsys):
    pytest.importorskip("lm_eval")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _local_tasks(tmp_path, shared_data)
    model = ["--model", "embedded:smollm2-135m", "--limit", "20", "--batch-size", "4"]
    assert main(["knowledge", "--engine", "lm-eval", "--include-path", str(tmp_path / "tasks"),
                 "--tasks", "local_mmlu,local_arc", "--out", str(tmp_path / "lm"), *model]) == 0
    assert "local_mmlu" in capsys.readouterr().out
    assert main(["knowledge", "--engine", "builtin", "--tasks", "mmlu", "--data", str(tmp_path / "mmlu.jsonl"),
                 "--out", str(tmp_path / "b_mmlu"), *model]) == 0
    assert main(["knowledge", "--engine", "builtin", "--tasks", "arc_easy", "--data", str(tmp_path / "arc.jsonl"),
                 "--out", str(tmp_path / "b_arc"), *model]) == 0
    lm_report, lm = _read(tmp_path / "lm")
    assert lm_report["engine"] == "lm-eval" and lm_report["versions"]["lm_eval"]
    worst = 0.0
    for ours, theirs in (("mmlu", "local_mmlu"), ("arc_easy", "local_arc")):
        report, mine = _read(tmp_path / f"b_{ours.split('_')[0]}")
        n = len(mine)
        assert n == lm_report["tasks"][theirs]["n"] == (20 if ours == "mmlu" else 8)
        for i in range(n):
            a, b = mine[(ours, i)], lm[(theirs, i)]
            assert a["context"] == b["context"] and a["continuations"] == b["continuations"]
            assert a["gold"] == b["gold"] and a["acc"] == b["acc"] and a["acc_norm"] == b["acc_norm"]
            worst = max(worst, *(abs(x - y) for x, y in zip(a["logliks"], b["logliks"])))
        for metric in ("acc", "acc_norm", "acc_stderr"):
            assert report["tasks"][ours][metric] == pytest.approx(lm_report["tasks"][theirs][metric], abs=1e-9)
        assert report["tasks"][ours]["engine"] == "builtin" and report["tasks"][ours]["model"] == model[1]
    assert worst < 1e-3, worst


def test_organism_facts_builtin(tmp_path, capsys):
    assert main(["knowledge", "--engine", "builtin", "--model", "embedded:organism", "--tasks", "organism-facts",
                 "--limit", "32", "--out", str(tmp_path)]) == 0
    report, samples = _read(tmp_path)
    t = report["tasks"]["organism-facts"]
    assert t["n"] == 32 == len(samples) and t["acc"] >= 0.95 and t["engine"] == "builtin"
    assert {"prunescale", "torch", "transformers"} <= set(report["versions"])
    assert "organism-facts" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*tmp*"))


def test_clear_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lm_eval", None)      # as if the extra were not installed
    assert main(["knowledge", "--model", "embedded:organism", "--tasks", "mmlu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'prunescale[lm-eval]'" in err and "--engine builtin" in err and len(err.splitlines()) == 1
    assert main(["knowledge", "--model", "embedded:organism", "--tasks", "organism-facts"]) == 2
    assert "built in only" in capsys.readouterr().err
    assert main(["knowledge", "--engine", "builtin", "--model", "embedded:organism", "--tasks", "nope",
                 "--out", str(tmp_path)]) == 2
    assert "unknown knowledge task 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "knowledge.json").exists()
