"""Several runs in one `bench run`: a bad one is refused before the model loads and anything is written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from budgetbench.cli import cli
from tests.helpers.cli import bench


BAD_ENTRIES = {
    "unknown": ({"method": "budget_forcing", "budget": [8]}, "run 2: unknown setting 'budget' (did you mean 'budgets'?)"),
    "engine setting": ({"method": "budget_forcing", "dtype": "float16"}, "run 2: 'dtype' is shared by all runs"),
    "out of range": ({"method": "budget_forcing", "temperature": -1}, "run 2: temperature: -1"),
    "two methods": ({"method": "budget_forcing,none"}, "run 2: method names one method per run"),
    "bad budget": ({"method": "budget_forcing", "budgets": "2k"}, "run 2 (toy_sum, budget_forcing): --budgets"),
    "unknown method": ({"method": "nope"}, "run 2 (toy_sum, nope): unknown method 'nope'"),
    "same folder": ({"method": "budget_forcing", "budgets": [8]}, "runs 1 and 2 would both write to"),
}


@pytest.mark.parametrize("name", list(BAD_ENTRIES))
def test_a_bad_entry_is_refused_before_anything_is_written(tmp_path, loads, name):
    entry, message = BAD_ENTRIES[name]
    runs = tmp_path / "runs.yaml"
    first = {"method": "budget_forcing", "budgets": [8], "output": str(tmp_path / "out" / "a")}
    if name == "same folder":
        entry = {**entry, "output": first["output"]}
    runs.write_text(json.dumps({"limit": 2, "runs": [first, entry]}))  # JSON is YAML
    result = CliRunner().invoke(cli, ["run", "--config", str(runs), "--no-progress"])
    assert message in str(result.exception), result.exception
    assert loads == [] and not (tmp_path / "out").exists()


def test_one_budgets_for_methods_of_different_units_is_refused(tmp_path, loads):
    result = CliRunner().invoke(cli, ["run", "--method", "budget_forcing,majority_vote", "--budgets", "8",
                                      "--output", str(tmp_path / "out")])
    assert "count budgets in different units (budget_forcing: tokens, majority_vote: samples)" in str(result.exception)
    assert loads == [] and not (tmp_path / "out").exists()


def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "runs.toml"
    bad.write_text("[[runs]]\nmethod = 'budget_forcing'\nbudgets = [8\n")
    proc = bench("run", "--config", str(bad), check=False, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --config") and proc.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.toml"]




def test_a_sampling_setting_click_lets_through_is_still_one_line(tmp_path, loads):
    result = CliRunner().invoke(cli, ["run", "--repetition-penalty", "inf", "--output", str(tmp_path / "out")])
    assert "repetition_penalty must be a finite number > 0, got inf" in str(result.exception)
    assert loads == [] and not (tmp_path / "out").exists()
