"""Census of bad invocations: every one must be clean.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bad_inputs.py [--exec] [--jobs N] [-k WORD] [-v]

Clean: exit code 2, exactly one line on stderr and it starts ``prunescale: error:``, no traceback, nothing on
stdout (no work started), and nothing created or changed in the invocation's own folder (its fixtures: a file,
a non-empty folder, a read-only folder, bad JSONL / YAML / study files; relative outputs land there too). Each
invocation runs as its own process in its own folder: by default forked from one process that imported
prunescale once (``main(argv)``, then the exit code, as ``python -m prunescale`` does), which makes the census
take seconds; ``--exec`` runs ``python -m prunescale ...`` for each instead (the same verdicts, minutes).
Cases with a folder the user cannot write (ro/) run, as root, as the user nobody
(root writes through permissions); with --exec they are skipped where nobody cannot run this Python. Prints one line per invocation and the count not clean; exits 1 if any is not.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
M = "--model embedded:organism"
E = f"eval {M} --limit 2 --budgets 8 --answer-tokens 4"
PR = f"prune {M} --method shortgpt --calibration-samples 2 --max-seq-len 16"
FT = f"finetune {M} --data organism --samples 2 --max-steps 1"
OK_STUDY = "name: s\nmodels: [embedded:organism]\nmethods: [reverse]\nremove: [1]\ntasks: [organism-chain]\n"

# The fixtures of every invocation's folder.
FILES = {
    "afile": "x\n",
    "full/keep.txt": "mine\n",
    "fakerun/notes.txt": "no results store here\n",
    "emptydir/.keep": "",
    "good.jsonl": '{"problem": "1+1", "answer": "2"}\n',
    "bad_utf8.jsonl": b'{"problem": "caf\xe9", "answer": "1"}\n',
    "notobj.jsonl": "[1, 2]\n",
    "empty.jsonl": "",
    "nofield.jsonl": '{"q": "1+1", "gold": "2"}\n',
    "nulls.jsonl": '{"problem": "1+1", "answer": null}\n',
    "calib.txt": b"caf\xe9 au lait\n",
    "cfg_unknown.yaml": "nosuch_option: 1\n",
    "cfg_list.yaml": "- a\n- b\n",
    "cfg_broken.yaml": "a: [\n",
    "cfg_out_list.yaml": "out: [1]\n",
    "cfg_out_map.yaml": "out: {a: 1}\n",
    "cfg_budgets.yaml": "budgets: [8, 0]\n",
    "cfg_remove.yaml": "remove: x\n",
    "study_ok.yaml": OK_STUDY,
    "study_unknown_key.yaml": OK_STUDY + "colour: blue\n",
    "study_bad_method.yaml": OK_STUDY.replace("[reverse]", "[nosuch]"),
    "study_bad_remove.yaml": OK_STUDY.replace("remove: [1]", "remove: [-2]"),
    "study_bad_budget.yaml": OK_STUDY.replace("[organism-chain]", "[{task: organism-chain, budgets: [8, 0]}]"),
    "study_bad_task.yaml": OK_STUDY.replace("[organism-chain]", "[organism-chain:k=99]"),
    "study_list.yaml": "- a\n",
    "study_broken.yaml": "name: [\n",
    "study_utf8.yaml": b"name: caf\xe9\nmodels: [embedded:organism]\n",
    "study_no_models.yaml": "name: s\ntasks: [organism-chain]\n",
    "alloc_bad.json": "[0.5, 0.5]\n",
    "lmeval_bad.jsonl": '{"doc": 1}\n',
}


@dataclass
class Case:
    argv: str                              # after `prunescale`, in the invocation's folder
    words: tuple[str, ...] = ()            # the error line names these
    needs_ro: bool = False                 # uses ro/, a folder the user cannot write (as root: run as nobody)
    ro_study: bool = False                 # ro/ holds a study directory

    @property
    def id(self) -> str:
        return self.argv


def C(argv: str, *words: str, **kw) -> Case:
    return Case(argv, words, **kw)


CASES = [
    # prune: names, amounts, files, outputs
    C(f"{PR} --method nope --remove 1 --out p", "unknown pruning method 'nope'"),
    C(f"{PR} --remove 0 --out p", "nothing to prune"),
    C(f"{PR} --remove -2 --out p", "nothing to prune"),
    C(f"{PR} --remove 100 --out p", "100"),
    C(f"{PR} --ratio 1.5 --out p", "--ratio"),
    C(f"{PR} --out p", "exactly one of"),
    C(f"{PR} --remove abc --out p", "--remove"),
    C(f"{PR} --remove 1 --out afile", "is a file"),
    C(f"{PR} --remove 1 --out afile/p", "under the file"),
    C(f"{PR} --remove 1 --out full", "not empty"),
    C(f"{PR} --remove 1 --out ro/p", "not writable", needs_ro=True),
    C(f"{PR} --remove 1 --out ''", "--out"),
    C("prune --model embedded:nope --method reverse --remove 1 --out p", "embedded:nope"),
    C("prune --model no/such/dir --method reverse --remove 1 --out p", "no/such/dir"),
    C(f"{PR} --remove 1 --calibration file:calib.txt --out p", "calib.txt", "not UTF-8"),
    C(f"{PR} --remove 1 --calibration file:missing.txt --out p", "missing.txt"),
    C(f"{PR} --remove 1 --calibration nosuch --out p", "nosuch"),
    C(f"{PR} --remove 1 --sparsity 0.5 --out p", "--sparsity"),
    C(f"prune {M} --method wanda --sparsity 1.5 --out p", "1.5"),
    C(f"prune {M} --method wanda --allocation alloc_bad.json --sparsity 0.5 --out p", "alloc_bad.json"),
    C(f"{PR} --remove 1 --laco-threshold 0.5 --out p", "--laco-threshold"),
    C(f"prune {M} --method selection --layers 1,1 --out p", "twice"),
    C(f"prune {M} --method selection --layers 99 --out p", "99"),
    C(f"prune {M} --method selection --layers x --out p", "--layers"),
    C(f"{PR} --remove 1 --out p --save-config afile/c.yaml", "--save-config", "under the file"),
    C(f"{PR} --remove 1 --out p --save-config full", "--save-config", "is a directory"),
    C(f"{PR} --remove 1 --calibration-samples 0 --out p", "--calibration-samples"),
    C(f"{PR} --remove 1 --config cfg_unknown.yaml --out p", "nosuch_option"),
    C(f"{PR} --remove 1 --config cfg_list.yaml --out p", "cfg_list.yaml"),
    C(f"{PR} --remove 1 --config cfg_broken.yaml --out p", "cfg_broken.yaml"),
    C(f"{PR} --remove 1 --config missing.yaml --out p", "missing.yaml"),
    C(f"{PR} --remove 1 --config cfg_out_list.yaml", "cfg_out_list.yaml", "out"),
    C(f"{PR} --config cfg_remove.yaml --out p", "--remove"),
    C(f"{E} --task organism-chain --config cfg_out_map.yaml", "cfg_out_map.yaml"),
    C(f"{E} --task organism-chain --config cfg_budgets.yaml --out r", "'0'"),
    # layers
    C(f"layers {M} --remove 100", "100", "8 layers"),
    C(f"layers {M} --remove -1", "-1"),
    C(f"layers {M} --method nosuch", "nosuch"),
    C(f"layers {M} --method selection --layers 50", "50"),
    C(f"layers {M} --calibration file:calib.txt", "not UTF-8"),
    # eval
    C(f"{E} --task organism-chain --seeds abc --out r", "--seeds", "abc"),
    C(f"{E} --task organism-chain --out afile", "is a file"),
    C(f"{E} --task organism-chain --out afile/r", "under the file"),
    C(f"{E} --task organism-chain --out ro/r", "not writable", needs_ro=True),
    C(f"{E} --task organism-chain --out ro", "not writable", needs_ro=True),
    C(f"{E} --task nope --out r", "unknown task 'nope'"),
    C(f"{E} --task organism-chain:k=99 --out r", "k=99"),
    C(f"{E} --task organism-chain:kk=2 --out r", "'kk'"),
    C(f"{E} --task jsonl:bad_utf8.jsonl --out r", "not UTF-8"),
    C(f"{E} --task jsonl:missing.jsonl --out r", "missing.jsonl"),
    C(f"{E} --task jsonl:notobj.jsonl --out r", "not a JSON object"),
    C(f"{E} --task jsonl:empty.jsonl --out r", "no rows"),
    C(f"{E} --task jsonl:nofield.jsonl --out r", "question field"),
    C(f"{E} --task jsonl:nulls.jsonl --out r", "null"),
    C(f"{E} --task organism-chain --budgets 0 --out r", "'0'"),
    C(f"{E} --task organism-chain --budgets x --out r", "'x'"),
    C(f"{E} --task organism-chain --samples 0 --out r", "--samples"),
    C(f"{E} --task organism-chain --temperature -1 --out r", "--temperature"),
    C(f"{E} --task organism-chain --top-p 2 --out r", "--top-p"),
    C(f"{E} --task organism-chain --backend nope --out r", "unknown backend 'nope'"),
    C(f"{E} --task organism-chain --data good.jsonl --out r", "does not read a data file"),
    C("eval --model nodir --task organism-chain --out r", "nodir"),
    C(f"{E} --task organism-chain --out r --nosuch-flag", "--nosuch-flag"),
    C(f"{E} --task organism-chain --out r --save-config full", "--save-config"),
    C(f"{E} --task organism-chain --out r --config cfg_unknown.yaml", "nosuch_option"),
    C(f"eval {M} --out r", "--task"),
    # export
    C("export --run nosuch", "nosuch"),
    C("export --run fakerun", "no results store"),
    C("export --run fakerun --format xml", "xml"),
    C("export --run fakerun --output afile/x.jsonl", "--output", "under the file"),
    C("export --run fakerun --output full", "--output", "is a directory"),
    # analyze
    C("analyze --run nosuch", "nosuch"),
    C("analyze --run fakerun", "fakerun"),
    C("analyze --lmeval-jsonl missing.jsonl", "missing.jsonl"),
    C("analyze --lmeval-jsonl bad_utf8.jsonl --out afile/a", "under the file"),
    C("analyze --lmeval-jsonl lmeval_bad.jsonl --out a", "lmeval_bad.jsonl"),
    C("analyze --run fakerun --judge-url http://127.0.0.1:9/v1", "--judge-model"),
    C("analyze --run fakerun --out ro/a", "not writable", needs_ro=True),
    C("analyze", "--run"),
    # finetune
    C(f"{FT} --out afile", "is a file"),
    C(f"{FT} --out afile/ft", "under the file"),
    C(f"{FT} --out full", "not empty"),
    C(f"{FT} --out ro/ft", "not writable", needs_ro=True),
    C(f"finetune {M} --data jsonl:bad_utf8.jsonl --out ft", "not UTF-8"),
    C(f"finetune {M} --data jsonl:missing.jsonl --out ft", "missing.jsonl"),
    C(f"{FT} --out ft --mode nope", "nope"),
    C(f"{FT} --out ft --lora-r 0", "lora"),
    C(f"{FT} --out ft --lr -1", "--lr"),
    C(f"{FT} --out ft --adam-betas x", "--adam-betas"),
    C("finetune --model no/such/dir --data organism --out ft", "no/such/dir"),
    C(f"{FT} --out ft --objective distil", "distil"),
    C(f"{FT} --out ft --objective kd --teacher embedded:organism --kd-alpha 2", "--kd-alpha"),
    C(f"{FT} --out ft --objective kd", "--teacher"),
    C(f"finetune {M} --data teacher --out ft", "--teacher"),
    C(f"{FT} --out ft --objective kd --teacher no/such/dir", "no/such/dir"),
    # study
    C("study run missing.yaml --out s", "missing.yaml"),
    C("study run study_ok.yaml --out afile", "is a file"),
    C("study run study_ok.yaml --out afile/s", "under the file"),
    C("study run study_ok.yaml --out ro/s", "not writable", needs_ro=True),
    C("study run study_unknown_key.yaml --out s", "colour"),
    C("study run study_bad_method.yaml --out s", "nosuch"),
    C("study run study_bad_remove.yaml --out s", "-2"),
    C("study run study_bad_budget.yaml --out s", "budget 0"),
    C("study run study_bad_task.yaml --out s", "k=99"),
    C("study run study_list.yaml --out s", "study_list.yaml"),
    C("study run study_broken.yaml --out s", "study_broken.yaml"),
    C("study run study_utf8.yaml --out s", "not UTF-8"),
    C("study run study_no_models.yaml --out s", "models"),
    C("study run study_ok.yaml --budgets 0 --out s", "'0'"),
    C("study run study_ok.yaml --remove x --out s", "--remove"),
    C("study run study_ok.yaml --tasks nope --out s", "nope"),
    C("study run study_ok.yaml --executor nope --out s", "nope"),
    C("study run study_ok.yaml --methods nosuch --out s", "nosuch"),
    C("study status nosuch_dir", "nosuch_dir"),
    C("study table fakerun --task x", "x"),
    # fragility
    C(f"fragility {M} --out afile/x.json", "under the file"),
    C(f"fragility {M} --out full", "is a directory"),
    C(f"fragility {M} --out ro/x.json", "not writable", needs_ro=True),
    C(f"fragility {M} --traces 0 --out f.json", "--traces"),
    C(f"fragility {M} --think-tokens -5 --out f.json", "--think-tokens"),
    C("fragility --model nodir --out f.json", "nodir"),
    C(f"fragility {M} --parent embedded:nope --out f.json", "embedded:nope"),
    C(f"fragility {M} --traces x", "--traces"),
    # knowledge
    C(f"knowledge {M} --tasks nope --engine builtin --out k", "nope"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --out afile/k", "under the file"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --out afile", "is a file"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --limit 0 --out k", "--limit"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --batch-size 0 --out k", "--batch-size"),
    C(f"knowledge {M} --tasks jsonl:bad_utf8.jsonl --engine builtin --out k", "not UTF-8"),
    C(f"knowledge {M} --tasks organism-facts --engine nope --out k", "nope"),
    C("knowledge --model nodir --tasks organism-facts --engine builtin --out k", "nodir"),
    # report
    C("report --study nosuch", "nosuch"),
    C("report --study emptydir", "not a study directory"),
    C("report --study afile", "afile"),
    C("report --study ro", "not writable", needs_ro=True, ro_study=True),
    # organism
    C("organism check --k -3", "--k"),
    C("organism check --k 99", "--k"),
    C("organism check --budgets 0", "--budgets", "'0'"),
    C("organism check --budgets abc", "--budgets"),
    C("organism check --n 0", "--n"),
    C("organism check --samples -1", "--samples"),
    C("organism check --model nodir", "nodir"),
    C("organism train --out afile/o", "under the file"),
    C("organism train --out full", "not empty", "--force"),
    C("organism train --out ro/o", "not writable", needs_ro=True),
    C("organism train --out o --steps 0", "--steps"),
    C("organism train --out o --step-error 2", "--step-error"),
    C("organism train --out o --lr nan", "--lr"),
    C("organism nosuch", "nosuch"),
    # demo
    C("demo --out afile", "is a file"),
    C("demo --out afile/d", "under the file"),
    C("demo --out ro/d", "not writable", needs_ro=True),
    C("demo --study missing.yaml --out d", "missing.yaml"),
    C("demo --study study_bad_method.yaml --out d", "nosuch"),
    # more numbers, names and files, command by command
    C(f"{PR} --remove 1 --batch-size 0 --out p", "--batch-size"),
    C(f"{PR} --remove 1 --max-seq-len 0 --out p", "--max-seq-len"),
    C(f"{PR} --remove 1 --dtype float7 --out p", "float7"),
    C(f"{PR} --remove 1 --device tpu9 --out p", "tpu9"),
    C(f"prune {M} --method wanda --pattern 5:4 --out p", "5:4"),
    C(f"prune {M} --method wanda --pattern x --out p", "'x'"),
    C(f"prune {M} --method wanda --sparsity 0.5 --allocation nosuch.json --out p", "nosuch.json"),
    C(f"prune {M} --method wanda --sparsity 0.5 --allocation owl --owl-lambda -1 --out p", "--owl-lambda"),
    C(f"prune {M} --method laco --remove 1 --laco-threshold 2 --out p", "threshold"),
    C(f"prune {M} --method laco --remove 1 --laco-rule nope --out p", "nope"),
    C(f"{PR} --ratio 0 --out p", "--ratio"),
    C(f"layers {M} --batch-size 0", "--batch-size"),
    C(f"layers {M} --calibration-samples -4", "--calibration-samples"),
    C(f"{E} --task organism-chain --limit 0 --out r", "--limit"),
    C(f"{E} --task organism-chain --max-tokens 0 --out r", "--max-tokens"),
    C(f"{E} --task organism-chain --answer-tokens 0 --out r", "--answer-tokens"),
    C(f"{E} --task organism-chain --batch-size 0 --out r", "--batch-size"),
    C(f"{E} --task organism-chain --waits -1 --out r", "--wait"),
    C(f"{E} --task organism-chain --seeds , --out r", "seeds"),
    C(f"{E} --task organism-chain --profile nope --out r", "nope"),
    C(f"{E} --task organism-chain --dtype float7 --out r", "float7"),
    C(f"{E} --task organism-chain --temperature x --out r", "--temperature"),
    C(f"{E} --task organism-chain,organism-facts --data good.jsonl --out r", "--data"),
    C(f"{E} --task jsonl:good.jsonl --id-field nope --out r", "--id-field"),
    C(f"{FT} --out ft --epochs 0", "--epochs"),
    C(f"{FT} --out ft --save-steps 0", "--save-steps"),
    C(f"{FT} --out ft --warmup 2", "--warmup"),
    C(f"{FT} --out ft --lora-dropout 1.5", "dropout"),
    C(f"{FT} --out ft --samples 0", "--samples"),
    C(f"{FT} --out ft --max-length 0", "--max-length"),
    C(f"{FT} --out ft --scheduler nope", "--scheduler", "nope"),
    C(f"finetune {M} --data self:nosuch_run --out ft", "nosuch_run"),
    C(f"finetune {M} --data jsonl:nofield.jsonl --out ft", "nofield.jsonl"),
    C(f"{FT} --out ft --config cfg_unknown.yaml", "nosuch_option"),
    C("study run study_ok.yaml --samples 0 --out s", "samples"),
    C("study run study_ok.yaml --limit 0 --out s", "limit"),
    C("study run study_ok.yaml --temperature -1 --out s", "temperature"),
    C("study run study_ok.yaml --backend nope --out s", "nope"),
    C("study run study_ok.yaml --seeds x --out s", "--seeds"),
    C("study run study_ok.yaml --recovery nope --out s", "nope"),
    C("study run study_ok.yaml --models embedded:nope --out s", "embedded:nope"),
    C("study run study_ok.yaml --models no/such/dir --out s", "no/such/dir"),
    C("study status study_bad_method.yaml", "nosuch"),
    C("study table fakerun --task x --metric nope@3", "fakerun"),
    C(f"fragility {M} --agree-tokens 0 --out f.json", "--agree-tokens"),
    C(f"fragility {M} --knowledge -1 --out f.json", "--knowledge"),
    C(f"fragility {M} --parent nodir --out f.json", "nodir"),
    C(f"fragility {M} --out f.json", "--parent"),
    C(f"knowledge {M} --tasks organism-facts,mmlu --engine builtin --data good.jsonl --out k", "--data"),
    C(f"knowledge {M} --tasks jsonl:missing.jsonl --engine builtin --out k", "missing.jsonl"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --num-fewshot 2 --out k", "--num-fewshot"),
    C(f"knowledge {M} --tasks organism-facts --engine builtin --include-path nodir --out k", "--include-path"),
    C("analyze --run fakerun --tokenizer nodir", "fakerun"),
    C("analyze --run fakerun --judge-url http://127.0.0.1:9/v1 --judge-model m --judge-timeout 0", "--judge-timeout"),
    C("analyze --lmeval-jsonl notobj.jsonl", "notobj.jsonl"),
    C("analyze --lmeval-jsonl empty.jsonl", "empty.jsonl"),
    C("export --run afile", "afile"),
    C("organism train --out o --chain-batch 0", "--chain-batch"),
    C("organism train --out o --threads x", "--threads"),
    C("organism check --seed x", "--seed"),
    C("demo --study study_list.yaml --out d", "study_list.yaml"),
    C("demo --study study_ok.yaml --out afile/x/y", "under the file"),
    # the command itself
    C("nosuchcommand", "nosuchcommand"),
    C("--nosuch-flag", "--nosuch-flag"),
]


@dataclass
class Verdict:
    case: Case
    clean: bool
    why: str = ""
    seconds: float = 0.0
    skipped: bool = False
    stderr: str = ""
    extra: list[str] = field(default_factory=list)


def make_folder(root: Path, case: Case) -> Path:
    d = Path(tempfile.mkdtemp(prefix="case-", dir=root))
    for name, content in FILES.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    ro = d / "ro"
    ro.mkdir()
    if case.ro_study:
        (ro / "study.yaml").write_text(OK_STUDY)
        (ro / "cells").mkdir()
    for p in (ro, *ro.rglob("*")):
        if p.is_dir():
            p.chmod(0o555)
    if case.needs_ro and _root():   # run as nobody: everything but ro/ is theirs to write
        d.chmod(0o777)
        for p in d.rglob("*"):
            if p.is_dir() and p != ro and ro not in p.parents:
                p.chmod(0o777)
    return d


NOBODY = 65534


def _root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def snapshot(d: Path) -> dict:
    out = {}
    for p in d.rglob("*"):
        st = p.lstat()
        out[str(p.relative_to(d))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def unlock(d: Path) -> None:
    for p in d.rglob("*"):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)


def judge(case: Case, rc: int | None, out: str, err: str, before: dict, after: dict, seconds: float) -> Verdict:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    problems = []
    if rc is None:
        problems.append("timed out")
    elif rc != 2:
        problems.append(f"exit {rc}")
    if "Traceback" in err:
        problems.append("traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    elif not lines[0].startswith("prunescale: error: "):
        problems.append("stderr is not `prunescale: error: ...`")
    else:
        missing = [w for w in case.words if w not in lines[0]]
        if missing:
            problems.append(f"error does not name {missing}")
    if out.strip():
        problems.append("printed to stdout (work started)")
    if before != after:
        changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
        problems.append(f"left behind / changed: {changed[:4]}")
    return Verdict(case, not problems, "; ".join(problems), seconds, stderr=err)


def env() -> dict:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
             TOKENIZERS_PARALLELISM="false")
    src = str(ROOT / "src")
    e["PYTHONPATH"] = src + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def _fork_child(argv: list[str], folder: Path, out_path: Path, err_path: Path, nobody: bool = False) -> None:
    """In the child: run the CLI as `python -m prunescale` does, then leave without cleanup handlers."""
    code = 1
    try:
        os.chdir(folder)
        for fd, path in ((1, out_path), (2, err_path)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        if nobody:
            _as_nobody()
        from prunescale.cli.main import main

        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if e.code is not None and not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def run_census(cases=CASES, *, exec_mode: bool = False, jobs: int | None = None, timeout: float = 300,
               log=None) -> list[Verdict]:
    """Run every case, ``jobs`` at a time; the verdicts, in the cases' order."""
    root_user = _root()
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    work = Path(tempfile.mkdtemp(prefix="prunescale-bad-inputs-"))
    work.chmod(0o755)   # a case run as nobody reaches its folder
    verdicts: dict[int, Verdict] = {}
    pending = list(enumerate(cases))
    running: dict = {}   # key -> (index, case, folder, before, start, handle)
    if not exec_mode:
        os.environ.update({k: v for k, v in env().items() if k != "PYTHONPATH"})
        sys.path.insert(0, str(ROOT / "src"))
        import prunescale.cli.main as cli_main   # imported once; every child starts from here

        cli_main.build_parser()   # discover every registry in the parent, as a fresh process would
    try:
        while pending or running:
            while pending and len(running) < jobs:
                i, case = pending.pop(0)
                nobody = case.needs_ro and root_user
                folder = make_folder(work, case)
                before = snapshot(folder)
                logs = Path(tempfile.mkdtemp(prefix="logs-", dir=work))
                if nobody:
                    logs.chmod(0o777)   # --exec: the process opens nothing itself, but keep it writable
                argv = shlex.split(case.argv)
                start = time.perf_counter()
                if exec_mode:
                    with open(logs / "out", "w") as o, open(logs / "err", "w") as e:
                        kw = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if nobody else {}
                        try:
                            proc = subprocess.Popen([sys.executable, "-m", "prunescale", *argv], cwd=folder,
                                                    env=env(), stdout=o, stderr=e, stdin=subprocess.DEVNULL, **kw)
                        except PermissionError:   # nobody may not run this Python (one under /root, say)
                            proc = None
                    if proc is None:
                        verdicts[i] = Verdict(case, True, "skipped: the user nobody cannot run this Python",
                                              skipped=True)
                        if log:
                            log(verdicts[i])
                        unlock(folder)
                        shutil.rmtree(folder, ignore_errors=True)
                        continue
                    running[proc.pid] = (i, case, folder, before, start, logs, proc)
                else:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        _fork_child(argv, folder, logs / "out", logs / "err", nobody)
                    running[pid] = (i, case, folder, before, start, logs, None)
            done = []
            for pid, (i, case, folder, before, start, logs, proc) in running.items():
                rc = None
                if proc is not None:
                    rc = proc.poll()
                else:
                    got, status = os.waitpid(pid, os.WNOHANG)
                    if got:
                        rc = os.waitstatus_to_exitcode(status)
                late = time.perf_counter() - start > timeout
                if rc is None and not late:
                    continue
                if rc is None:
                    (proc.kill() if proc else os.kill(pid, 9))
                    (proc.wait() if proc else os.waitpid(pid, 0))
                out = (logs / "out").read_text(errors="replace")
                err = (logs / "err").read_text(errors="replace")
                verdicts[i] = judge(case, rc, out, err, before, snapshot(folder), time.perf_counter() - start)
                if log:
                    log(verdicts[i])
                unlock(folder)
                shutil.rmtree(folder, ignore_errors=True)
                done.append(pid)
            for pid in done:
                running.pop(pid)
            if running and not done:
                time.sleep(0.02)
    finally:
        for pid, (_, _, _, _, _, _, proc) in running.items():
            try:
                (proc.kill() if proc else os.kill(pid, 9))
            except OSError:
                pass
        unlock(work)
        shutil.rmtree(work, ignore_errors=True)
    return [verdicts[i] for i in range(len(cases)) if i in verdicts]


