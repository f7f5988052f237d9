"""The embedded default (toy model, toy task) and `bench check` against the committed baseline."""

from __future__ import annotations

import json

import pytest

from budgetbench.toy import MODEL_DIR
from tests.helpers.cli import REPO, bench, read_samples

pytestmark = pytest.mark.slow
BASELINE = REPO / "results" / "baselines" / "toy_budget_forcing.json"
SWEEP = ("--method", "budget_forcing", "--budgets", "8,16,32,48,64,80", "--answer-tokens", "16", "--limit", "200", "--no-progress")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    if not (MODEL_DIR / "config.json").is_file():
        pytest.fail(f"the toy model is missing from {MODEL_DIR}")
    out = tmp_path_factory.mktemp("toy") / "run"
    proc = bench("run", *SWEEP, "--output", str(out))
    return out, proc


def test_default_run_scales_with_budget_and_writes_report(toy_run):
    out, proc = toy_run
    spec = json.loads((out / "spec.json").read_text())
    assert spec["task"] == "toy_sum" and spec["model"] == "toy/model"  # a label, not the absolute path
    assert spec["model_fingerprint"].startswith("sha256:") and str(MODEL_DIR) not in json.dumps(spec)
    records = read_samples(out)
    acc = {b: sum(r["correct"] for r in records if r["budget"] == b) / 200 for b in (8, 16, 32, 48, 64, 80)}
    assert acc[8] <= acc[16] <= acc[32] <= acc[48] <= acc[64] <= acc[80]  # monotone in the budget
    assert acc[8] < 0.30 and acc[80] > 0.90
    for name in ("runs.csv", "methods.csv", "accuracy.png", "accuracy.svg"):
        assert (out / "report" / name).is_file()


def test_check_passes_on_a_rerun(toy_run):
    out, _ = toy_run
    proc = bench("check", str(out), "--baseline", str(BASELINE), check=False)
    assert proc.returncode == 0, proc.stdout


def test_rerunning_a_finished_run_prints_its_table_without_loading_the_model(toy_run):
    out, first = toy_run
    proc = bench("run", *SWEEP, "--output", str(out), "--no-report")
    assert f"nothing left to do: all 1200 samples are on disk (the model was not loaded) -> {out}" in proc.stdout
    table = first.stdout[first.stdout.index("budget waits"):].split("tables and curves")[0]
    assert table in proc.stdout


def test_check_fails_on_a_degraded_real_run(tmp_path):
    # A real run with a real degradation: answers cut to 3 tokens cannot close their \boxed{}.
    out = tmp_path / "degraded"
    bench("run", *SWEEP, "--answer-tokens", "3", "--output", str(out))
    proc = bench("check", str(out), "--baseline", str(BASELINE), check=False)
    assert proc.returncode == 1 and "regression" in proc.stdout
