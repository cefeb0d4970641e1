"""A result on disk belongs to its inputs: changed problems are generated again, one file is one task, a failed
run locks nothing. End to end on the embedded organism."""

import json
import sqlite3

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.scaling.store import COLUMNS, Store

ARGS = ["--model", "embedded:organism", "--budgets", "8", "--answer-tokens", "4", "--samples", "2"]


def stored(out):
    with sqlite3.connect(out / "results.sqlite") as db:
        return {r[:3]: r[3:] for r in db.execute(
            "SELECT task, problem_id, sample_idx, gold, prompt_hash, created FROM generations")}


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_changed_problem_text_or_gold_is_generated_again(tmp_path, capsys):
    data, out = tmp_path / "p.jsonl", tmp_path / "run"
    rows = [{"id": f"q{i}", "problem": f"What is {i}+{i}?", "answer": str(2 * i)} for i in range(3)]
    write(data, rows)
    argv = ["eval", *ARGS, "--task", f"jsonl:{data}", "--out", str(out)]
    assert main(argv) == 0
    first = stored(out)
    assert len(first) == 3 * 2
    capsys.readouterr()

    rows[0]["problem"] = "What is 10+10?"   # text changed
    rows[1]["answer"] = "99"                # gold changed
    write(data, rows)
    assert main(argv) == 0
    note = capsys.readouterr().err
    assert "2 problem(s) changed" in note and "q0, q1" in note
    second = stored(out)
    assert set(second) == set(first)
    task = f"jsonl:{data.resolve()}"
    for i in range(2):
        assert second[(task, "q2", i)] == first[(task, "q2", i)]                  # unchanged: reused as it was
        assert second[(task, "q0", i)][1] != first[(task, "q0", i)][1]            # new prompt hash
        assert second[(task, "q0", i)][2] > first[(task, "q0", i)][2]             # generated again
        assert second[(task, "q1", i)][0] == "99" and second[(task, "q1", i)][2] > first[(task, "q1", i)][2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"][task]["budgets"]["8"]["n_samples"] == 6

    assert main(argv) == 0   # nothing changed: nothing regenerated, no note
    assert stored(out) == second and "changed" not in capsys.readouterr().err


def test_one_file_named_three_ways_is_one_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.jsonl", [{"problem": "What is 1+1?", "answer": "2"}, {"problem": "2+2?", "answer": "4"}])
    out = tmp_path / "run"
    for spec in ("jsonl:a.jsonl", "jsonl:./a.jsonl", f"jsonl:{tmp_path / 'a.jsonl'}", "jsonl:sub/../a.jsonl"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert main(["eval", *ARGS, "--task", spec, "--out", str(out)]) == 0
        if spec == "jsonl:a.jsonl":
            first = stored(out)
        assert stored(out) == first   # same rows, nothing generated again
    name = f"jsonl:{(tmp_path / 'a.jsonl').resolve()}"
    assert {k[0] for k in first} == {name}
    assert list(json.loads((out / "summary.json").read_text())["tasks"]) == [name]
    # The saved config re-runs from anywhere: the task is stored under its absolute path.
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["eval", "--config", str(out / "config.yaml")]) == 0 and stored(out) == first
    assert not (tmp_path / "sub" / "run").exists()


def test_summary_covers_this_runs_problems(tmp_path):
    out = tmp_path / "run"
    base = ["eval", *ARGS, "--task", "organism-chain:k=3", "--out", str(out)]
    assert main([*base, "--limit", "3"]) == 0
    assert main([*base, "--limit", "2"]) == 0   # the third problem's rows stay stored, unreported
    assert len(stored(out)) == 3 * 2
    assert json.loads((out / "summary.json").read_text())["tasks"]["organism-chain:k=3"]["budgets"]["8"][
        "n_problems"] == 2


def _row(pid):
    r = {c: 0 for c in COLUMNS}
    r.update(task="t", problem_id=pid, budget=8, seed=0, sample_idx=0, sample_seed=0, prompt_hash="h", text="x",
             thinking="", answer_text="", extracted=None, gold="1", wall_s=0.0)
    return r


def test_identity_is_written_with_the_first_rows(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    s.check_identity({"model": "a", "temperature": 1.0})
    s.close()
    s = Store(tmp_path / "r.sqlite")   # nothing generated: the settings locked nothing
    s.check_identity({"model": "a", "temperature": 0.0})
    assert s.add([_row("1")]) == 1
    s.close()
    s = Store(tmp_path / "r.sqlite")
    assert s.manifest()["identity"] == {"model": "a", "temperature": 0.0}
    try:
        s.check_identity({"model": "a", "temperature": 1.0})
        raise AssertionError("identity mismatch accepted")
    except PrunescaleError as e:
        assert "temperature=0.0" in str(e)
    s.close()


def test_delete_problems_is_one_transaction(tmp_path):
    s = Store(tmp_path / "r.sqlite")
    s.add([_row("1"), _row("2"), {**_row("2"), "sample_idx": 1}])
    assert s.problem_keys("t") == {"1": {("h", "1")}, "2": {("h", "1")}}
    assert s.delete_problems("t", ["2"]) == 2 and s.count() == 1


def test_readers_see_the_tasks_current_problems(tmp_path, capsys):
    """A problem deleted from a jsonl: file: export, analysis and the report see the task's current problems,
    as summary.json does; `export --all` still shows the old rows, which stay in the store."""
    from prunescale.analysis.store_records import run_records
    from prunescale.report.collect import _store_facts

    data, out = tmp_path / "p.jsonl", tmp_path / "run"
    rows = [{"id": f"q{i}", "problem": f"What is {i}+{i}?", "answer": str(2 * i)} for i in range(3)]
    write(data, rows)
    argv = ["eval", *ARGS, "--task", f"jsonl:{data}", "--out", str(out)]
    assert main(argv) == 0
    write(data, rows[:2])   # q2 deleted
    assert main(argv) == 0
    task = f"jsonl:{data.resolve()}"
    assert json.loads((out / "summary.json").read_text())["tasks"][task]["budgets"]["8"]["n_problems"] == 2
    assert len(stored(out)) == 3 * 2   # kept in the store

    def exported(*extra):
        capsys.readouterr()
        assert main(["export", "--run", str(out), *extra]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert sorted(r["problem_id"] for r in exported()) == ["q0", "q1"]
    assert sorted(r["problem_id"] for r in exported("--all")) == ["q0", "q1", "q2"]
    assert {r.problem_id for r in run_records(out)} == {"q0", "q1"}
    assert _store_facts(out / "results.sqlite", task, [])[1]["n_generations"] == 2 * 2
    s = Store(out / "results.sqlite", readonly=True)
    assert s.current_problems() == {task: {"q0", "q1"}} and len(s.rows(every=True)) == 6
    s.close()

    write(data, rows)   # q2 back, unchanged: its stored rows are current again, nothing generated
    before = stored(out)
    assert main(argv) == 0 and stored(out) == before
    assert sorted({r["problem_id"] for r in exported()}) == ["q0", "q1", "q2"]


def test_a_smaller_limit_narrows_what_readers_see(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["eval", *ARGS, "--task", "organism-chain:k=3", "--out", str(out)]
    assert main([*base, "--limit", "3"]) == 0
    assert main([*base, "--limit", "2"]) == 0
    capsys.readouterr()
    assert main(["export", "--run", str(out), "--format", "csv"]) == 0
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 2 * 2 and len({r["problem_id"] for r in rows}) == 2


def test_a_store_without_the_record_shows_every_row(tmp_path):
    """Stores written before the record (no manifest key `problems`) read as they did: every row."""
    s = Store(tmp_path / "r.sqlite")
    s.add([_row("1"), _row("2"), {**_row("3"), "task": "u"}])
    assert len(s.rows()) == 3
    s.record_problems({"t": ["1"]})   # a task without a record ("u") still shows all its rows
    assert [(r["task"], r["problem_id"]) for r in s.rows()] == [("t", "1"), ("u", "3")]
    assert [r["budget"] for r in s.rows(columns=["budget"])] == [8, 8]
    s.record_problems({"u": []})
    assert s.current_problems() == {"t": {"1"}, "u": set()} and len(s.rows()) == 1 and len(s.rows(every=True)) == 3
    s.close()
