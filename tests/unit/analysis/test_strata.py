"""Per-stratum curves and the budget advisor on a synthetic results directory with known answers.

Design (budgets 100, 200, 400; one sample per problem; thinking tokens given per budget):
  level 1  (10 problems): right at every budget; 80 / 150 / 300 tokens.
  level 2  (10 problems): wrong at 100, right at 200 and 400; 100 / 190 / 350 tokens.
  level 10 (20 problems): wrong at 100; at 200 all right but one; right at 400; 100 / 200 / 400 tokens.
"""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from budgetbench.cli.report import report
from budgetbench.analysis.problems import load_samples, problem_frame
from budgetbench.analysis.keys import ALL, MISSING, strata_order, stratum_value
from budgetbench.analysis.strata import AdvisorConfig, advisor_tables, reading, strata_curves

from tests.helpers.results import record, write_results

DESIGN = {  # level: (problems, correct per budget, tokens per budget)
    1: (10, (True, True, True), (80, 150, 300)),
    2: (10, (False, True, True), (100, 190, 350)),
    10: (20, (False, True, True), (100, 200, 400)),
}
BUDGETS = (100, 200, 400)


def _records():
    for level, (count, correct, tokens) in DESIGN.items():
        for i in range(count):
            pid = f"L{level}-{i:02d}"
            for budget, ok, tok in zip(BUDGETS, correct, tokens):
                if level == 10 and i == 0 and budget == 200:
                    ok = False  # the one level-10 problem that needs 400
                yield record(pid, budget, ok, tok, meta={"level": level, "subject": "Algebra"})


@pytest.fixture
def results(tmp_path):
    return write_results(tmp_path / "bf", _records())


@pytest.fixture
def frame(results):
    return problem_frame(load_samples([results]))


