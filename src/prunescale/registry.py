"""Name -> class registries (pruning methods, tasks, backends), in the style of lm-eval's."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .errors import PrunescaleError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of classes filled by a decorator: ``@METHODS.register("shortgpt")``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def add(cls: type[T]) -> type[T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self._entries[name].__name__}")
            self._entries[name] = cls
            cls.name = name
            return cls

        return add

    def get(self, name: str) -> type[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise PrunescaleError(
                f"unknown {self.kind} {name!r} (choose from: {', '.join(sorted(self._entries))})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
