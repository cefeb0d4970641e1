"""The `--help` blocks of README.md and docs/ match the parser: a renamed flag fails naming file and line."""

from __future__ import annotations

import pytest

from .helptext import ROOT, commands, doc_files, help_blocks, render

BLOCKS = [b for p in doc_files() for b in help_blocks(p)]
FIX = "regenerate with `.venv/bin/python -m tests.docs.helptext`"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.path.name}:{b.line}")
def test_help_block_matches_parser(block):
    want = render(block.command)
    where = block.path.relative_to(ROOT)
    for i, (doc, real) in enumerate(zip(block.body, want)):
        assert doc.rstrip() == real, (
            f"{where}:{block.line + 1 + i}: `{block.command} --help` differs\n  docs:   {doc!r}\n"
            f"  parser: {real!r}\n{FIX}")
    assert len(block.body) == len(want), (
        f"{where}:{block.line}: `{block.command} --help` has {len(want)} lines, the docs {len(block.body)}; {FIX}")


def test_every_command_has_its_help_in_the_docs():
    documented = {b.command for b in BLOCKS}
    missing = [c for c in commands() if c not in documented]
    assert not missing, f"commands without a `text help:` block in docs/: {missing}"


def test_a_renamed_flag_is_caught(tmp_path):
    block = next(b for b in BLOCKS if b.command == "prunescale eval")
    doc = "\n".join(["```text help:prunescale eval", *block.body, "```"]).replace("--budgets", "--budget")
    path = tmp_path / "eval.md"
    path.write_text(doc + "\n")
    (changed,) = help_blocks(path)
    assert changed.body != render(changed.command)
