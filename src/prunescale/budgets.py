"""Thinking budgets, in every form they take: the one owner of parsing, storing, naming and ordering them.

A budget is a positive number of thinking tokens, or no cap. Its forms:

- in a run (``EvalConfig.budgets``, a study's ``budgets``): ``int`` or ``None`` (no cap);
- as the user writes it (``--budgets 512,none``, a study file's ``[512, none]``): parsed by :func:`parse_budgets`,
  which takes ``none``, ``inf`` and ``null`` for no cap;
- in the results store's ``budget`` column: ``int``, :data:`NO_BUDGET` (-1) for no cap (:func:`to_store`,
  :func:`from_store`);
- as a key of summary.json and the report (``"512"``, ``"none"``): :func:`budget_label`;
- in order: :func:`budget_key` sorts every form, no cap last.
"""

from __future__ import annotations

from .errors import PrunescaleError

NO_BUDGET = -1   # the store's budget column for "no thinking cap" (a summary's "none")
NO_CAP_WORDS = ("none", "inf", "null")


def parse_budget(value, where: str = "budget", of: str = "") -> int | None:
    """One budget as a user wrote it (text, int or None) -> int or None; a one-line error naming the value
    (``{where} {value!r}{of} is not ...``)."""
    if value is None:
        return None
    shown = value
    if isinstance(value, str):
        shown = text = value.strip()
        if text.lower() in NO_CAP_WORDS:
            return None
        try:
            value = int(text)
        except ValueError:
            value = 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PrunescaleError(f"{where} {shown!r}{of} is not a positive integer (use 'none' for no cap)")
    return value


def parse_budgets(values, where: str = "budget", of: str = "") -> list[int | None]:
    """Comma-separated text (``512,1024,none``) or a list -> budgets, in the order given."""
    if isinstance(values, str):
        values = values.split(",")
    elif values is None or isinstance(values, int):
        values = [values]
    return [parse_budget(v, where, of) for v in values]


def to_store(budget: int | None) -> int:
    """A run's budget as the store's budget column holds it."""
    return NO_BUDGET if budget is None else int(budget)


def from_store(value: int) -> int | None:
    """The store's budget column as a run's budget."""
    return None if value is None or value == NO_BUDGET else int(value)


def budget_key(budget) -> float:
    """Sort key of a budget in any form (500, "500", None, "none", -1): no cap sorts last."""
    if budget is None:
        return float("inf")
    try:
        b = int(budget)
    except (TypeError, ValueError):
        return float("inf")
    return float("inf") if b < 0 else float(b)


def budget_label(budget) -> str:
    """A budget in any form as summary.json and the report name it: ``"none"`` for no cap, else the number."""
    return "none" if budget_key(budget) == float("inf") else str(int(budget))


def largest_budget(budgets) -> str | None:
    """The largest of some budgets (e.g. a summary's keys), no cap counting as largest."""
    return max(budgets, key=budget_key) if budgets else None
