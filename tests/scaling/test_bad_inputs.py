"""Every bad input is one line `prunescale: error: ...` on stderr, exit 2, and leaves nothing behind."""

import json

import pytest

from prunescale.cli.main import main

ORGANISM = ["--model", "embedded:organism", "--limit", "2", "--budgets", "8", "--answer-tokens", "4"]
NOT_UTF8 = b'{"problem": "caf\xe9", "answer": "1"}\n'


def files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*"))


def fails(capsys, root, argv, *words):
    """Run the CLI in process; assert one error line naming ``words``, exit 2 and no new file under ``root``."""
    before = files(root)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("prunescale: error: "), err
    for w in words:
        assert w in lines[0], lines[0]
    assert files(root) == before
    return lines[0]


def jsonl(path, *rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def eval_args(tmp_path, *args, task=None):
    return ["eval", *ORGANISM, "--task", task or "organism-chain:k=3", *args, "--out", str(tmp_path / "run")]


def test_out_is_a_file_or_under_one(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    fails(capsys, tmp_path, ["eval", *ORGANISM, "--task", "organism-chain", "--out", str(tmp_path / "f")],
          "is a file")
    fails(capsys, tmp_path, ["eval", *ORGANISM, "--task", "organism-chain", "--out", str(tmp_path / "f" / "run")],
          "is under the file", str(tmp_path / "f"))


def test_non_utf8_files(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(NOT_UTF8)
    fails(capsys, tmp_path, eval_args(tmp_path, task=f"jsonl:{bad}"), "bad.jsonl", "not UTF-8")
    fails(capsys, tmp_path, eval_args(tmp_path, "--data", str(bad), task="math500"), "bad.jsonl", "not UTF-8")
    study = tmp_path / "study.yaml"
    study.write_bytes(b"name: caf\xe9\nmodels: [embedded:organism]\n")
    fails(capsys, tmp_path, ["study", "run", str(study), "--out", str(tmp_path / "s")], "study.yaml", "not UTF-8")
    fails(capsys, tmp_path, ["finetune", "--model", "embedded:organism", "--data", str(bad),
                             "--out", str(tmp_path / "ft")], "bad.jsonl", "not UTF-8")
    txt = tmp_path / "calib.txt"
    txt.write_bytes(b"caf\xe9 au lait\n")
    fails(capsys, tmp_path, ["prune", "--model", "embedded:organism", "--method", "shortgpt", "--remove", "1",
                             "--calibration", f"file:{txt}", "--out", str(tmp_path / "p")], "calib.txt", "not UTF-8")


@pytest.mark.parametrize("rows,words", [
    (("[1,2]",), ["line 1 is not a JSON object", "list"]),
    (({"problem": "1+1", "answer": "2"}, "5"), ["line 2 is not a JSON object", "int"]),
    ((), ["has no rows"]),
    (("", "  "), ["has no rows"]),
    (({"problem": "1+1", "answer": None},), ["line 1 field 'answer' is null"]),
    (({"problem": "1+1", "answer": "2"}, {"problem": "2+2", "answer": None}), ["line 2 field 'answer' is null"]),
    (({"problem": "1+1", "answer": " "},), ["empty 'answer'"]),
    (({"id": 1, "problem": "1+1", "answer": "2"}, {"id": 1, "problem": "2+2", "answer": "4"}),
     ["problem id '1' appears twice"]),
])
def test_bad_jsonl_task_files(capsys, tmp_path, rows, words):
    path = jsonl(tmp_path / "t.jsonl", *rows)
    fails(capsys, tmp_path, eval_args(tmp_path, task=f"jsonl:{path}"), "t.jsonl", *words)


def test_missing_field_lists_accepted_and_present_names(capsys, tmp_path):
    path = jsonl(tmp_path / "t.jsonl", {"q": "1+1", "gold": "2"})
    fails(capsys, tmp_path, eval_args(tmp_path, task=f"jsonl:{path}"),
          "no question field (accepted: problem, question, prompt; the file has: q, gold)", "--question-field")
    fails(capsys, tmp_path, eval_args(tmp_path, "--question-field", "q", task=f"jsonl:{path}"),
          "no answer field (accepted: answer; the file has: q, gold)", "--answer-field")
    fails(capsys, tmp_path, eval_args(tmp_path, "--question-field", "q", "--answer-field", "golden",
                                      task=f"jsonl:{path}"), "no answer field (given by --answer-field; the file has")
    # Field options make no sense for a task that reads no JSONL.
    fails(capsys, tmp_path, eval_args(tmp_path, "--question-field", "q"), "--question-field")


@pytest.mark.parametrize("task,words", [("organism-chain:k=abc", ["k='abc'"]), ("organism-chain:k=-3", ["k=-3"]),
                                        ("organism-chain:k=99", ["k=99"]), ("organism-facts:kk=2", ["'kk'"]),
                                        ("jsonl:", ["jsonl:"]), ("nope", ["unknown task 'nope'"])])
def test_bad_task_options(capsys, tmp_path, task, words):
    fails(capsys, tmp_path, eval_args(tmp_path, task=task), *words)


@pytest.mark.parametrize("args,words", [
    (["--top-p", "0"], ["--top-p 0.0"]), (["--top-p", "7"], ["--top-p 7.0"]), (["--top-p", "nan"], ["--top-p"]),
    (["--budgets", "0"], ["budget '0'"]), (["--budgets", "8,0"], ["budget '0'"]), (["--budgets", "x"], ["'x'"]),
    (["--temperature", "nan"], ["--temperature"]),
    (["--data", "whatever.jsonl"], ["does not read a data file", "whatever.jsonl"]),
    (["--backend", "nope"], ["unknown backend 'nope'"]),
])
def test_bad_eval_options(capsys, tmp_path, args, words):
    fails(capsys, tmp_path, eval_args(tmp_path, *args), *words)


def test_bad_model_and_jsonl_with_data(capsys, tmp_path):
    fails(capsys, tmp_path, ["eval", "--model", str(tmp_path / "nomodel"), "--task", "organism-chain",
                             "--out", str(tmp_path / "run")], "nomodel")
    path = jsonl(tmp_path / "t.jsonl", {"problem": "1+1", "answer": "2"})
    fails(capsys, tmp_path, eval_args(tmp_path, "--data", str(path), task=f"jsonl:{path}"), "names its file")


def test_failure_after_the_out_dir_is_created_leaves_nothing(capsys, tmp_path, monkeypatch):
    from prunescale.errors import PrunescaleError
    from prunescale.generate.hf import HFBackend

    def broken(self, requests, forcing, sampling):   # e.g. the device or the server dies mid-batch
        raise PrunescaleError("the backend died")

    monkeypatch.setattr(HFBackend, "generate", broken)
    fails(capsys, tmp_path, eval_args(tmp_path), "the backend died")
    # A directory that existed keeps what it had; only what the run created goes.
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    fails(capsys, tmp_path, eval_args(tmp_path), "the backend died")
    assert files(tmp_path / "run") == [(tmp_path / "run" / "notes.txt").relative_to(tmp_path / "run")]
    # The failed runs locked nothing: other settings work in the same directory.
    monkeypatch.undo()
    assert main(eval_args(tmp_path, "--temperature", "0")) == 0
    assert (tmp_path / "run" / "results.sqlite").is_file() and (tmp_path / "run" / "config.yaml").is_file()
