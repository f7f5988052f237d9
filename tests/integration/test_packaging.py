"""A non-editable install ships the built-in tasks and registers them."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.helpers.cli import REPO


def test_wheel_contains_tasks_and_entry_points(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("budgetbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for task in ("aime24", "math500", "gpqa_diamond"):
        assert f"budgetbench_tasks/{task}.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[budgetbench.tasks]" in entry_points and "bench = budgetbench.cli:main" in entry_points
