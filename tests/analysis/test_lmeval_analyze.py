"""lm-eval sample logs -> records -> analysis -> analysis.json / analysis.csv, and the analyze sub-command."""

import argparse
import csv
import json

import pytest

from prunescale.analysis.lmeval import read_lmeval_jsonl
from prunescale.analysis.records import Record
from prunescale.analysis.summary import analyze_records, compare_by_correctness
from prunescale.cli import analyze as analyze_cmd
from prunescale.errors import PrunescaleError

LOG = "s1.1-7B_aime24_lmeval_samples.jsonl"


@pytest.fixture(scope="module")
def log_lines(shared_data):
    with open(shared_data / LOG) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def analysis(shared_data):
    return analyze_records(read_lmeval_jsonl(shared_data / LOG, model="s1.1-7B"))


def test_reader_keeps_harness_grading(shared_data, log_lines):
    recs = read_lmeval_jsonl(shared_data / LOG)
    assert len(recs) == 16 and [r.problem_id for r in recs] == ["0"] * 8 + ["1"] * 8
    assert [r.correct for r in recs] == [bool(x) for d in log_lines for x in d["exact_matches"]]
    assert [r.extracted_answer for r in recs] == [x for d in log_lines for x in d["extracted_answers"]]
    assert {r.budget for r in recs} == {8192} and recs[9].response == log_lines[1]["resps"][0][1]


def test_real_log_analysis(analysis, log_lines):
    rows = analysis["responses"]
    # Our answer extraction agrees with the harness's on every real response.
    assert [r["final_answer"] for r in rows] == [x for d in log_lines for x in d["extracted_answers"]]
    # s1's budget forcing ("<|im_start|>answer\nFinal Answer:") ended 1 of 8 runs on problem 0, all 8 on problem 1.
    assert [r["forced"] for r in rows] == [False] * 3 + [True] + [False] * 4 + [True] * 8
    (g,) = analysis["groups"]
    assert g["n_responses"] == 16 and g["accuracy"] == pytest.approx(7 / 16)
    assert g["forced_share"] == pytest.approx(9 / 16) and g["loop_rate"] == 0.0
    assert g["by_correctness"]["forced"]["mean_wrong"] > g["by_correctness"]["forced"]["mean_correct"]
    assert g["by_correctness"]["thinking_words"]["point_biserial"] < 0
    assert [p["problem_id"] for p in analysis["problems"]] == ["0", "1"]
    assert all(0.3 < r["self_bleu"] < 0.8 and r["n_sentences"] > 100 for r in rows)


def test_plain_dict_records_group_by_budget():
    loop = "Let me think. " + "Wait, so x is 5, but is it? " * 30
    varied = "First, find x. Squaring gives 25. So the answer is \\boxed{5}."
    recs = [
        {"problem_id": 1, "sample": 0, "response": loop, "correct": False, "thinking_tokens": 512, "budget": 512,
         "forced": True, "model": "m-2"},
        {"problem_id": 1, "sample": 1, "response": varied, "correct": True, "thinking_tokens": 100, "budget": 512,
         "forced": False, "model": "m-2"},
        {"problem_id": 1, "sample": 0, "response": varied, "correct": True, "budget": 1024, "model": "m-2"},
    ]
    a = analyze_records(recs, count_tokens=lambda s: len(s.split()))
    assert [(g["budget"], g["n_responses"]) for g in a["groups"]] == [(512, 2), (1024, 1)]
    r0, r1, r2 = a["responses"]
    assert r0["looping"] and not r1["looping"] and r0["loop_spans"] and not r1["loop_spans"]
    assert r0["budget_used"] == 1.0 and r1["budget_used"] == pytest.approx(100 / 512)
    assert r2["thinking_tokens"] == len(varied.split())          # counted when the log has no count
    assert (r0["answer_found"], r1["answer_found"], r1["final_answer"]) == (False, True, "5")
    assert a["groups"][0]["loop_rate"] == 0.5


