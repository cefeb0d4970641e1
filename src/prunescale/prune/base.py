"""What every pruning method shares: the registry, the request, and the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from torch import nn

from ..errors import PrunescaleError
from ..models.surgery import keep_layers, num_layers
from ..registry import Registry

METHODS: Registry["PruneMethod"] = Registry("pruning method", package="prunescale.prune", group="prunescale.methods")


@dataclass
class PruneResult:
    """What a method did, in the model's original layer indices."""

    removed: list[int]
    kept: list[int]
    scores: list[float] | None = None       # one per original layer (None for position-only methods)
    score_name: str | None = None           # e.g. "block_influence"
    merges: list[dict] = field(default_factory=list)   # LaCo: [{"into": l, "merged": [l+1, ...], "similarity": s}]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodOption:
    """One option of a pruning method; the CLI offers it as ``--<method>-<name>`` in ``prune`` and ``layers``."""

    name: str
    type: Callable[[str], Any] = str
    default: Any = None
    help: str = ""
    choices: tuple | None = None

    def flag(self, method: str) -> str:
        return f"--{method}-{self.name.replace('_', '-')}"

    def dest(self, method: str) -> str:
        return f"{method}_{self.name}".replace("-", "_")


class PruneMethod:
    """Base class. A method is one file: subclass, set the class attributes, register with ``@METHODS.register``.

    ``options`` declares what a user may set (flags, study ``prune: {options: {method: {...}}}``); ``defaults``
    holds them plus any internal option that is not a flag (``selection``'s layers come from ``--layers``)."""

    name: ClassVar[str] = ""
    needs_calibration: ClassVar[bool] = False
    default_calibration: ClassVar[str] = "self"    # what --calibration means when it is not given
    options: ClassVar[tuple[MethodOption, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    score_name: ClassVar[str | None] = None
    unstructured: ClassVar[bool] = False    # True: keeps every layer, zeros weights (prune/sparsity.py)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.defaults = {**{o.name: o.default for o in cls.options}, **cls.__dict__.get("defaults", {})}

    def __init__(self, seed: int = 0, **options: Any):
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise PrunescaleError(f"method {self.name!r} has no option {sorted(unknown)[0]!r}")
        for o in self.options:
            if o.choices and o.name in options and options[o.name] not in o.choices:
                raise PrunescaleError(f"{o.flag(self.name)} {options[o.name]!r} is not one of: "
                                      f"{', '.join(map(str, o.choices))}")
        self.seed = seed
        self.settings = {**self.defaults, **options}

    def layer_scores(self, model: nn.Module, calibration, n: int) -> list[float] | None:
        """Per-layer scores this method ranks by (None when it ranks by position only)."""
        return None

    def choose(self, model: nn.Module, n: int, scores: list[float] | None) -> list[int]:
        """Original indices of the ``n`` layers to remove."""
        raise NotImplementedError

    def plan(self, model: nn.Module, n: int, calibration=None) -> PruneResult:
        """What :meth:`apply` would do, leaving ``model`` as it is (``prunescale layers``)."""
        total = num_layers(model)
        scores = self.layer_scores(model, calibration, n)
        removed = sorted(self.choose(model, n, scores))
        kept = [i for i in range(total) if i not in set(removed)]
        return PruneResult(removed=removed, kept=kept, scores=scores, score_name=self.score_name)

    def apply(self, model: nn.Module, n: int, calibration=None) -> PruneResult:
        """Remove ``n`` layers from ``model`` in place."""
        result = self.plan(model, n, calibration)
        keep_layers(model, result.kept)
        return result


def resolve_count(total: int, remove: int | None = None, ratio: float | None = None,
                  layers: list[int] | None = None) -> int:
    """How many layers to remove. ``ratio`` rounds half up: n = floor(ratio * total + 0.5)."""
    given = [x is not None for x in (remove, ratio, layers)]
    if sum(given) != 1:
        raise PrunescaleError("say how much to prune with exactly one of --remove N, --ratio R or --layers i,j,k")
    if ratio is not None:
        if not 0 < ratio < 1:
            raise PrunescaleError(f"--ratio {ratio} must be between 0 and 1")
        n = int(ratio * total + 0.5)
    elif layers is not None:
        bad = [i for i in layers if not 0 <= i < total]
        if bad:
            raise PrunescaleError(f"layer index {bad[0]} out of range (model has {total} layers: 0..{total - 1})")
        if len(set(layers)) != len(layers):
            raise PrunescaleError(f"--layers lists a layer twice: {layers}")
        n = len(layers)
    else:
        n = remove
    if n < 1:
        raise PrunescaleError(f"removing {n} layers: nothing to prune (need at least 1)")
    if n >= total:
        raise PrunescaleError(f"cannot remove {n} of {total} layers (at least one must remain)")
    return n
