"""Options and helpers shared by sub-commands: model flags, YAML config files, tables."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from pathlib import Path

import yaml

from ..errors import PrunescaleError
from ..fileio import out_file_type
from ..options import default_of
from ..registry import Registry

# A command is a module's ``register(subparsers)``, declared with ``@COMMANDS.register(NAME, order=N)``; ``order``
# is its place in ``prunescale --help``. Every module of cli/ is looked at; plug-ins: entry points in
# prunescale.commands.
COMMANDS = Registry("command", package="prunescale.cli", group="prunescale.commands", skip=("main",))

# argparse destinations that are plumbing, not part of a run's configuration.
NOT_CONFIG = {"func", "command", "config", "save_config"}


def add_model_args(p: argparse.ArgumentParser) -> None:
    from ..scaling.evaluate import EvalConfig

    add_field_args(p.add_argument_group("model"), EvalConfig, ["model", "dtype", "device", "trust_remote_code"])


def add_field_args(p, classes, names: list[str]) -> None:
    """Flags for the named fields of a dataclass (or of any of a tuple of them), in that order, from each field's
    ``prunescale.options`` metadata: the default (and whether the flag is required) is the field's own."""
    by_name = {f.name: f for cls in reversed(classes if isinstance(classes, tuple) else (classes,))
               for f in fields(cls)}
    for name in names:
        f = by_name[name]
        meta = dict(f.metadata)
        dest = meta.pop("alias", name)
        flags = meta.pop("flag", None) or f"--{dest.replace('_', '-')}"
        kw = {"dest": dest, "help": meta.pop("help", None), **meta}
        default = default_of(f)
        if default is MISSING:
            kw["required"] = True
        elif default is False and "action" not in kw:
            kw["action"] = "store_true"
        else:
            kw["default"] = default
            if kw["help"]:
                kw["help"] = kw["help"].replace("{default}", _shown(default))
        if "type" not in kw and "action" not in kw:
            kw["type"] = _TYPES.get(str(f.type).replace(" | None", ""))
        p.add_argument(*([flags] if isinstance(flags, str) else flags), **kw)


def _shown(default) -> str:
    if isinstance(default, list):
        return ",".join(map(_shown, default))
    return "none" if default is None else str(default)


def add_calibration_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("calibration")
    g.add_argument("--calibration", default=None, help="default self (traces for --method chain). self: text the "
                   "model writes from built-in seed prompts; traces: its own thinking traces on built-in reasoning "
                   "prompts (budget-forced, cached); traces:TASK: the same on a task's problems; organism: organism "
                   "transcripts; self:PROMPTS.txt, file:PATH (.txt or .jsonl), or hf:DATASET[:config][:split]")
    g.add_argument("--calibration-samples", type=int, default=32, help="number of calibration texts (default 32)")
    g.add_argument("--max-seq-len", type=int, default=128, help="tokens per calibration text (default 128)")
    g.add_argument("--batch-size", type=int, default=8, help="calibration batch size (default 8)")
    g.add_argument("--seed", type=int, default=0, help="seed for calibration text and random choices (default 0)")


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="read options from a YAML file (flags given here override it)")
    p.add_argument("--save-config", metavar="YAML", type=out_file_type("--save-config"), help="write this run's options to a YAML file that --config re-runs")


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


# Flag types by field annotation (``from __future__ import annotations`` makes them text); others are text.
_TYPES = {"int": int, "float": float, "list[int]": int_list}


def load_config_defaults(parser: argparse.ArgumentParser, path: str) -> None:
    """Make the YAML file's values the parser's defaults, so explicit flags still win."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as e:
        raise PrunescaleError(f"cannot read config {path!r}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise PrunescaleError(f"config {path!r} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PrunescaleError(f"config {path!r} must be a mapping of option: value")
    known = {a.dest for a in parser._actions}
    for key in data:
        if key.replace("-", "_") not in known or key in NOT_CONFIG:
            raise PrunescaleError(f"config {path!r}: unknown option {key!r}")
    values = {k.replace("-", "_"): v for k, v in data.items()}
    for a in parser._actions:
        if a.dest in values:
            a.required = False
            values[a.dest] = _config_value(a, values[a.dest], path)
    parser.set_defaults(**values)


def _config_value(action: argparse.Action, value, path: str):
    """A config file's value as its flag's text would give it (YAML may hold a number, a list, a mapping): read by
    the flag's type, so a bad one is the same one-line error as on the command line."""
    if action.type is None or value is None or isinstance(value, str) or isinstance(value, bool):
        return value
    shown = f"config {path!r}: {action.dest}"
    many = isinstance(action, argparse._AppendAction) or action.nargs not in (None, "?")
    if isinstance(value, dict) or (many and not isinstance(value, list)):
        raise PrunescaleError(f"{shown}: {value!r} is not a {'list' if many else 'value'}")
    try:
        if many:
            return [action.type(str(v)) for v in value]
        converted = action.type(",".join(map(str, value)) if isinstance(value, list) else str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise PrunescaleError(f"{shown}: {value!r} is not valid ({e})") from None
    if isinstance(value, list) and not isinstance(converted, list):
        raise PrunescaleError(f"{shown} takes one value, not a list ({value!r})")
    return converted


def save_config(args: argparse.Namespace, path: str) -> None:
    data = {k: v for k, v in vars(args).items() if k not in NOT_CONFIG}
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def _fmt(c) -> str:
    if isinstance(c, float):
        return "-" if c != c else f"{c:.4f}"
    return "-" if c is None else str(c)
