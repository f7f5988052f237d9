"""vLLM's sampling settings through `bench run` on a real tiny model (the hf engine)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import bench, read_samples

pytestmark = pytest.mark.slow

KEY = lambda r: (r["problem_id"], r["budget"], r["waits"], r["sample"])  # noqa: E731


def _run(model, out, *extra):
    return bench("run", "--task", "toy_sum", "--model", str(model), "--budgets", "5,9,14,32", "--limit", "3",
                 "--answer-tokens", "8", "--batch-size", "1", "--output", str(out), "--no-progress", "--no-report",
                 *extra)


def test_penalties_are_recorded_and_shared_budgets_equal_separate_ones(tmp_path):
    """A presence or frequency penalty counts a request's own output: the shared sweep must not
    continue its leader in chunks, so each record is the one a separate run writes."""
    pytest.importorskip("transformers")
    from budgetbench.testing.random_models import build_random_model

    model = build_random_model(tmp_path / "model", "think", boost=1.0)  # no boost: it thinks past the caps
    flags = ("--presence-penalty", "1.5", "--frequency-penalty", "0.5", "--repetition-penalty", "1.3")
    _run(model, tmp_path / "plain")
    _run(model, tmp_path / "shared", *flags)
    _run(model, tmp_path / "separate", *flags, "--no-share")
    plain, shared, separate = (sorted(read_samples(tmp_path / d), key=KEY) for d in ("plain", "shared", "separate"))
    assert shared == separate and len(shared) == 12
    assert [r["thinking_text"] for r in shared] != [r["thinking_text"] for r in plain]
    spec = json.loads((tmp_path / "shared" / "spec.json").read_text())["method_config"]
    assert (spec["presence_penalty"], spec["frequency_penalty"], spec["repetition_penalty"]) == (1.5, 0.5, 1.3)
    refused = bench("run", "--task", "toy_sum", "--model", str(model), "--budgets", "5,9,14,32", "--limit", "3",
                    "--answer-tokens", "8", "--output", str(tmp_path / "shared"), "--no-progress", check=False)
    assert refused.returncode == 2 and "method_config.presence_penalty" in refused.stderr
