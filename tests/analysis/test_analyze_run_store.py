"""analyze --run: our results store (real s1.1-7B traces written as store rows) -> analysis files."""

import json
import subprocess
import sys

from prunescale.analysis.lmeval import read_lmeval_jsonl
from prunescale.scaling.store import COLUMNS, Store

LOG = "s1.1-7B_aime24_lmeval_samples.jsonl"


def _store_from_log(shared_data, run_dir, loop_text):
    recs = read_lmeval_jsonl(shared_data / LOG)
    rows = []
    for r in recs:
        row = {c: 0 for c in COLUMNS}
        row.update(task="aime24", problem_id=r.problem_id, budget=8192, seed=0, sample_idx=r.sample,
                   sample_seed=r.sample, prompt_hash="h", text=r.response, thinking=r.response, answer_text="",
                   extracted=r.extracted_answer, gold="x", correct=int(bool(r.correct)), wall_s=1.0,
                   thinking_tokens=8192, forced=1)
        rows.append(row)
    loop = dict(rows[0], problem_id="loop", sample_idx=0, text=loop_text, thinking=loop_text, correct=0)
    store = Store(run_dir / "results.sqlite")
    store.set_manifest({"config": {"model": "s1.1-7B-as-run"}})
    store.add(rows + [loop])
    store.close()
    return len(rows) + 1


def test_analyze_run_directory(shared_data, tmp_path):
    loop_text = "Let me compute the sum again. " + "So the answer is 12, but wait, let me recheck that. " * 60
    n = _store_from_log(shared_data, tmp_path, loop_text)
    r = subprocess.run([sys.executable, "-m", "prunescale", "analyze", "--run", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "analysis.json").read_text())
    rows = data["responses"]
    assert len(rows) == n and (tmp_path / "analysis.csv").is_file()
    looped = [x for x in rows if x["problem_id"] == "loop"]
    assert looped and looped[0]["looping"] and looped[0]["loop_spans"]
    assert not any(x["looping"] for x in rows if x["problem_id"] != "loop")
    assert {x.get("model") for x in rows} == {"s1.1-7B-as-run"}


def test_analyze_run_without_store_is_a_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "prunescale", "analyze", "--run", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no results store" in r.stderr and "Traceback" not in r.stderr
