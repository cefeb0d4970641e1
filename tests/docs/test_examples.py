"""Every shell example in README.md and docs/ runs, or says why not.

An example is a fenced block with a line starting `$ prunescale`, `$ make`, `prunescale ` or `make `.
The line before the fence may carry a marker, `<!-- example: WORD -->`:

- `long`, `gpu`, `network`: not run here (a long run, a GPU, the network); `ci`: run by CI itself
  (`make test`, `make demo`); `make` lines must carry one of these.
- `output`: run, and the output shown is deterministic (greedy, seeded): its lines, `...` skipped, must
  appear in the real output in that order.
- no marker: run; it must exit 0.

Examples run in process (`prunescale.cli.main.main`) in a fresh directory per block, with these substitutions
(printed in a failure): `../shared/data/` -> the shared data, `studies/` -> the repository's, `--limit N` above 4 -> `--limit 2`,
`--out /abs` -> a directory under the block's, and `layers` / `prune` on SmolLM2 calibrate on 2 texts of 32
tokens (`--calibration-samples 2 --max-seq-len 32`) unless the example sets the calibration size.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..conftest import SHARED_DATA
from .helptext import ROOT, doc_files

SKIP = {"long", "gpu", "network", "ci"}
KNOWN = SKIP | {"output"}
MARKER = re.compile(r"^<!--\s*example:\s*(\S+)\s*-->\s*$")
COMMAND = re.compile(r"^(\$ )?(prunescale|make) ")


@dataclass
class Command:
    line: int                   # 1-based line in the file
    text: str                   # the command as written, continuation lines joined
    output: list[str] = field(default_factory=list)


@dataclass
class Example:
    path: Path
    line: int                   # 1-based line of the opening fence
    marker: str | None
    marker_line: int | None
    commands: list[Command]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def examples(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        info = lines[i][3:].strip()
        if info in ("", "bash", "sh", "shell", "console"):
            cmds = _commands(lines, i + 1, end)
            if cmds:
                k = i - 1
                while k >= 0 and not lines[k].strip():
                    k -= 1
                m = MARKER.match(lines[k]) if k >= 0 else None
                found.append(Example(path, i + 1, m and m.group(1), (k + 1) if m else None, cmds))
        i = end + 1
    return found


def _commands(lines: list[str], start: int, end: int) -> list[Command]:
    cmds: list[Command] = []
    j = start
    while j < end:
        if COMMAND.match(lines[j]):
            first, text = j, lines[j].removeprefix("$ ")
            while text.endswith("\\") and j + 1 < end:
                j += 1
                text = text[:-1].rstrip() + " " + lines[j].strip()
            cmds.append(Command(first + 1, text))
        elif cmds and lines[j].strip():
            cmds[-1].output.append(lines[j].rstrip())
        j += 1
    return cmds


ALL = [e for p in doc_files() for e in examples(p)]
RUN = [e for e in ALL if e.marker not in SKIP]


def substitute(text: str, tmp: Path) -> list[str]:
    argv = shlex.split(text.replace("../shared/data/", f"{SHARED_DATA}/"), comments=True)
    assert argv[0] == "prunescale", argv
    argv = [f"{ROOT}/{a}" if a.startswith("studies/") else a for a in argv[1:]]   # the repository's study files
    for i, a in enumerate(argv[:-1]):
        if a == "--limit" and int(argv[i + 1]) > 4:
            argv[i + 1] = "2"
        if a == "--out" and argv[i + 1].startswith("/"):
            argv[i + 1] = str(tmp / argv[i + 1].strip("/").replace("/", "_"))
    if argv[0] in ("layers", "prune") and "embedded:smollm2-135m" in argv and "--calibration-samples" not in argv:
        argv += ["--calibration-samples", "2", "--max-seq-len", "32"]
    return argv


def test_markers_are_known_words():
    bad = [f"{e.path.relative_to(ROOT)}:{e.marker_line}: {e.marker!r}" for e in ALL
           if e.marker is not None and e.marker not in KNOWN]
    assert not bad, f"unknown example markers (known: {sorted(KNOWN)}): {bad}"


def test_make_lines_are_marked():
    bad = [f"{e.path.relative_to(ROOT)}:{c.line}: {c.text}" for e in ALL for c in e.commands
           if c.text.startswith("make ") and e.marker not in SKIP]
    assert not bad, f"`make` examples must be marked <!-- example: ci --> (or long): {bad}"


def test_the_done_when_example_is_run():
    text = ("prunescale eval --model embedded:organism --task organism-chain:k=8,seed=3 --budgets 64 --limit 4 "
            "--temperature 0 --out")
    assert any(c.text.startswith(text) for e in RUN for c in e.commands)


@pytest.mark.parametrize("example", RUN, ids=lambda e: e.where)
def test_example_runs(example, tmp_path, monkeypatch):
    from prunescale.cli.main import main

    monkeypatch.chdir(tmp_path)
    for cmd in example.commands:
        where = f"{example.path.relative_to(ROOT)}:{cmd.line}"
        argv = substitute(cmd.text, tmp_path)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:   # argparse refuses the command line (a renamed or removed flag)
                rc = e.code
        assert rc == 0, (f"{where}: `{cmd.text}` exited {rc} (ran as prunescale {shlex.join(argv)})\n"
                         + err.getvalue()[-2000:])
        if example.marker == "output":
            _same_output(where, cmd, out.getvalue())


def _same_output(where: str, cmd: Command, real: str) -> None:
    lines = [line.rstrip() for line in real.splitlines()]
    pos = 0
    for shown in cmd.output:
        if shown.strip() in ("...", "") or shown.lstrip().startswith("..."):
            continue
        try:
            pos = lines.index(shown, pos) + 1
        except ValueError:
            pytest.fail(f"{where}: `{cmd.text}` did not print the line shown in the docs:\n  {shown!r}\n"
                        f"real output:\n{real[-3000:]}")