COMMANDS = ("prune", "layers", "eval", "export", "demo", "analyze", "organism", "study", "knowledge", "report",
            "finetune", "fragility")


def command_of(case: Case) -> str:
    """The command a case calls (``study run``, ``organism check``), or ``prunescale`` for the command itself."""
    words = shlex.split(case.argv)
    if not words or words[0] not in COMMANDS:
        return "prunescale"
    subs = {"study": ("run", "status", "table"), "organism": ("train", "check")}.get(words[0], ())
    return " ".join(words[:2]) if words[1:2] and words[1] in subs else words[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exec", action="store_true", help="run `python -m prunescale` per case (slow) instead of forking")
    ap.add_argument("--jobs", type=int, default=None, help="invocations at a time (default: CPUs, at most 4)")
    ap.add_argument("-k", dest="word", help="only cases whose command line contains WORD")
    ap.add_argument("-v", action="store_true", help="print each error line")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.word or args.word in c.argv]
    t0 = time.perf_counter()

    def log(v: Verdict) -> None:
        state = "skipped" if v.skipped else "clean" if v.clean else "NOT CLEAN"
        print(f"{state:9s} {v.seconds:5.1f}s  prunescale {v.case.argv}" + ("" if v.clean else f"\n          {v.why}")
              + (f"\n          {v.stderr.strip().splitlines()[-1] if v.stderr.strip() else '(no stderr)'}"
                 if args.v or not v.clean else ""), flush=True)

    verdicts = run_census(cases, exec_mode=args.exec, jobs=args.jobs, log=log)
    ran = [v for v in verdicts if not v.skipped]
    bad = [v for v in ran if not v.clean]
    commands = sorted({command_of(v.case) for v in ran})
    print(f"\n{len(ran)} bad invocations across {len(commands)} commands ({', '.join(commands)}), "
          f"{len(verdicts) - len(ran)} skipped, {time.perf_counter() - t0:.0f}s "
          f"({'python -m prunescale each' if args.exec else 'forked'}); not clean: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
