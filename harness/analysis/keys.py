"""How analysis tables are keyed and ordered: methods (label, unit, cap, rank from the method
catalogue), budgets, strata, and the one sort every table goes through.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Sequence

import pandas as pd

from budgetbench.budgets import as_value, is_number, normalize_budget, order_key
from budgetbench.methods import catalogue, method_info

RUN_KEYS = ("model", "task", "method", "budget", "waits")  # waits: budget-forcing extensions

MISSING = "(missing)"

ALL = "(all)"  # the stratum of every problem together



def budget_unit(method: str) -> str:
    """Unit of a method's budget: "tokens", "steps", "class", "samples", "none" (the catalogue's)."""
    return method_info(method).budget_unit


def a_max(method: str, budget: Any) -> float | None:
    """Token cap of a run for Control/adherence/overshoot, or None where the method has none."""
    return method_info(method).a_max(normalize_budget(budget))


def method_label(method: str, waits: int = 0) -> str:
    """A method's short name in tables and legends (the paper's TCC, SCC+BF, ...), with
    ``w=N`` for N budget-forcing extensions."""
    return method_info(method).label + (f" w={int(waits)}" if int(waits) else "")


def method_rank(method: str) -> int:
    """Position of a method in tables: the paper's order, other methods after."""
    return method_info(method).rank


@lru_cache(maxsize=1)
def named_budget_order() -> tuple[str, ...]:
    """The budgets that are words, in display order (short < none < long), from the catalogue.
    Worked out once per process: the catalogue reads the installed entry points (tens of ms), and
    sorting a report's tables asks for every budget of every problem."""
    seen: dict[str, None] = {}
    for info in catalogue():
        seen.update(dict.fromkeys(info.named_budgets))
    return tuple(seen)


def budget_sort_key(budget: Any) -> tuple[int, float, str]:
    """Numbers ascending, then the methods' named budgets (short < none < long), then other text."""
    return order_key(normalize_budget(budget), named_budget_order())


def stratum_value(value: Any) -> int | float | str:
    """A metadata value as a stratum (``budgets.as_value``): null -> MISSING."""
    return as_value(value, MISSING)


def stratum_sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers ascending, then text alphabetically, then MISSING, then ALL."""
    return order_key(value, last=(MISSING, ALL))


def strata_order(values: Iterable[Any]) -> list[Any]:
    """Distinct strata in display order."""
    return sorted(set(values), key=stratum_sort_key)


def sort_table(df: pd.DataFrame, keys: Sequence[str] = RUN_KEYS) -> pd.DataFrame:
    """Rows in display order by ``keys``: methods in the paper's order, budgets (and caps) as
    ``budget_sort_key``, strata as ``stratum_sort_key``, other numbers before text."""
    def part(column: str, value: Any) -> tuple:
        if column == "method":
            return (method_rank(value), str(value))
        if column in ("budget", "cap"):
            return budget_sort_key(value)
        if column == "stratum":
            return stratum_sort_key(value)
        return (0, float(value), "") if is_number(value) else (1, 0.0, str(value))

    columns = [list(df[k]) for k in keys]
    order = sorted(range(len(df)), key=lambda i: tuple(part(k, col[i]) for k, col in zip(keys, columns)))
    return df.iloc[order].reset_index(drop=True)
