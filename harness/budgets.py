"""Budgets and the values tables are keyed by: one parser, one normaliser, one sort order.

``--budgets`` is a comma-separated list whose items the method parses (``Method.parse_budget``);
records store what it returned. Reading records back, :func:`normalize_budget` maps every spelling
of a budget to one key (``1024``, ``1024.0`` and ``"1024"`` are 1024; null is ``"none"``), and
:func:`order_key` sorts mixed numbers and words the way tables show them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import numpy as np

from budgetbench.errors import UserError

Budget = int | str  # what a method's parse_budget returns


def split_budgets(text: str) -> tuple[str, ...]:
    """The items of ``--budgets`` (each parsed by the method): non-empty, none twice."""
    parts = tuple(p.strip() for p in text.split(","))
    if not text.strip() or any(not p for p in parts):
        raise UserError(f"--budgets must be a comma-separated list such as 512,2048,8192, got {text!r}")
    if len(set(parts)) != len(parts):
        raise UserError(f"--budgets {text!r} lists a budget twice")
    return parts


def parse_csv_ints(text: str, what: str, minimum: int) -> tuple[int, ...]:
    """A comma-separated list of distinct integers >= ``minimum`` (``--waits``)."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"-?\d+", part):
            raise UserError(f"{what} must be a comma-separated list of integers, got {text!r}")
        if int(part) < minimum:
            raise UserError(f"{what} must be >= {minimum}, got {part}")
        values.append(int(part))
    if len(set(values)) != len(values):
        raise UserError(f"{what} {text!r} lists a value twice")
    return tuple(values)


def is_number(value: Any) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def as_value(value: Any, missing: str) -> int | float | str:
    """A table key: integral numbers (also ``"3"``) -> int, other numbers -> float, null and NaN ->
    ``missing``, bools -> ``"true"``/``"false"``, anything else -> its stripped text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if is_number(value):
        number = float(value)
        if math.isnan(number):
            return missing
        return int(number) if number.is_integer() else number
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isnan(number):
        return text
    return int(number) if number.is_integer() else number


def normalize_budget(value: Any) -> int | float | str:
    """A budget as runs are keyed by: as :func:`as_value`, null -> ``"none"``, words lower-case."""
    key = as_value(value, "none")
    return key.lower() if isinstance(key, str) else key


def normalize_budgets(values: Iterable[Any]) -> list[int | float | str]:
    """:func:`normalize_budget` of each value (each distinct value of a type worked out once)."""
    done: dict[tuple[type, Any], int | float | str] = {}
    out = []
    for value in values:
        try:
            key = (value.__class__, value)
            budget = done.get(key)
            if budget is None:
                budget = done[key] = normalize_budget(value)
        except TypeError:  # unhashable
            budget = normalize_budget(value)
        out.append(budget)
    return out


def order_key(value: Any, named: Sequence[str] = (), last: Sequence[str] = ()) -> tuple[int, float, str]:
    """Display order: numbers ascending, then the words of ``named`` in their order, then other
    text alphabetically, then the words of ``last`` in their order."""
    if is_number(value):
        return (0, float(value), "")
    text = str(value)
    if text in named:
        return (1, float(named.index(text)), "")
    if text in last:
        return (3, float(last.index(text)), "")
    return (2, 0.0, text)


def parse_budgets(method: Any, texts: Sequence[str], max_model_len: int | None, *,
                  flag: str = "--budgets") -> tuple[Budget, ...]:
    """The method's budgets for ``texts`` (its ``default_budgets`` when there are none), each
    parsed by ``method.parse_budget``: one budget written two ways (8 and 08) is refused, and a
    token budget must fit the model's context."""
    texts = tuple(texts) or tuple(method.default_budgets)
    if not texts:
        raise UserError(f"{flag} is required for method '{method.name}' (unit: {method.budget_unit})")
    budgets: list[Budget] = []
    for text in texts:
        try:
            budgets.append(method.parse_budget(text))
        except ValueError as exc:
            raise UserError(f"{flag}: {exc}") from None
    for i, budget in enumerate(budgets):  # 8 and 08 (or +8) are one budget: one record key
        if budget in budgets[:i]:
            raise UserError(f"{flag} lists budget {budget} twice ({texts[budgets.index(budget)]!r} and "
                            f"{texts[i]!r})")
    if max_model_len and method.budget_unit == "tokens":
        too_big = [b for b in budgets if isinstance(b, int) and b >= max_model_len]
        if too_big:
            raise UserError(f"budget {too_big[0]} does not fit the model's context of {max_model_len} tokens "
                            "(raise --max-model-len if the model allows it)")
    return tuple(budgets)