def test_thinking_end_from_the_store_marks_a_loop_before_the_answer(shared_data):
    with open(shared_data / LOG) as f:
        answer = json.loads(f.readline())["resps"][0][0].split("<|im_start|>answer")[1][:1500]
    thinking = "Let me think. " + "So x is 5, or is it 6? " * 30
    text = thinking + answer
    plain = analyze_records([{"problem_id": 1, "sample": 0, "response": text}])["responses"][0]
    marked = analyze_records([{"problem_id": 1, "sample": 0, "response": text, "thinking_end": len(thinking)}])
    row = marked["responses"][0]
    assert row["looping"] and row["loop_reasons"] == "end_cycle" and not plain["looping"]
    assert row["thinking_words"] < plain["thinking_words"] and row["loop_spans"] == plain["loop_spans"]


def test_compare_by_correctness():
    c = compare_by_correctness([1, 1, 0, 0, None], [False, False, True, True, True])
    assert (c["mean_wrong"], c["mean_correct"], c["n_correct"]) == (1.0, 0.0, 2)
    assert c["point_biserial"] == pytest.approx(-1.0)
    assert compare_by_correctness([1, 1, 1], [True, False, True])["point_biserial"] is None


def test_bad_inputs_name_file_and_line(tmp_path, log_lines):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(log_lines[0]) + "\n\n{not json\n")
    with pytest.raises(PrunescaleError, match=r"bad\.jsonl:3: not valid JSON"):
        read_lmeval_jsonl(bad)
    bad.write_text(json.dumps({"doc_id": 0, "resps": "text"}) + "\n")
    with pytest.raises(PrunescaleError, match=r"bad\.jsonl:1: 'resps'"):
        read_lmeval_jsonl(bad)
    bad.write_text("\n")
    with pytest.raises(PrunescaleError, match="no samples"):
        read_lmeval_jsonl(bad)
    with pytest.raises(PrunescaleError, match="missing.jsonl: no such file"):
        read_lmeval_jsonl(tmp_path / "missing.jsonl")
    with pytest.raises(PrunescaleError, match="missing 'response'"):
        Record.from_dict({"problem_id": 1, "sample": 0})
    with pytest.raises(PrunescaleError, match="'correct' must be true/false"):
        Record.from_dict({"problem_id": 1, "sample": 0, "response": "x", "correct": "false"})
    with pytest.raises(PrunescaleError, match="'budget' must be an integer"):
        Record.from_dict({"problem_id": 1, "sample": 0, "response": "x", "budget": "lots"})


def parse(argv):
    parser = argparse.ArgumentParser(prog="prunescale")
    analyze_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_analyze_command_writes_files_and_table(shared_data, tmp_path, capsys):
    args = parse(["analyze", "--lmeval-jsonl", str(shared_data / LOG), "--out", str(tmp_path / "out"),
                  "--model-name", "s1.1-7B", "--task-name", "aime24"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "s1.1-7B" in out and "aime24" in out and "0.4375" in out and "analysis.csv" in out
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["analysis.csv", "analysis.json"]          # no temporary files left behind
    data = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert data["source"].endswith(LOG) and len(data["responses"]) == 16 and "loop_spans" in data["responses"][0]
    rows = list(csv.DictReader((tmp_path / "out" / "analysis.csv").open()))
    assert [r["level"] for r in rows] == ["response"] * 16 + ["problem"] * 2 + ["group"]
    assert float(rows[-1]["correct"]) == pytest.approx(7 / 16) and rows[-1]["n"] == "16"
    assert rows[0]["correct"] == "1" and rows[0]["task"] == "aime24"


def test_analyze_command_errors(tmp_path):
    args = parse(["analyze", "--lmeval-jsonl", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)])
    with pytest.raises(PrunescaleError, match="nope.jsonl"):
        args.func(args)
    args = parse(["analyze", "--lmeval-jsonl", "x.jsonl", "--judge-url", "http://127.0.0.1:9/v1"])
    with pytest.raises(PrunescaleError, match="--judge-model"):
        args.func(args)
    with pytest.raises(SystemExit):
        parse(["analyze"])  # an input is required
