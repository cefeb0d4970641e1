"""Ids of variants and cells, and variant names: built and parsed here only.

A variant id is ``<model_slug>__<variant name>``, a cell id ``<variant_id>__<task_slug>``. A variant name is
``base``, ``<method>-<n>[+<recovery>]`` (n layers removed) or ``<method>-s<sparsity>[+<recovery>]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BASE = "base"
_SPARSITY = re.compile(r"^(?P<method>.+)-s(?P<sparsity>\d*\.?\d+(?:[eE][-+]?\d+)?)$")


def slug(text: str) -> str:
    """A file-name-safe, readable form of a model spec or task spec."""
    s = re.sub(r"[^A-Za-z0-9._=+-]+", "-", text.strip()).strip("-.")
    return s or "x"


@dataclass(frozen=True)
class VariantName:
    """A variant name's parts; ``method`` None is the unpruned baseline."""

    method: str | None = None
    n_removed: int = 0
    recovery: str | None = None
    sparsity: float | None = None

    def format(self) -> str:
        if not self.method:
            name = BASE
        elif self.sparsity is not None:
            name = f"{self.method}-s{self.sparsity:g}"
        else:
            name = f"{self.method}-{self.n_removed}"
        return f"{name}+{self.recovery}" if self.recovery else name

    __str__ = format

    @classmethod
    def parse(cls, name: str) -> "VariantName":
        """The inverse of :meth:`format`; a name in neither form is a method with nothing removed."""
        body, _, recovery = name.partition("+")
        recovery = recovery or None
        if body == BASE:
            return cls(None, 0, recovery)
        m = _SPARSITY.match(body)
        if m:
            return cls(m["method"], 0, recovery, float(m["sparsity"]))
        method, _, num = body.rpartition("-")
        if method and num.isdigit():
            return cls(method, int(num), recovery)
        return cls(body, 0, recovery)


def variant_name(method: str | None, n_removed: int, recovery: str | None = None,
                 sparsity: float | None = None) -> str:
    return VariantName(method, n_removed, recovery, sparsity).format()


def variant_id(model: str, variant: str) -> str:
    return f"{slug(model.split('/')[-1] if not model.startswith('embedded:') else model[9:])}__{variant}"


def split_variant_id(vid: str) -> tuple[str, str]:
    """(model slug, variant name); the name is empty for an id without ``__``."""
    model, _, name = vid.partition("__")
    return model, name


def base_id(vid: str) -> str:
    """The id of the unpruned variant of the same model."""
    return f"{vid.split('__')[0]}__{BASE}"


def cell_id(variant_id_: str, task: str) -> str:
    return f"{variant_id_}__{slug(task)}"


def split_cell_id(cid: str) -> tuple[str, str | None]:
    """(variant id, task slug) of a cell id; (the id, None) for one not in that form."""
    parts = cid.split("__")
    return ("__".join(parts[:2]), parts[-1]) if len(parts) >= 3 else (cid, None)
