"""Table keys: methods from the catalogue, budget and stratum order."""

from __future__ import annotations

import pytest

from budgetbench.analysis import keys as K


@pytest.mark.parametrize(
    ("method", "budget", "cap"),
    [("budget_forcing", 1000, 1000.0), ("token_conditional", "1024", 1024.0), ("token_conditional+bf", 2048, 2048.0),
     ("rejection_sampling", 4000, 4000.0), ("step_conditional", 16, 1600.0), ("step_conditional+bf", 256, 25600.0),
     ("class_conditional", "short", None), ("majority_vote", 8, None), ("none", "none", None),
     ("my_new_method", 300, 300.0), ("my_new_method", "fast", None)],
)
def test_a_max(method, budget, cap):
    assert K.a_max(method, budget) == cap


def test_budget_units_and_labels():
    assert [K.budget_unit(m) for m in ("budget_forcing", "step_conditional+bf", "class_conditional",
                                        "majority_vote", "none", "whatever")] == [
        "tokens", "steps", "class", "samples", "none", "tokens"]
    assert K.method_label("token_conditional+bf") == "TCC+BF"
    assert K.method_label("whatever") == "whatever"


def test_budget_order_numbers_then_classes():
    budgets = ["long", 2048, "none", 512, "short", "zzz"]
    assert sorted(budgets, key=K.budget_sort_key) == [512, 2048, "short", "none", "long", "zzz"]


def test_budget_order_reads_the_catalogue_once(monkeypatch):
    calls = []
    real = K.catalogue
    monkeypatch.setattr(K, "catalogue", lambda: calls.append(1) or real())
    K.named_budget_order.cache_clear()
    try:
        assert sorted([2048, "long", "short", 512] * 50, key=K.budget_sort_key)[:2] == [512, 512]
        assert len(calls) == 1  # not once per budget (each call scans the installed entry points)
    finally:
        K.named_budget_order.cache_clear()