def _by(table: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for k, v in where.items():
        mask &= table[k] == v
    (row,) = table[mask].to_dict("records")
    return pd.Series(row)


def test_strata_sort_numerically_then_text_then_missing():
    assert stratum_value("3") == 3 and stratum_value(2.0) == 2 and stratum_value(None) == MISSING
    assert strata_order([10, 2, "b", MISSING, "a", 1]) == [1, 2, 10, "a", "b", MISSING]


def test_curves_per_stratum(frame):
    curves = strata_curves(frame, "level")
    assert list(dict.fromkeys(curves["stratum"])) == [1, 2, 10]  # 10 after 2
    assert list(curves["budget"][:3]) == [100, 200, 400]
    row = _by(curves, stratum=2, budget=200)
    assert (row["n_problems"], row["accuracy_pct"], row["mean_thinking_tokens"]) == (10, 100.0, 190.0)
    row = _by(curves, stratum=10, budget=200)
    assert row["accuracy_pct"] == 95.0 and row["mean_thinking_tokens"] == 200.0
    assert row["ci_low_pct"] < 95.0 <= row["ci_high_pct"] == 100.0
    assert _by(curves, stratum=1, budget=100)["mean_thinking_tokens"] == 80.0


def test_advisor_picks_and_schedule_at_2_points(frame):
    advice, schedules = advisor_tables(frame, "level", AdvisorConfig(tolerance_pts=2))
    picks = dict(zip(advice["stratum"], advice["pick_budget"]))
    assert picks == {1: 100, 2: 200, 10: 400, ALL: 400}
    level1 = _by(advice, stratum=1)
    assert level1["best_budget"] == 100  # a tie goes to the smallest budget
    assert level1["saved_pct"] == pytest.approx(100 * (1 - 80 / 300))
    assert _by(advice, stratum=2)["saved_pct"] == pytest.approx(100 * (1 - 190 / 350))
    assert _by(advice, stratum=10)["saved_pct"] == 0.0
    s = schedules.iloc[0]
    assert s["schedule_accuracy_pct"] == 100.0 and s["largest_accuracy_pct"] == 100.0 and s["change_pts"] == 0.0
    assert s["schedule_tokens"] == pytest.approx((10 * 80 + 10 * 190 + 20 * 400) / 40)  # 267.5
    assert s["largest_tokens"] == pytest.approx((10 * 300 + 10 * 350 + 20 * 400) / 40)  # 362.5
    assert s["saved_pct"] == pytest.approx(100 * (1 - 267.5 / 362.5))
    assert s["uniform_pick"] == 400


def test_advisor_bound_is_the_paired_bootstrap_upper_end(frame):
    # Level 10 at 200 loses one problem of 20: the resampled gap is (copies of it drawn)/20 with
    # copies ~ Binomial(20, 1/20), whose 97.5th percentile is 3 (P(<=2) = 0.925, P(<=3) = 0.984): 15 points.
    advice, schedules = advisor_tables(frame, "level", AdvisorConfig(tolerance_pts=20))
    level10 = _by(advice, stratum=10)
    assert (level10["best_budget"], level10["pick_budget"]) == (400, 200)
    assert level10["gap_upper_pts"] == pytest.approx(15.0)
    assert level10["pick_accuracy_pct"] == 95.0
    assert _by(advisor_tables(frame, "level", AdvisorConfig(tolerance_pts=14.9))[0], stratum=10)["pick_budget"] == 400
    # The whole task at 20 points: 200 loses 1 of 40 problems (bound 3/40 = 7.5 points) -> 200.
    everything = _by(advice, stratum=ALL)
    assert (everything["pick_budget"], everything["pick_accuracy_pct"]) == (200, 97.5)
    assert everything["saved_pct"] == pytest.approx(100 * (1 - 185 / 362.5))
    s = schedules.iloc[0]  # levels at 100, 200, 200
    assert s["schedule_accuracy_pct"] == 97.5 and s["change_pts"] == pytest.approx(-2.5)
    assert s["loss_upper_pts"] == pytest.approx(7.5)
    assert s["schedule_tokens"] == pytest.approx((10 * 80 + 10 * 190 + 20 * 200) / 40)  # 167.5
    assert s["saved_pct"] == pytest.approx(100 * (1 - 167.5 / 362.5))


def test_reading_is_built_from_the_numbers(frame):
    config = AdvisorConfig()
    advice, schedules = advisor_tables(frame, "level", config)
    text = reading(advice, schedules, config, "BF on math500")
    assert text.startswith("BF on math500: problems reach their best accuracy within 2 points")
    assert "level 1 at 100 tokens; level 2 at 200 tokens and level 10 at 400 tokens" in text
    assert "spend 267.5 instead of 362.5 mean thinking tokens per problem, saving 26%" in text
    assert "at the same accuracy (100.0% vs 100.0%)" in text


def test_cli_by_writes_tables_and_figure(results, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(report, [str(results), "--by", "level,subject", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "level 1 at 100 tokens; level 2 at 200 tokens and level 10 at 400 tokens" in result.output
    for name in ("by_level.csv", "by_level.md", "by_level.png", "by_level.svg", "advice_level.csv",
                 "advice_level.md", "schedule_level.csv", "by_subject.png", "problems.csv"):
        assert (out / name).is_file(), name
    advice = pd.read_csv(out / "advice_level.csv")
    assert list(advice["pick_budget"]) == [100, 200, 400, 400]
    assert "paired bootstrap upper bound" in (out / "advice_level.md").read_text()


def test_unknown_field_is_one_line_listing_the_fields(results, tmp_path):
    result = CliRunner().invoke(report, [str(results), "--by", "difficulty", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "--by difficulty: no problem in the results has that field; available: level, subject" in result.output
    assert not (tmp_path / "o").exists()


def test_tasks_without_the_field_are_left_out(results, tmp_path):
    other = write_results(tmp_path / "gpqa", [record(f"g{i}", b, i % 2 == 0, b // 2, task="gpqa_diamond",
                                                     meta={"domain": "Physics"}) for i in range(4) for b in BUDGETS],
                          task="gpqa_diamond")
    out = tmp_path / "out"
    result = CliRunner().invoke(report, [str(results), str(other), "--by", "level", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "By level: left out gpqa_diamond (no problem there has level)" in result.output
    assert set(pd.read_csv(out / "by_level.csv")["task"]) == {"math500"}
    assert set(pd.read_csv(out / "overthinking.csv")["task"]) == {"math500", "gpqa_diamond"}


def test_analysis_files_are_deterministic(results, tmp_path):
    for name in ("a", "b"):
        result = CliRunner().invoke(report, [str(results), "--by", "level", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "by_level.png" in names and "equal_cost.svg" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
