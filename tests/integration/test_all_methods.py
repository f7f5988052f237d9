"""Every method through the real CLI on a tiny model, then one `bench report` over all of them."""

from __future__ import annotations

import csv
from collections import Counter

import matplotlib.image
import pandas as pd
import pytest

from tests.helpers.cli import bench, read_samples

pytestmark = pytest.mark.slow

METHODS = {
    "none": ("none", []),
    "budget_forcing": ("8,32", []),
    "token_conditional": ("8,32", []),
    "token_conditional+bf": ("8,32", []),
    "step_conditional": ("2,4", []),
    "step_conditional+bf": ("2,4", []),
    "class_conditional": ("none,short,long", []),
    "rejection_sampling": ("16,48", ["--max-tries", "40"]),
    "majority_vote": ("1,2,4", ["--budget-per-sample", "16"]),
}


@pytest.fixture(scope="module")
def all_runs(tiny_models, data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    for method, (budgets, extra) in METHODS.items():
        bench("run", "--task", "math500", "--model", str(tiny_models["think"]), "--method", method,
              "--budgets", budgets, "--limit", "3", "--data-dir", str(data_dir), "--answer-tokens", "8",
              "--output", str(root / method.replace("+", "_")), "--no-progress", *extra)
    return root


def test_every_method_writes_one_record_per_key(all_runs):
    for method, (budgets, _) in METHODS.items():
        records = read_samples(all_runs / method.replace("+", "_"))
        keys = Counter((r["problem_id"], str(r["budget"]), r["sample"]) for r in records)
        assert set(keys.values()) == {1}, method
        expected = 3 * 4 if method == "majority_vote" else 3 * len(budgets.split(","))
        assert len(records) == expected, method
        assert {r["method"] for r in records} == {method}


def test_method_specific_fields(all_runs):
    rs = read_samples(all_runs / "rejection_sampling")
    for r in rs:
        assert r["tries"] >= 1
        assert r["unmet"] or r["thinking_tokens"] <= r["budget"]
    scc = read_samples(all_runs / "step_conditional_bf")
    assert all(r["steps"] <= r["budget"] for r in scc)
    tcc_bf = read_samples(all_runs / "token_conditional_bf")
    assert all(r["thinking_tokens"] <= r["budget"] for r in tcc_bf)


def test_report_puts_every_method_in_one_table(all_runs, tmp_path):
    proc = bench("report", str(all_runs), "--out", str(tmp_path))
    with open(tmp_path / "methods.csv") as f:
        methods = {row["method"]: row for row in csv.DictReader(f)}
    assert set(methods) == set(METHODS)
    for name in ("TCC", "SCC+BF", "CCC", "RS", "MV", "BF"):
        assert name in proc.stdout
    with open(tmp_path / "runs.csv") as f:
        votes = [row for row in csv.DictReader(f) if row["method"] == "majority_vote"]
    assert sorted(int(r["budget"]) for r in votes) == [1, 2, 4]
    for name in ("runs", "methods"):
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / f"{name}.{ext}").stat().st_size > 0
        table = pd.read_csv(tmp_path / f"{name}.csv")
        table.to_csv(tmp_path / "again.csv", index=False)
        assert pd.read_csv(tmp_path / "again.csv").equals(table)  # round-trips through pandas
    image = matplotlib.image.imread(tmp_path / "accuracy.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert (tmp_path / "accuracy.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "forced_end.png").is_file() and (tmp_path / "forced_end.svg").is_file()


def test_resampled_and_voted_runs_resume_without_duplicates(all_runs, tiny_models, data_dir):
    for method, budgets, extra in (("rejection_sampling", "16,48,64", ["--max-tries", "40"]),
                                   ("majority_vote", "1,2,4,6", ["--budget-per-sample", "16"])):
        out = all_runs / method
        before = read_samples(out)
        bench("run", "--task", "math500", "--model", str(tiny_models["think"]), "--method", method,
              "--budgets", budgets, "--limit", "3", "--data-dir", str(data_dir), "--answer-tokens", "8",
              "--output", str(out), "--no-progress", *extra)
        after = read_samples(out)
        keys = Counter((r["problem_id"], str(r["budget"]), r["sample"]) for r in after)
        assert set(keys.values()) == {1}
        assert after[: len(before)] == before  # nothing rewritten
        assert len(after) == (3 * 6 if method == "majority_vote" else 3 * 3)
