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


def _failed(record_: dict, reason: str = "http 400: too long") -> dict:
    """A failed sample as bench run writes it: not graded, with its reason."""
    return {**record_, "correct": False, "extracted": None, "grade_note": "failed", "thinking_tokens": 3,
            "error": reason}


def test_failed_samples_are_counted_apart_and_left_out_of_accuracy_means_and_votes(tmp_path):
    from budgetbench.analysis.problems import load_samples, problem_frame

    graded = [record(f"p{i}", 8, True, 80) for i in range(3)]
    bf = write_results(tmp_path / "bf", graded + [_failed(record("p3", 8, False, 0))], budgets=[8])
    # majority_vote: p0 has two correct votes and a failed one that must not vote nor count as a sample
    votes = [record("p0", "none", True, 50, sample=s, method="majority_vote") for s in range(2)]
    votes += [_failed(record("p0", "none", False, 0, sample=2, method="majority_vote"))]
    mv = write_results(tmp_path / "mv", votes, method="majority_vote", budgets=[1, 2, 3])
    runs = load_runs([bf, mv], warn=lambda m: None)
    row = runs[runs["method"] == "budget_forcing"].iloc[0]
    assert (row["n"], row["failed"], row["accuracy_pct"], row["mean_thinking_tokens"]) == (3, 1, 100.0, 80.0)
    vote = runs[runs["method"] == "majority_vote"]
    assert list(vote["budget"]) == [1, 2] and list(vote["failed"]) == [1, 1]  # K=3: only 2 usable votes
    assert list(vote["accuracy_pct"]) == [100.0, 100.0] and list(vote["mean_thinking_tokens"]) == [50.0, 100.0]
    frame = problem_frame(load_samples([bf], warn=lambda m: None))
    assert list(frame["problem_id"]) == ["p0", "p1", "p2"]  # the failed p3 is no answer
