"""Metric functions against hand-computed values (paper §3.2 and the additions of budgetbench)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from budgetbench.analysis import metrics as M


# --------------------------------------------------------------------------- method metrics
def test_control_counts_runs_inside_their_cap():
    assert M.control([1000, 2100, 3000], [1024, 2048, 4096]) == pytest.approx(2 / 3)
    assert M.control([1024], [1024]) == 1.0  # on the cap counts as inside
    assert M.control([500, 9000], [None, 1024]) == 0.0  # uncapped runs are left out
    assert math.isnan(M.control([500], [None]))


def test_class_control_flags():
    # The paper's CCC: short 8033 is not below the default 6109, long 9651 is above it → 50%.
    assert M.class_control_flags(8033, 9651, 6109) == {"short": False, "long": True}
    assert M.class_control_flags(5000, 9000, None) == {"short": True, "long": True}
    assert M.class_control_flags(9000, 5000, None) == {"short": False, "long": False}
    assert M.class_control_flags(5000, None, None) == {}
    assert M.class_control_flags(5000, None, 6000) == {"short": True}


def test_scaling_log2_and_linear():
    # log2 x = 9.97, 10.97, 11.97: slopes 10/1, 30/2, 20/1 → mean 15.
    assert M.scaling([1000, 2000, 4000], [10, 20, 40]) == pytest.approx(15.0)
    assert M.scaling([4000, 1000, 2000], [40, 10, 20]) == pytest.approx(15.0)  # order-free
    assert M.scaling([1000, 2000, 4000], [10, 20, 40], x="linear") == pytest.approx(0.01)
    with pytest.raises(ValueError):
        M.scaling([1, 2], [1, 2], x="log10")


def test_scaling_single_run_and_ties():
    assert math.isnan(M.scaling([1000], [50]))  # |A| = 1
    assert math.isnan(M.scaling([], []))
    # Equal x: the (1000, 1000) pair is skipped; (1000→2000): 40 and 20 points per doubling.
    assert M.scaling([1000, 1000, 2000], [10, 30, 50]) == pytest.approx(30.0)
    assert math.isnan(M.scaling([1000, 1000], [10, 30]))  # every pair skipped
    assert M.scaling([0, 1000, 2000], [0, 10, 20]) == pytest.approx(10.0)  # log2 of 0 tokens: left out


def test_scaling_reproduces_paper_tcc():
    acc = [100 * c / 30 for c in (8, 9, 10, 10, 12)]
    assert M.scaling([7939, 7158, 8263, 7108, 7500], acc) == pytest.approx(-23.767, abs=1e-3)


def test_performance():
    assert M.performance([10.0, 40.0, 20.0]) == 40.0
    assert math.isnan(M.performance([]))


def test_adherence_and_overshoot():
    assert M.adherence([100, 200, 300, 400], 250) == 0.5
    assert math.isnan(M.adherence([100], None))
    assert M.overshoot([100, 300, 500], 250) == pytest.approx((0 + 50 / 250 + 250 / 250) / 3)
    assert M.overshoot([100, 200], 250) == 0.0
    assert math.isnan(M.overshoot([100], None))


# --------------------------------------------------------------------------- tables
def _samples(**extra):
    rows = [  # problem, correct, thinking, answer, forced_end, extracted, extensions
        ("p1", True, 100, 10, False, "1", 0),
        ("p1", False, 300, 20, True, None, 2),
        ("p2", True, 200, 30, False, "2", 1),
        ("p2", True, 400, 40, True, "3", 1),
    ]
    df = pd.DataFrame(rows, columns=["problem_id", "correct", "thinking_tokens", "answer_tokens",
                                     "forced_end", "extracted", "extensions"])
    return df.assign(task="t", method="budget_forcing", budget=250, **extra)


def test_run_stats_hand_computed():
    s = M.run_stats(_samples(), "budget_forcing", 250)
    assert (s["n"], s["n_problems"], s["correct"], s["accuracy_pct"]) == (4, 2, 3, 75.0)
    assert (s["ci_low_pct"], s["ci_high_pct"], s["ci_method"]) == (50.0, 100.0, "bootstrap")
    assert (s["mean_thinking_tokens"], s["median_thinking_tokens"], s["mean_answer_tokens"]) == (250, 250, 25)
    assert (s["forced_end_pct"], s["unextractable_pct"], s["mean_extensions"]) == (50.0, 25.0, 1.0)
    assert math.isnan(s["mean_tries"]) and math.isnan(s["mean_steps"])
    assert s["adherence_pct"] == 50.0
    assert s["overshoot_pct"] == pytest.approx(100 * (50 / 250 + 150 / 250) / 4)
    assert M.run_stats(_samples(tries=[1, 3, 2, 2]), "budget_forcing", 250)["mean_tries"] == 2.0


def test_summarize_runs_groups_and_sorts_without_model_column():
    records = pd.concat([
        _samples(),
        _samples().assign(budget=1000.0, correct=False),
        _samples().assign(method="class_conditional", budget="long"),
        _samples().assign(method="class_conditional", budget="short"),
    ], ignore_index=True)
    runs = M.summarize_runs(records)
    assert list(runs["method"]) == ["budget_forcing", "budget_forcing", "class_conditional", "class_conditional"]
    assert list(runs["budget"]) == [250, 1000, "short", "long"]
    assert list(runs["accuracy_pct"]) == [75.0, 0.0, 75.0, 75.0]
    assert math.isnan(runs["adherence_pct"].iloc[2])  # classes have no cap
    assert "model" not in runs


def _paper_runs():
    rows = [
        ("token_conditional", [1024, 2048, 4096, 8192, 16384], [7939, 7158, 8263, 7108, 7500], [8, 9, 10, 10, 12]),
        ("class_conditional", ["short", "long", "none"], [8033, 9651, 6109], [9, 11, 15]),
    ]
    return pd.DataFrame(
        [{"model": "s1", "task": "aime24", "method": m, "budget": b, "mean_thinking_tokens": x, "correct": c, "n": 30}
         for m, bs, xs, cs in rows for b, x, c in zip(bs, xs, cs)]
    )


def test_method_metrics_paper_rows():
    table = M.method_metrics(_paper_runs()).set_index("label")
    assert list(table.index) == ["TCC", "CCC"]
    assert table.loc["TCC", "control_pct"] == 40.0 and table.loc["TCC", "runs"] == 5
    assert round(table.loc["TCC", "scaling"]) == -24 and table.loc["TCC", "performance_pct"] == 40.0
    # The default run is CCC's reference point, not one of its runs.
    assert table.loc["CCC", "runs"] == 2 and table.loc["CCC", "control_pct"] == 50.0
    assert round(table.loc["CCC", "scaling"]) == 25
    assert round(table.loc["CCC", "performance_pct"], 1) == 36.7
    assert (table.loc["CCC", "default_tokens"], table.loc["CCC", "default_accuracy_pct"]) == (6109, 50.0)


def test_method_metrics_single_run_ties_and_pooled_adherence():
    runs = pd.DataFrame([
        {"model": "m", "task": "t", "method": "budget_forcing", "budget": 512, "mean_thinking_tokens": 400,
         "correct": 1, "n": 2, "adherence_pct": 100.0, "overshoot_pct": 0.0},
        {"model": "m", "task": "t", "method": "token_conditional", "budget": 512, "mean_thinking_tokens": 600,
         "correct": 1, "n": 2, "adherence_pct": 100.0, "overshoot_pct": 0.0},
        {"model": "m", "task": "t", "method": "token_conditional", "budget": 1024, "mean_thinking_tokens": 600,
         "correct": 3, "n": 6, "adherence_pct": 50.0, "overshoot_pct": 10.0},
    ])
    table = M.method_metrics(runs).set_index("method")
    bf = table.loc["budget_forcing"]
    assert bf["runs"] == 1 and math.isnan(bf["scaling"]) and bf["control_pct"] == 100.0  # |A| = 1
    tcc = table.loc["token_conditional"]
    assert math.isnan(tcc["scaling"])  # the only pair is tied in x
    assert tcc["control_pct"] == 50.0 and tcc["performance_pct"] == 50.0
    assert tcc["adherence_pct"] == pytest.approx((2 * 100 + 6 * 50) / 8)
    assert tcc["overshoot_pct"] == pytest.approx(6 * 10 / 8)


def test_class_conditional_falls_back_to_a_plain_none_run():
    runs = _paper_runs()
    runs = runs[runs["method"] == "class_conditional"].copy()
    runs.loc[runs["budget"] == "none", "method"] = "none"
    table = M.method_metrics(runs).set_index("method")
    assert table.loc["class_conditional", "control_pct"] == 50.0
    assert math.isnan(table.loc["none", "control_pct"]) and table.loc["none", "runs"] == 1


def test_column_means_are_the_same_on_typed_and_object_columns():
    _mean = M._mean  # numeric columns take one array, object columns the per-value rule
    df = pd.DataFrame({"i": [3, 5, 8, 13], "b": [True, False, True, True], "f": [0.1, float("nan"), 0.7, 1e-3]})
    for col in df:
        as_objects = df.astype({col: object})
        assert _mean(df, col, 100.0) == _mean(as_objects, col, 100.0)
    mixed = pd.DataFrame({"m": [1, "x", None, True, float("nan"), 2.5]})
    assert _mean(mixed, "m") == (1 + 1 + 2.5) / 3
