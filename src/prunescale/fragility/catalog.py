"""The fragility predictors, declared once: the record's keys and the CLI table (every predictor, in ``order``)
and the report's figure (those with a ``label``) derive from ``PREDICTORS``.

Built-in predictors are computed together in one pass (:func:`.predictors.compare`; ``method_score`` in
:mod:`.run`); a plug-in (entry points in prunescale.predictors) gives ``compute(ref, stats)``, called with the
parent's :class:`.predictors.Reference` and the pruned model's trace statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry


@dataclass
class Predictor:
    order: int                       # place in the record, the CLI table and the figure
    label: str | None = None         # its name in the report's figure; None: not plotted
    compute: Callable | None = None  # (Reference, trace stats) -> float | None, for plug-ins
    name: str = ""


PREDICTORS: Registry[Predictor] = Registry("fragility predictor", group="prunescale.predictors")

for _order, (_name, _label) in enumerate((
        ("method_score", "method score"), ("loss_short", "loss increase, short"),
        ("loss_long", "loss increase, long"), ("loss_long_minus_short", "long − short loss increase"),
        ("loss_long_over_short", None), ("answer_kl", "answer KL"), ("agreement", "greedy agreement"),
        ("token_agreement", None), ("knowledge_ll_drop", "knowledge log-lik. drop"), ("knowledge_acc_drop", None))):
    PREDICTORS.register(_name)(Predictor((_order + 1) * 10, _label))


def predictor_names() -> tuple[str, ...]:
    """Every predictor's name, in order (the keys of a fragility record's ``predictors``)."""
    return tuple(p.name for p in PREDICTORS.ordered())


def plotted() -> tuple[tuple[str, str], ...]:
    """(name, label) of the predictors the report's figure draws, in order."""
    return tuple((p.name, p.label) for p in PREDICTORS.ordered() if p.label)
