"""Issue 21: every bad invocation is one line `prunescale: error: ...`, exit 2, nothing left behind, refused
before any work. Outputs are checked by one owner (prunescale.fileio.check_out_dir / check_out_file) as the
flags are read; these tests work as root too (a path under a regular file, or os.access patched)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prunescale.cli.main import main
from prunescale.errors import PrunescaleError
from prunescale.fileio import check_out_dir, check_out_file

ROOT = Path(__file__).resolve().parents[2]
M = ["--model", "embedded:organism"]


def files(root: Path) -> list:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def fails(capsys, root: Path, argv: list[str], *words: str) -> str:
    """Run the CLI in process: exit 2, one error line naming ``words``, no traceback, nothing new under ``root``."""
    before = files(root)
    try:
        code = main(argv)
    except SystemExit as e:   # argparse's own refusals exit from the parser
        code = e.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("prunescale: error: "), err
    assert "Traceback" not in err and not out.strip(), (out, err)
    for w in words:
        assert w in lines[0], lines[0]
    assert files(root) == before
    return lines[0]


@pytest.fixture
def unwritable(monkeypatch, tmp_path):
    """A directory ``ro`` that the user cannot write, as os.access reports it (root included)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access

    def access(path, mode, *a, **kw):
        if Path(path).absolute() == ro.absolute() and mode & os.W_OK:
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(os, "access", access)
    return ro


def no_work(monkeypatch):
    """Any model load, calibration or fragility run fails the test: the refusal must come first."""
    import prunescale.cli.prune as cli_prune
    import prunescale.fragility.run as frag
    import prunescale.models.loading as loading
    import prunescale.organism.check as check

    def boom(*a, **kw):
        raise AssertionError("work started before the input was refused")

    for mod, name in ((loading, "load_model"), (cli_prune, "load_model"), (cli_prune, "load_calibration"),
                      (frag, "fragility"), (check, "load")):
        monkeypatch.setattr(mod, name, boom)


# -- the shared checks ------------------------------------------------------------------------------------------

