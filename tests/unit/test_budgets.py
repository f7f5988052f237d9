"""Budgets: one normaliser for every spelling, one parser of --budgets."""

from __future__ import annotations

import math

import pytest

from budgetbench import budgets as B
from budgetbench.errors import UserError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "none"), (float("nan"), "none"), ("1024", 1024), (1024.0, 1024), (16, 16), ("Short", "short"),
     ("long", "long"), ("2.5", 2.5), ("medium", "medium")],
)
def test_normalize_budget(value, expected):
    assert B.normalize_budget(value) == expected


def test_split_budgets_and_ints():
    assert B.split_budgets(" 8, 16 ") == ("8", "16")
    for bad in ("", "8,,16", "8,8"):
        with pytest.raises(UserError):
            B.split_budgets(bad)
    assert B.parse_csv_ints("0,1,2", "--waits", 0) == (0, 1, 2)
    with pytest.raises(UserError, match="lists a value twice"):
        B.parse_csv_ints("1,1", "--waits", 0)


def test_order_key_numbers_then_named_then_text_then_last():
    values = ["(all)", "b", 3, "long", 1.5, "(missing)", "short", "a"]
    key = lambda v: B.order_key(v, named=("short", "long"), last=("(missing)", "(all)"))  # noqa: E731
    assert sorted(values, key=key) == [1.5, 3, "short", "long", "a", "b", "(missing)", "(all)"]
    assert math.isinf(B.normalize_budget("inf"))


def test_normalize_budgets_is_normalize_budget_of_each():
    import numpy as np

    values = [512, "512", 512.0, True, 1, 1.0, "none", None, float("nan"), "None", " Short ", np.int64(64), 2.5,
              [1], 512, True]
    assert B.normalize_budgets(values) == [B.normalize_budget(v) for v in values]
    assert [type(b) for b in B.normalize_budgets(values)] == [type(B.normalize_budget(v)) for v in values]
