"""Several runs in one `bench run` on the toy model: loaded once, written as separate invocations write them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from budgetbench.cli import cli
from budgetbench.run.config import default_output
from tests.helpers.cli import read_samples

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

FAST = ("--budgets", "8,32", "--limit", "2", "--no-progress", "--no-report")


def _bench(*args):
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _folder(root, method):
    from budgetbench.toy import MODEL_DIR

    return root / default_output("toy_sum", str(MODEL_DIR), method).relative_to("results")


def _spec(folder):
    spec = json.loads((folder / "spec.json").read_text())
    return {k: v for k, v in spec.items() if k not in ("created", "command")}


def test_two_methods_load_the_model_once_and_write_what_two_invocations_write(tmp_path, loads):
    out = _bench("--method", "budget_forcing,token_conditional", "--output", str(tmp_path / "both"), *FAST)
    assert len(loads) == 1
    assert "run 1: 4 samples generated" in out and "run 2: 4 samples generated" in out
    table = [line.split() for line in out.splitlines() if line.split()[:2] in (["1", "budget_forcing"],
                                                                              ["2", "token_conditional"])]
    assert len(table) == 4  # one combined table: two budgets of each run
    for method in ("budget_forcing", "token_conditional"):
        _bench("--method", method, "--output", str(tmp_path / method), *FAST)
        both = _folder(tmp_path / "both", method)  # a shared --output is the root of each default folder
        assert read_samples(both) == read_samples(tmp_path / method)
        assert _spec(both) == _spec(tmp_path / method)
    assert len(loads) == 3


def test_a_config_file_runs_each_entry_over_shared_settings(tmp_path, loads):
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps({"limit": 2, "no_report": True, "output": str(tmp_path / "root"), "runs": [
        {"method": "budget_forcing", "budgets": [8, 32]},
        {"method": "majority_vote", "budgets": "1,2", "budget-per-sample": 16},
        {"method": "budget_forcing", "budgets": [8], "waits": [0, 1], "output": str(tmp_path / "own")}]}))
    _bench("--config", str(runs), "--no-progress")
    assert len(loads) == 1
    assert len(read_samples(_folder(tmp_path / "root", "budget_forcing"))) == 4
    vote = _folder(tmp_path / "root", "majority_vote")
    assert len(read_samples(vote)) == 2 * 2 and _spec(vote)["method_config"]["budget_per_sample"] == 16
    assert {(r["budget"], r["waits"]) for r in read_samples(tmp_path / "own")} == {(8, 0), (8, 1)}
    assert not (tmp_path / "root" / "toy_sum" / "toy__model" / "budget_forcing" / "report").exists()


def test_two_tasks_run_on_one_model_into_their_own_folders(tmp_path, loads):
    plugin = tmp_path / "sums.py"
    plugin.write_text("from budgetbench.tasks import Task\nfrom budgetbench.types import Problem\n"
                      "TASK = Task('sums', 'two sums', 2, 'integer', '', '', lambda d: "
                      "[Problem('a', 'What is 2 + 3?', '5'), Problem('b', 'What is 4 + 4?', '8')])\n")
    out = _bench("--task", f"toy_sum,{plugin}", "--model", _toy_model(), "--answer-tokens", "16",
                 "--output", str(tmp_path / "root"), *FAST)
    assert len(loads) == 1
    for task in ("toy_sum", "sums"):
        folder = tmp_path / "root" / default_output(task, _toy_model(), "budget_forcing").relative_to("results")
        assert {r["task"] for r in read_samples(folder)} == {task}
    rows = [line.split()[:3] for line in out.splitlines() if line.split()[1:2] in (["toy_sum"], ["sums"])]
    assert rows == [["1", "toy_sum", "8"], ["1", "toy_sum", "32"], ["2", "sums", "8"], ["2", "sums", "32"]]


def _toy_model() -> str:
    from budgetbench.toy import MODEL_DIR

    return str(MODEL_DIR)
