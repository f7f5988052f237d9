"""The pipelined runner on the shipped toy model writes exactly what the round-based runner wrote."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.helpers.cli import bench, read_samples
from tests.helpers.results import as_pinned

pytestmark = pytest.mark.slow

# sha256 of the sorted records of this sweep as the round-based runner wrote them (shared and
# --no-share agreed), before the pipeline replaced it.
ROUND_RUNNER_DIGEST = "8d772eb477c2b1f3243b803d4e9a205fec06aa1189cb41aa9e4a6c6bc3d14ddc"


@pytest.mark.parametrize("share", [True, False])
def test_toy_sweep_records_equal_the_round_runners(tmp_path, share):
    out = tmp_path / "run"
    bench("run", "--method", "budget_forcing", "--budgets", "8,16,24,40,64", "--waits", "0,1,2",
          "--answer-tokens", "16", "--limit", "30", "--output", str(out), "--no-progress", "--no-report",
          *(() if share else ("--no-share",)))
    records = sorted(read_samples(out), key=lambda r: (r["problem_id"], str(r["budget"]), r["waits"], r["sample"]))
    assert len(records) == 30 * 5 * 3
    digest = hashlib.sha256(json.dumps(as_pinned(records), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert digest == ROUND_RUNNER_DIGEST
