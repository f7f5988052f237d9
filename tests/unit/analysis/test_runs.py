"""Finding runs: results directories at any depth, and never a report's own tables."""

from __future__ import annotations

from click.testing import CliRunner

from budgetbench.analysis.runs import find_inputs, load_runs
from budgetbench.cli.report import report
from tests.helpers.results import record, write_results


def recs(method: str, budgets: list[int]) -> list[dict]:
    return [record(f"p{i}", b, i % 2 == 0, 10 * b, method=method, meta={"level": i % 2}) for b in budgets for i in range(4)]


def test_runs_are_found_at_any_depth_but_not_inside_a_results_directory(tmp_path):
    root = tmp_path / "results" / "math500"
    a = write_results(root / "org__model-a" / "budget_forcing", recs("budget_forcing", [8, 16]), budgets=[8, 16])
    b = write_results(root / "org__model-b" / "deep" / "token_conditional", recs("token_conditional", [8]),
                      method="token_conditional", budgets=[8])
    (a / "report").mkdir()  # what bench run writes inside a run: output, not input
    (a / "report" / "runs.csv").write_text("model,task,method,budget,mean_thinking_tokens,correct,n\nm,t,x,1,1,1,1\n")
    dirs, files = find_inputs(tmp_path / "results")
    assert sorted(dirs) == sorted([a, b]) and files == []
    assert len(load_runs([tmp_path / "results" / "math500"], warn=lambda m: None)) == 3


def test_a_report_over_a_tree_does_not_read_its_own_tables_back(tmp_path):
    root = tmp_path / "results"
    write_results(root / "m" / "budget_forcing", recs("budget_forcing", [8, 16]), budgets=[8, 16])
    for _ in range(2):  # the second report finds the first one's folder under results/
        result = CliRunner().invoke(report, [str(root), "--by", "level", "--out", str(root / "report")])
        assert result.exit_code == 0, result.output
    assert "appears twice" not in result.output
