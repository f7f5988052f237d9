"""Per-problem view and overthinking on hand-designed verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from budgetbench.analysis.problems import (
    load_samples, overthinking_pair, overthinking_table, problem_frame, problem_row, problem_view,
)

from tests.helpers.results import record, write_results


def test_first_solved_and_stays_solved():
    row = problem_row([100, 200, 400, 800], [0, 1, 1, 0], [1, 1, 1, 1])
    assert (row["first_solved_all"], row["first_solved_majority"]) == (200, 200)
    assert row["stays_solved_all"] is False and row["stays_solved_majority"] is False
    assert row["record"] == "100:0/1 200:1/1 400:1/1 800:0/1"


def test_majority_is_strictly_more_than_half():
    row = problem_row([16, 32, 64], [2, 3, 4], [4, 4, 4])
    assert row["first_solved_majority"] == 32  # 2 of 4 is not a majority
    assert row["first_solved_all"] == 64
    assert row["stays_solved_majority"] is True and row["overthinking"] is False


def test_never_solved():
    row = problem_row([16, 32], [0, 1], [3, 3])
    assert row["first_solved_all"] is None and row["first_solved_majority"] is None
    assert row["stays_solved_majority"] is None and row["overthinking"] is False


def test_overthinking_needs_the_next_budget_at_least_double():
    assert overthinking_pair([100, 200, 400, 800], [False, True, True, False]) == (400, 800)
    assert overthinking_pair([100, 150, 200], [True, False, True]) is None  # 150 < 2*100; 200 is solved
    assert overthinking_pair([100, 150, 300], [True, True, False]) == (100, 300)  # 300 is the first >= 200
    assert overthinking_pair([100, 150], [True, False]) is None  # nothing >= 200 was run
    assert overthinking_pair(["short", "long"], [True, False]) is None  # no numbers, no doubling


DESIGN = {  # problem: (level, verdicts at 100, 200, 400)
    "p1": (1, (1, 1, 1)),
    "p2": (1, (1, 0, 0)),  # overthinking 100 -> 200
    "p3": (2, (0, 1, 0)),  # overthinking 200 -> 400
    "p4": (2, (0, 0, 0)),
}


@pytest.fixture
def view(tmp_path):
    records = [record(pid, b, bool(ok), b // 2, meta={"level": level})
               for pid, (level, verdicts) in DESIGN.items() for b, ok in zip((100, 200, 400), verdicts)]
    votes = [record("p1", "none", True, 30, sample=s, method="majority_vote", meta={"level": 1}) for s in range(2)]
    bf = write_results(tmp_path / "bf", records)
    mv = write_results(tmp_path / "mv", votes, method="majority_vote", budgets=[1, 2])
    return problem_view(problem_frame(load_samples([bf, mv])))


def test_view_rows(view):
    assert set(view["method"]) == {"budget_forcing"}  # majority_vote's budget is no thinking budget
    assert list(view["problem_id"]) == ["p1", "p2", "p3", "p4"]
    assert list(view["level"]) == [1, 1, 2, 2]
    p2 = view.set_index("problem_id").loc["p2"]
    assert (p2["first_solved_majority"], p2["overthinking_budget"], p2["overthinking_next_budget"]) == (100, 100, 200)
    assert list(view["overthinking"]) == [False, True, True, False]


def test_overthinking_share(view):
    table = overthinking_table(view)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["problems"], row["overthinking"], row["overthinking_pct"]) == (4, 2, 50.0)
    assert row["solved_pct"] == 75.0
    assert row["stays_solved_pct"] == pytest.approx(100 / 3)
    by = overthinking_table(view, "level")
    assert list(by["stratum"]) == [1, 2] and list(by["overthinking_pct"]) == [50.0, 50.0]
    assert list(by["solved_pct"]) == [100.0, 50.0]


def test_problems_csv_round_trips(view, tmp_path):
    view.to_csv(tmp_path / "p.csv", index=False)
    again = pd.read_csv(tmp_path / "p.csv")
    assert list(again["first_solved_all"].fillna(-1).astype(int)) == [100, 100, 200, -1]
