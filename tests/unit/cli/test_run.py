"""bench run's end-of-run table is the runs table in short: a majority_vote run shows its K values."""

from __future__ import annotations

from budgetbench.analysis.runs import load_runs
from budgetbench.cli.run import summary_table
from tests.helpers.results import record, write_results


def test_the_summary_of_a_vote_shows_one_row_per_k(tmp_path):
    records = [record(f"p{i}", "none", (i + s) % 3 != 0, 40, sample=s, method="majority_vote")
               for i in range(4) for s in range(4)]
    out = write_results(tmp_path / "mv", records, method="majority_vote", budgets=[1, 2, 4])
    lines = summary_table(load_runs([out], warn=lambda m: None)).splitlines()
    assert lines[0].split()[:3] == ["budget", "waits", "n"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "4"]  # not one "none" row


def test_the_summary_of_a_sweep_is_one_row_per_budget_and_wait(tmp_path):
    records = [record(f"p{i}", b, i % 2 == 0, b, method="budget_forcing") for b in (8, 16) for i in range(4)]
    lines = summary_table(load_runs([write_results(tmp_path / "bf", records, budgets=[8, 16])],
                                    warn=lambda m: None)).splitlines()
    assert [line.split()[:4] for line in lines[1:]] == [["8", "0", "4", "50.0"], ["16", "0", "4", "50.0"]]
