"""Shared and separate sweeps write identical records on a real tiny model (greedy decoding)."""

from __future__ import annotations

import pytest

from tests.helpers.cli import bench, read_samples

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("budgets,waits", [("4,8,16,32,64,128", "0"), ("64", "1,2,4")], ids=["caps", "waits"])
def test_shared_equals_separate(budgets, waits, tiny_models, data_dir, tmp_path):
    runs = {}
    for mode in ("shared", "separate"):
        extra = ["--no-share"] if mode == "separate" else []
        bench("run", "--task", "math500", "--model", str(tiny_models["think"]), "--budgets", budgets,
              "--waits", waits, "--limit", "5", "--data-dir", str(data_dir), "--answer-tokens", "8",
              "--batch-size", "1", "--output", str(tmp_path / mode), "--no-progress", *extra)
        key = lambda r: (r["problem_id"], r["budget"], r["waits"], r["sample"])  # noqa: E731
        runs[mode] = sorted(read_samples(tmp_path / mode), key=key)
    assert len(runs["shared"]) == 5 * len(budgets.split(",")) * len(waits.split(","))
    assert runs["shared"] == runs["separate"]
