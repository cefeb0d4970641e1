"""Dataclass fields that carry their command-line flag and help, so each default is written once.

``cli.common.add_field_args`` turns such fields into flags: the flag is ``--name`` (``alias`` or ``flag`` rename
it), the type comes from the annotation or ``type``, and ``{default}`` in the help shows the field's default.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, field, fields
from typing import Any, Callable


def option(default: Any = MISSING, *, help: str | None = None, flag: str | tuple[str, ...] | None = None,
           alias: str | None = None, type: Callable | None = None, factory: Callable | None = None,
           **extra: Any) -> Field:
    """A dataclass field with its flag and help. ``alias``: the short name the CLI (its flag and its key in a
    saved config) and study files use; ``type``: how a flag's text is parsed, where the annotation does not
    say; ``extra``: anything else the flag needs (``action="append"``)."""
    meta = {k: v for k, v in dict(help=help, flag=flag, alias=alias, type=type, **extra).items() if v is not None}
    return field(default=default, default_factory=factory or MISSING, metadata=meta)


def aliases(cls) -> dict[str, str]:
    """Short name -> field name, for the fields of ``cls`` that have an ``alias``."""
    return {f.metadata["alias"]: f.name for f in fields(cls) if "alias" in f.metadata}


def default_of(f: Field) -> Any:
    """A field's default (a fresh one from its factory); MISSING for a required field."""
    return f.default_factory() if f.default_factory is not MISSING else f.default
