"""`--help` text in the docs, rendered from the parser: ``python -m tests.docs.helptext`` rewrites the blocks.

A block is a fence whose info string is ``text help:prunescale CMD [SUB]``; its body is exactly what
``prunescale CMD [SUB] --help`` prints at COLUMNS=100 (argparse reads the width from that variable).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDTH = "100"
HELP_FENCE = re.compile(r"^```text help:(prunescale(?: [\w-]+)*)\s*$")


@dataclass
class HelpBlock:
    path: Path
    line: int           # 1-based line of the opening fence
    command: str        # "prunescale eval"
    body: list[str]     # the lines between the fences


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def help_blocks(path: Path) -> list[HelpBlock]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = HELP_FENCE.match(lines[i])
        if m:
            end = lines.index("```", i + 1)
            blocks.append(HelpBlock(path, i + 1, m.group(1), lines[i + 1:end]))
            i = end
        i += 1
    return blocks


def render(command: str) -> list[str]:
    """The help of `command` ("prunescale study run") as lines, at a fixed width."""
    from prunescale.cli.main import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser, _ = build_parser()
        for word in command.split()[1:]:
            parser = _subparser(parser, word)
        return [line.rstrip() for line in parser.format_help().rstrip("\n").splitlines()]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _subparser(parser: argparse.ArgumentParser, word: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and word in action.choices:
            return action.choices[word]
    raise KeyError(f"no sub-command {word!r} under {parser.prog!r}")


def commands() -> list[str]:
    """Every command and sub-command of the parser, as "prunescale eval", "prunescale study run"."""
    from prunescale.cli.main import build_parser

    out: list[str] = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    out.append(f"{prefix} {name}")
                    walk(sub, f"{prefix} {name}")

    walk(build_parser()[0], "prunescale")
    return out


def rewrite(path: Path) -> bool:
    lines = path.read_text(encoding="utf-8").splitlines()
    for block in reversed(help_blocks(path)):
        start = block.line
        lines[start:start + len(block.body)] = render(block.command)
    new = "\n".join(lines) + "\n"
    changed = new != path.read_text(encoding="utf-8")
    if changed:
        path.write_text(new, encoding="utf-8")
    return changed


if __name__ == "__main__":
    for p in doc_files():
        if rewrite(p):
            print(f"rewrote help blocks in {p.relative_to(ROOT)}", file=sys.stderr)