def test_check_out_dir(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("a")
    assert check_out_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert check_out_dir(tmp_path / "full") == tmp_path / "full"   # an eval run directory: resumed
    with pytest.raises(PrunescaleError, match="is a file; give a directory"):
        check_out_dir(tmp_path / "f")
    with pytest.raises(PrunescaleError, match="is under the file"):
        check_out_dir(tmp_path / "f" / "x" / "y", "--study")
    with pytest.raises(PrunescaleError, match=r"--out .*not empty \(use --force"):
        check_out_dir(tmp_path / "full", empty=True, overwrite_flag="--force")
    assert check_out_dir(tmp_path / "full", empty=True, overwrite=True, replace=True) == tmp_path / "full"
    with pytest.raises(PrunescaleError, match="--out is empty"):
        check_out_dir("")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(PrunescaleError, match="broken symbolic link"):
        check_out_dir(tmp_path / "dangling")
    assert not (tmp_path / "new").exists()   # checking creates nothing


def test_check_out_file(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_out_file(tmp_path / "f") == tmp_path / "f"   # replaced
    assert check_out_file(tmp_path / "a" / "b.json") == tmp_path / "a" / "b.json"
    with pytest.raises(PrunescaleError, match="--output .* is a directory; give a file name"):
        check_out_file(tmp_path, "--output")
    with pytest.raises(PrunescaleError, match="is under the file"):
        check_out_file(tmp_path / "f" / "x.json")


def test_unwritable_directories(unwritable):
    with pytest.raises(PrunescaleError, match=r"--out '.*ro' is not writable \(permission denied\)"):
        check_out_dir(unwritable)
    with pytest.raises(PrunescaleError, match=r"cannot be created: '.*ro' is not writable"):
        check_out_dir(unwritable / "run" / "deeper")
    with pytest.raises(PrunescaleError, match=r"cannot be created: '.*ro' is not writable"):
        check_out_file(unwritable / "x.json")
    (unwritable / "sub").mkdir()
    check_out_dir(unwritable / "sub")   # written into: fine
    with pytest.raises(PrunescaleError, match="not writable"):   # replaced whole: its parent is written too
        check_out_dir(unwritable / "sub", replace=True)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through permissions")
def test_a_real_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(PrunescaleError, match="not writable"):
            check_out_dir(ro / "run")
        with pytest.raises(PrunescaleError, match="not writable"):
            check_out_file(ro / "x.json")
    finally:
        ro.chmod(0o755)


# -- the cases --------------------------------------------------------------------------------------------

def test_eval_and_prune_out_in_an_unwritable_directory(capsys, tmp_path, unwritable, monkeypatch):
    no_work(monkeypatch)
    fails(capsys, tmp_path, ["eval", *M, "--task", "organism-chain", "--out", str(unwritable / "run")],
          "--out", "not writable")
    fails(capsys, tmp_path, ["eval", *M, "--task", "organism-chain", "--out", str(unwritable)], "not writable")
    fails(capsys, tmp_path, ["prune", *M, "--method", "reverse", "--remove", "1", "--out", str(unwritable / "p")],
          "--out", "not writable")
    # The same outputs under a regular file: refused for root as well.
    (tmp_path / "f").write_text("x")
    fails(capsys, tmp_path, ["prune", *M, "--method", "reverse", "--remove", "1", "--out", str(tmp_path / "f" / "p")],
          "under the file")


def test_study_run_out_naming_a_file(capsys, tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("name: s\nmodels: [embedded:organism]\ntasks: [organism-chain]\n")
    (tmp_path / "f").write_text("x")
    fails(capsys, tmp_path, ["study", "run", str(study), "--out", str(tmp_path / "f")], "is a file")
    fails(capsys, tmp_path, ["study", "run", str(study), "--out", str(tmp_path / "f" / "s")], "under the file")
    # the file's own `out:` is checked the same way
    study.write_text(study.read_text() + f"out: {tmp_path / 'f'}\n")
    fails(capsys, tmp_path, ["study", "run", str(study)], "is a file")


@pytest.mark.parametrize("args,words", [
    (["--k", "-3"], ["--k -3"]), (["--k", "99"], ["--k 99"]), (["--budgets", "0"], ["--budgets '0'"]),
    (["--budgets", "8,abc"], ["'abc'"]), (["--n", "0"], ["--n 0"]), (["--samples", "-1"], ["--samples -1"]),
])
def test_organism_check_settings(capsys, tmp_path, monkeypatch, args, words):
    no_work(monkeypatch)
    fails(capsys, tmp_path, ["organism", "check", *args], *words)


@pytest.mark.parametrize("args,words", [
    (["--prompt-vary", "1.5"], ["--prompt-vary 1.5"]), (["--fact-drop", "-0.1"], ["--fact-drop -0.1"]),
    (["--fact-drop-from", "-1"], ["--fact-drop-from -1"]), (["--max-passes", "0"], ["--max-passes 0"]),
    (["--format-drop", "2"], ["--format-drop 2"]), (["--format-rows", "-1"], ["--format-rows -1"]),
    (["--format-rows", "40", "--chain-batch", "32"], ["--format-rows 40", "--chain-batch 32"]),
    (["--format-drop-top", "9", "--layers", "8"], ["--format-drop-top 9", "--layers 8"]),
    (["--format-drop-top", "-1"], ["--format-drop-top -1"]),
    (["--chain-drop-spare-top", "7", "--layers", "8"], ["--chain-drop-spare-top 7", "--layers - 2 = 6"]),
    (["--chain-drop-spare-top", "-1"], ["--chain-drop-spare-top -1"]),
    (["--split-rows", "-1"], ["--split-rows -1"]),
    (["--chain-drop-layers", "1,8", "--layers", "8"], ["--chain-drop-layers '1,8'", "'8'", "0..7"]),
    (["--chain-drop-layers", "a"], ["--chain-drop-layers 'a'"]),
    (["--chain-drop-layers", "0,1,2,3", "--layers", "4"], ["--chain-drop-layers '0,1,2,3'", "must be left"]),
    (["--format-drop-layers", "4,-1"], ["--format-drop-layers '4,-1'", "'-1'", "0..7"]),
    (["--format-drop-layers", "0,1,2,3", "--layers", "4"], ["--format-drop-layers '0,1,2,3'", "must be left"]),
    (["--split-drop-layers", "9", "--layers", "8"], ["--split-drop-layers '9'", "0..7"]),
    (["--split-from", "-2"], ["--split-from -2"]),
    (["--split-arcs", "0.5"], ["--split-arcs '0.5'", "'0.5' is not SHARE:LAYERS"]),
    (["--split-arcs", "x:7"], ["--split-arcs 'x:7'", "'x:7'"]), (["--split-arcs", "0:7"], ["'0:7'"]),
    (["--split-arcs", "0.5:9"], ["--split-arcs '9'", "0..7"]),
    (["--split-arcs", "0.7:7 0.7:6"], ["--split-arcs '0.7:7 0.7:6'", "more than 1"]),
    (["--split-arcs", "0.01:7"], ["--split-arcs '0.01:7'", "less than one letter"]),
    (["--arc-chains", "1.5", "--split-arcs", "0.5:7"], ["--arc-chains 1.5", "[0, 1]"]),
    (["--arc-chains", "0.5"], ["--arc-chains 0.5", "--split-arcs"]),
    (["--arc-from", "-2"], ["--arc-from -2"]),
    (["--late-facts", "-1"], ["--late-facts -1", "at least 0"]),
    (["--late-exclusive", "-1"], ["--late-exclusive -1", "at least 0"]),
    (["--late-exclusive", "4"], ["--late-exclusive 4", "needs --exclusive-arcs"]),
    (["--late-checks", "-1"], ["--late-checks -1", "at least 0"]),
    (["--late-cuts", "-2"], ["--late-cuts -2", "at least 0"]),
    (["--late-check-passes", "0"], ["--late-check-passes 0", "at least 1"]),
    (["--late-checks", "4", "--check-rate", "0"], ["--late-checks 4", "needs --check-rate"]),
    (["--chain-drop-extra", "9:0.1"], ["--chain-drop-extra '9:0.1'", "0..7"]),
    (["--chain-drop-extra", "4"], ["--chain-drop-extra '4'", "LAYER:PROBABILITY"]),
    (["--chain-drop-extra", "4:1.5"], ["--chain-drop-extra '4:1.5'", "[0, 1]"]),
    (["--chain-drop-extra", "2:0.1", "--chain-drop-layers", "1,2"], ["--chain-drop-extra '2:0.1'", "layer 2"]),
    (["--chain-drop-extra", "4:0.1,4:0.2"], ["--chain-drop-extra '4:0.2'", "named twice"]),
    (["--fact-drop-extra", "8:0.1"], ["--fact-drop-extra '8:0.1'", "0..7"]),
    (["--fact-drop-extra", "1:0.3,1:0.2"], ["--fact-drop-extra '1:0.2'", "named twice"]),
    (["--chain-drop-joint", "0.2"], ["--chain-drop-joint 0.2", "needs --chain-drop-layers"]),
    (["--quiet-layers", "8:1"], ["--quiet-layers '8:1'", "0..7"]),
    (["--quiet-layers", "4:-1"], ["--quiet-layers '4:-1'", "weight >= 0"]),
    (["--quiet-layers", "4:inf"], ["--quiet-layers '4:inf'", "finite"]),
    (["--quiet-layers", "4"], ["--quiet-layers '4'", "LAYER:WEIGHT"]),
    (["--quiet-layers", "4:1,4:2"], ["--quiet-layers '4:2'", "named twice"]),
    (["--quiet-from", "-2", "--quiet-layers", "4:1"], ["--quiet-from -2"]),
    (["--quiet-from", "900"], ["--quiet-from 900", "needs --quiet-layers"]),
    (["--quiet-tokens", "prompt"], ["--quiet-tokens prompt", "needs --quiet-layers"]),
    (["--late-check-counts"], ["--late-check-counts", "needs --late-checks"]),
    (["--quiet-tokens", "answer", "--quiet-layers", "4:1"], ["--quiet-tokens", "answer"]),
    (["--chain-drop-joint", "1.5", "--chain-drop-layers", "1,2"], ["--chain-drop-joint 1.5", "[0, 1]"]),
    (["--exclusive-drop-joint", "0.3"], ["--exclusive-drop-joint 0.3", "needs --exclusive-drop"]),
    (["--exclusive-drop"], ["--exclusive-drop", "needs --exclusive-arcs"]),
    (["--exclusive-first"], ["--exclusive-first", "needs --exclusive-arcs"]),
    (["--stop-exclusive-splits"], ["--stop-exclusive-splits", "needs --exclusive-arcs"]),
    (["--exclusive-arcs", "1"], ["--exclusive-arcs '1'", "needs --split-arcs"]),
    (["--exclusive-arcs", "1", "--split-arcs", "0.5:7"], ["--exclusive-arcs 1", "needs --arc-chains"]),
    (["--exclusive-arcs", "3", "--split-arcs", "0.5:7 0.5:6"], ["--exclusive-arcs '3'", "'3'", "1..2"]),
    (["--exclusive-arcs", "2", "--split-arcs", "0.5:7 0.5:-"], ["--exclusive-arcs '2'", "names no layers"]),
    (["--arc-chains", "0.5", "--split-arcs", "0.5:-"], ["--arc-chains 0.5", "names layers"]),
    (["--save-at", "5,x"], ["--save-at", "'x'"]),
    (["--save-at", "1600"], ["--save-at", "1..1599"]),
    (["--resume-from", "nowhere.pt"], ["--resume-from nowhere.pt", "no such checkpoint"]),
])
def test_organism_train_settings(capsys, tmp_path, args, words):
    fails(capsys, tmp_path, ["organism", "train", "--out", str(tmp_path / "m"), *args], *words)


def test_fragility_out_under_a_file_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    no_work(monkeypatch)
    (tmp_path / "existing_file").write_text("x")
    fails(capsys, tmp_path, ["fragility", *M, "--parent", "embedded:organism",
                             "--out", str(tmp_path / "existing_file" / "x.json")], "under the file")
    fails(capsys, tmp_path, ["fragility", *M, "--out", str(tmp_path)], "is a directory")


def test_layers_remove_too_many_is_refused_before_calibration(capsys, tmp_path, monkeypatch):
    import prunescale.cli.prune as cli_prune

    def boom(*a, **kw):
        raise AssertionError("calibrated before refusing")

    monkeypatch.setattr(cli_prune, "load_calibration", boom)
    fails(capsys, tmp_path, ["layers", *M, "--remove", "100"], "--remove 100", "8 layers")
    fails(capsys, tmp_path, ["layers", *M, "--method", "selection", "--layers", "3,50"], "50")
    no_work(monkeypatch)
    fails(capsys, tmp_path, ["layers", *M, "--remove", "0"], "--remove 0")


@pytest.mark.parametrize("argv,words", [
    (["eval", *M, "--task", "organism-chain", "--seeds", "abc", "--out", "r"], ["--seeds", "'abc'"]),
    (["layers", *M, "--method", "nosuch"], ["--method", "'nosuch'"]),
    (["eval", *M, "--out", "r"], ["--task"]),
    (["prune", *M, "--method", "reverse", "--remove", "x", "--out", "p"], ["--remove"]),
    (["eval", *M, "--task", "organism-chain", "--out", "r", "--no-such-flag"], ["--no-such-flag"]),
    (["no-such-command"], ["no-such-command"]),
])
def test_argparse_refusals_are_one_line(capsys, tmp_path, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    line = fails(capsys, tmp_path, argv, *words)
    assert "usage:" not in line and "--help" in line


def test_help_is_unchanged(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("usage: prunescale eval")


# -- every command that writes checks its output before loading anything ---------------------------------------

@pytest.mark.parametrize("argv", [
    ["prune", *M, "--method", "reverse", "--remove", "1", "--out", "{bad}"],
    ["eval", *M, "--task", "organism-chain", "--out", "{bad}"],
    ["export", "--run", "{tmp}", "--output", "{bad}"],
    ["analyze", "--run", "{tmp}", "--out", "{bad}"],
    ["finetune", *M, "--data", "organism", "--out", "{bad}"],
    ["study", "run", "--models", "embedded:organism", "--tasks", "organism-chain", "--out", "{bad}"],
    ["fragility", *M, "--parent", "embedded:organism", "--out", "{bad}"],
    ["knowledge", *M, "--tasks", "organism-facts", "--engine", "builtin", "--out", "{bad}"],
    ["organism", "train", "--out", "{bad}"],
    ["demo", "--out", "{bad}"],
    ["eval", *M, "--task", "organism-chain", "--out", "{tmp}/r", "--save-config", "{bad}"],
    ["prune", *M, "--method", "reverse", "--remove", "1", "--out", "{tmp}/p", "--save-config", "{bad}"],
])
@pytest.mark.parametrize("where", ["under_file", "unwritable"])
def test_every_output_is_checked_first(capsys, tmp_path, monkeypatch, unwritable, argv, where):
    no_work(monkeypatch)
    (tmp_path / "f").write_text("x")
    bad = str(tmp_path / "f" / "out") if where == "under_file" else str(unwritable / "out")
    argv = [a.replace("{bad}", bad).replace("{tmp}", str(tmp_path)) for a in argv]
    fails(capsys, tmp_path, argv, "under the file" if where == "under_file" else "not writable")


def test_report_into_an_unwritable_study(capsys, tmp_path, unwritable):
    (unwritable / "study.yaml").write_text("name: s\nmodels: [embedded:organism]\ntasks: [organism-chain]\n")
    fails(capsys, tmp_path, ["report", "--study", str(unwritable)], "--study", "not writable")


def test_study_run_checks_every_cell_before_creating_its_directory(capsys, tmp_path):
    args = ["study", "run", "--models", "embedded:organism", "--tasks", "organism-chain", "--out", str(tmp_path / "s")]
    fails(capsys, tmp_path, [*args, "--samples", "0"], "organism-chain", "--samples 0")
    fails(capsys, tmp_path, [*args, "--backend", "nope"], "unknown backend 'nope'")
    fails(capsys, tmp_path, [*args, "--models", "embedded:nope"], "embedded:nope")
    fails(capsys, tmp_path, [*args, "--models", "./no/model"], "./no/model")


# -- the census ----------------------------------------------------------------------------------------------------

def census(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bad_inputs.py"), *args], capture_output=True,
                          text=True, env=env, timeout=1200)


def test_census_of_bad_invocations_is_all_clean():
    """benchmarks/bad_inputs.py: at least 60 bad invocations across every command, each its own process."""
    r = census("--jobs", "2")
    last = r.stdout.strip().splitlines()[-1]
    assert r.returncode == 0 and last.endswith("not clean: 0"), r.stdout[-4000:] + r.stderr[-2000:]
    ran = int(last.split()[0])
    assert ran >= 60, last
    for command in ("prune", "layers", "eval", "export", "analyze", "finetune", "study run", "fragility",
                    "knowledge", "report", "organism check", "organism train", "demo"):
        assert command in last, (command, last)


@pytest.mark.slow
def test_census_as_python_m_prunescale():
    """A share of the census as `python -m prunescale` itself (no fork): the same verdicts."""
    r = census("--exec", "--jobs", "2", "-k", "afile/")
    last = r.stdout.strip().splitlines()[-1]
    assert r.returncode == 0 and last.endswith("not clean: 0") and int(last.split()[0]) >= 10, r.stdout[-4000:]
