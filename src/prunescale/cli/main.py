"""The ``prunescale`` command: a thin layer over the package's stages."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import PrunescaleError
from .common import COMMANDS, load_config_defaults, save_config


class Parser(argparse.ArgumentParser):
    """argparse's own refusals (an unknown flag or choice, a missing required flag, a value its type rejects) as
    every other error: one line ``prunescale: error: ...``, exit 2, with the command's --help to look at instead of
    the whole usage. ``--help`` itself is unchanged. Sub-command parsers are of the same class."""

    def error(self, message: str):
        self.exit(2, f"prunescale: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = Parser(prog="prunescale", description="Prune LLM layers and measure test-time scaling.")
    parser.add_argument("--version", action="version", version=f"prunescale {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS.ordered():   # in their declared order: the order of `prunescale --help`
        register(sub)
    return parser, sub.choices


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, commands = build_parser()
    _quiet_transformers()
    try:
        config = _config_path(argv)
        if config and argv[0] in commands:
            load_config_defaults(commands[argv[0]], config)
        args = parser.parse_args(argv)
        if getattr(args, "save_config", None):
            save_config(args, args.save_config)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except PrunescaleError as e:
        print(f"prunescale: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prunescale: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # output piped into `head` and the like: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _quiet_transformers() -> None:
    # transformers' own load bars and info logs drown ours; its warnings and errors still show.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_warning()


def _config_path(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


if __name__ == "__main__":
    sys.exit(main())
