"""The one way prunescale declares an extension point: a named table filled by a decorator, with discovery.

Every kind (pruning methods, tasks, backends, surgery adapters, figures, CLI commands, fragility predictors) is a
:class:`Registry`. Entries register themselves when their module is imported (``@METHODS.register("shortgpt")``);
on the first look-up a registry imports every module of its ``package`` (so adding a method is adding a file) and
loads the entry points of its ``group`` (``prunescale.<kind>s``), so a third-party package can add entries
without touching prunescale. Listing order is ``(order, name)``: entries without an ``order`` attribute list by
name.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

from .errors import PrunescaleError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of classes, functions or records; see the module docstring."""

    def __init__(self, kind: str, package: str | None = None, group: str | None = None, skip: tuple = ()):
        self.kind = kind
        self.package = package      # every module of it is imported on the first look-up
        self.group = group          # entry-point group of third-party entries
        self.skip = set(skip)       # modules of ``package`` that hold no entries (and may not import cheaply)
        self._store: dict[str, T] = {}
        self._declared: dict[str, tuple[str, dict]] = {}
        self._discovered = False

    # registration ---------------------------------------------------------------------------------------------
    def register(self, name: str, **attrs) -> Callable[[T], T]:
        """Decorator: store the object under ``name``, setting its ``name`` and any ``attrs`` (e.g. order)."""
        def add(obj: T) -> T:
            for key, value in {"name": name, **attrs}.items():
                setattr(obj, key, value)
            return self.add(name, obj)

        return add

    def add(self, name: str, obj: T) -> T:
        if name in self._store:
            old = self._store[name]
            raise ValueError(f"{self.kind} {name!r} is already registered by {getattr(old, '__name__', None) or old!r}")
        self._store[name] = obj
        return obj

    def declare(self, name: str, target: str, **attrs) -> None:
        """Register ``module:attribute`` under ``name`` when discovery runs (an entry point declared in code)."""
        self._declared[name] = (target, attrs)

    # discovery ------------------------------------------------------------------------------------------------
    def discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True    # first: a module imported below may look entries up itself
        try:
            if self.package:
                pkg = importlib.import_module(self.package)
                for info in pkgutil.iter_modules(pkg.__path__):
                    if info.name not in self.skip and not info.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{info.name}")
            for name, (target, attrs) in self._declared.items():
                if importlib.util.find_spec(target.partition(":")[0].strip()) is not None:   # absent: a partial install
                    self._load(name, target, attrs)
            for ep in entry_points(group=self.group) if self.group else ():
                self._load(ep.name, ep.value, {})
        except BaseException:
            self._discovered = False
            raise

    def _load(self, name: str, target: str, attrs: dict) -> None:
        module, _, attr = target.partition(":")
        try:
            obj = importlib.import_module(module.strip())
            for part in attr.strip().split(".") if attr.strip() else ():
                obj = getattr(obj, part)
        except Exception as e:   # noqa: BLE001 - name the plug-in that broke, not just the import error
            raise PrunescaleError(f"{self.kind} {name!r} ({target}) cannot be loaded: {type(e).__name__}: {e}") from e
        if name not in self._store and attr:   # a module target registers itself on import
            self.register(name, **attrs)(obj)

    @property
    def _entries(self) -> dict[str, T]:
        """Every entry, after discovery (a property, so a test may swap in a copy with monkeypatch.setattr)."""
        self.discover()
        return self._store

    @_entries.setter
    def _entries(self, value: dict[str, T]) -> None:
        self._store = value

    @contextmanager
    def isolated(self):
        """Undo every registration made inside, and run discovery again inside (tests of extension points)."""
        saved = (dict(self._entries), dict(self._declared), self._discovered)
        self._discovered = False
        try:
            yield self
        finally:
            self._store, self._declared, self._discovered = saved

    # look-up --------------------------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise PrunescaleError(
                f"unknown {self.kind} {name!r} (choose from: {', '.join(sorted(self._entries))})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def ordered(self) -> list[T]:
        """Every entry, by ``(order, name)``."""
        return [self._entries[n] for n in sorted(self._entries, key=lambda n: (getattr(self._store[n], "order", 0), n))]

    def __contains__(self, name: str) -> bool:
        return name in self._entries
