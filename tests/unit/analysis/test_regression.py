"""`bench check`: significance-aware accuracy checks, token and Control tolerances."""

from __future__ import annotations

import json

from click.testing import CliRunner

from budgetbench.analysis.regression import _p_drop
from budgetbench.cli import cli


def write_run(path, accuracy_by_budget: dict[int, float], tokens_scale: float = 1.0, n: int = 200):
    path.mkdir(parents=True)
    (path / "spec.json").write_text(json.dumps({"model": "toy", "task": "toy_sum", "method": "budget_forcing"}))
    with open(path / "samples.jsonl", "w") as f:
        for budget, acc in accuracy_by_budget.items():
            for i in range(n):
                f.write(json.dumps({"task": "toy_sum", "problem_id": str(i), "method": "budget_forcing",
                                    "budget": budget, "waits": 0, "sample": 0, "correct": i < acc * n,
                                    "extracted": "1", "thinking_tokens": int(budget * 0.8 * tokens_scale),
                                    "forced_end": True}) + "\n")
    return path


def run_check(*args):
    return CliRunner().invoke(cli, ["check", *map(str, args)])


def test_update_then_same_results_pass(tmp_path):
    base = write_run(tmp_path / "base", {8: 0.2, 16: 0.5, 32: 0.9})
    assert run_check(base, "--baseline", tmp_path / "b.json", "--update").exit_code == 0
    result = run_check(base, "--baseline", tmp_path / "b.json")
    assert result.exit_code == 0 and "OK" in result.output


def test_noise_sized_drop_passes_real_drop_fails(tmp_path):
    base = write_run(tmp_path / "base", {8: 0.2, 16: 0.5, 32: 0.9})
    run_check(base, "--baseline", tmp_path / "b.json", "--update")
    noisy = write_run(tmp_path / "noisy", {8: 0.19, 16: 0.47, 32: 0.88})
    assert run_check(noisy, "--baseline", tmp_path / "b.json").exit_code == 0
    worse = write_run(tmp_path / "worse", {8: 0.2, 16: 0.3, 32: 0.9})
    result = run_check(worse, "--baseline", tmp_path / "b.json")
    assert result.exit_code == 1 and "regression" in result.output and "FAIL" in result.output


def test_token_drift_and_missing_run_fail(tmp_path):
    base = write_run(tmp_path / "base", {8: 0.2, 16: 0.5})
    run_check(base, "--baseline", tmp_path / "b.json", "--update")
    longer = write_run(tmp_path / "longer", {8: 0.2, 16: 0.5}, tokens_scale=1.5)
    assert run_check(longer, "--baseline", tmp_path / "b.json").exit_code == 1
    fewer = write_run(tmp_path / "fewer", {8: 0.2})
    assert run_check(fewer, "--baseline", tmp_path / "b.json").exit_code == 1


def test_p_value_of_a_drop():
    assert _p_drop(50, 100, 50, 100) == 0.5
    assert _p_drop(90, 100, 60, 100) < 1e-5
    assert _p_drop(60, 100, 90, 100) > 0.99
