"""`bench report --by terms` on real toy-model runs: budget forcing with 2 samples and majority vote."""

from __future__ import annotations

import matplotlib.image as mpimg
import pandas as pd
import pytest

from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import bench

pytestmark = pytest.mark.slow
COMMON = ("--answer-tokens", "16", "--no-progress", "--no-report")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not (MODEL_DIR / "config.json").is_file():
        pytest.fail(f"the toy model is missing from {MODEL_DIR}")
    root = tmp_path_factory.mktemp("by")
    bench("run", "--method", "budget_forcing", "--budgets", "16,32,64", "--samples", "2", "--temperature", "0.7",
          "--limit", "40", "--output", str(root / "bf"), *COMMON)
    bench("run", "--method", "majority_vote", "--budgets", "1,2", "--limit", "20", "--output", str(root / "mv"), *COMMON)
    proc = bench("report", str(root / "bf"), str(root / "mv"), "--by", "terms", "--out", str(root / "out"))
    return root, proc


def test_files_and_printed_reading(report):
    root, proc = report
    out = root / "out"
    for name in ("by_terms.csv", "by_terms.md", "advice_terms.csv", "advice_terms.md", "schedule_terms.csv",
                 "problems.csv", "overthinking.csv", "equal_cost.csv", "equal_cost_by_terms.csv"):
        assert (out / name).is_file(), name
    for name in ("by_terms", "equal_cost", "equal_cost_by_terms"):
        image = mpimg.imread(out / f"{name}.png")
        assert image[..., :3].std() > 0.05, name  # not a blank canvas
        assert (out / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert "BF on toy_sum (toy/model): problems reach their best accuracy within 2 points" in proc.stdout
    assert "Budget advisor by terms" in proc.stdout and "Sequential vs parallel at equal cost" in proc.stdout


def test_strata_add_up_to_the_runs_table(report):
    root, _ = report
    runs = pd.read_csv(root / "out" / "runs.csv")
    curves = pd.read_csv(root / "out" / "by_terms.csv")
    assert list(dict.fromkeys(curves["stratum"])) == sorted(set(curves["stratum"]))  # numeric order
    for method in ("budget_forcing", "majority_vote"):
        for budget, g in curves[curves["method"] == method].groupby("budget"):
            run = runs[(runs["method"] == method) & (runs["budget"] == budget)].iloc[0]
            assert (g["accuracy_pct"] * g["n"]).sum() / g["n"].sum() == pytest.approx(run["accuracy_pct"])
            assert (g["mean_thinking_tokens"] * g["n"]).sum() / g["n"].sum() == pytest.approx(run["mean_thinking_tokens"])


def test_advice_obeys_its_rule(report):
    root, _ = report
    advice = pd.read_csv(root / "out" / "advice_terms.csv")
    bf = advice[advice["method"] == "budget_forcing"]
    assert (bf["largest_budget"] == 64).all() and set(bf["pick_budget"]) <= {16, 32, 64}
    assert (bf["gap_upper_pts"] <= 2 + 1e-9).all() and (bf["pick_budget"] <= bf["best_budget"]).all()
    assert bf["saved_pct"].to_numpy() == pytest.approx(100 * (1 - bf["pick_tokens"] / bf["largest_tokens"]).to_numpy())
    curves = pd.read_csv(root / "out" / "by_terms.csv")
    hard = curves[(curves["method"] == "budget_forcing") & (curves["stratum"] == curves["stratum"].max())]
    assert hard["accuracy_pct"].iloc[0] < 50  # the hardest problems fail at 16 tokens


def test_problem_view_and_equal_cost(report):
    root, _ = report
    problems = pd.read_csv(root / "out" / "problems.csv")
    assert len(problems) == 40 and set(problems["method"]) == {"budget_forcing"}
    assert (problems["samples"] == 2).all() and "terms" in problems
    cost = pd.read_csv(root / "out" / "equal_cost.csv", keep_default_na=False)
    assert set(cost["family"]) == {"sequential", "parallel", "hybrid"}
    seq = cost[cost["family"] == "sequential"].set_index("cap")["total_thinking_tokens"]
    hybrid = cost[(cost["family"] == "hybrid") & (cost["k"] == 2)].set_index("cap")["total_thinking_tokens"]
    assert hybrid.to_numpy() == pytest.approx(2 * seq.loc[hybrid.index].to_numpy())  # the same samples, twice the cost


def test_unknown_field_is_a_one_line_error(report):
    root, _ = report
    proc = bench("report", str(root / "bf"), "--by", "level", "--out", str(root / "bad"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --by level: no problem in the results has that field; available: terms"
    assert not (root / "bad").exists()
