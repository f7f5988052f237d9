"""A non-editable install: the package imports as budgetbench (no top-level harness), with the
built-in tasks, the toy model and the entry points."""

from __future__ import annotations

import json
import os
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
    assert "budgetbench/__init__.py" in names and "budgetbench/toy/model/config.json" in names
    assert not [n for n in names if n.split("/")[0] == "harness"], "a top-level harness package is installed"
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "bench = budgetbench.cli:main" in entry_points
    assert "budgetbench = budgetbench.interop.lm_eval_model:BudgetBenchLM" in entry_points

    target = tmp_path / "site"  # the wheel alone, imported from elsewhere than the checkout
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = ("import importlib.util, json, budgetbench, budgetbench.cli, budgetbench.tasks as t; "
             "print(budgetbench.__file__); print(importlib.util.find_spec('harness')); print(json.dumps(sorted(t.TASKS.available())))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={**os.environ, "PYTHONPATH": str(target)}).stdout.splitlines()
    assert out[0].startswith(str(target)) and out[1] == "None"
    assert {"aime24", "math500", "gpqa_diamond", "toy_sum"} <= set(json.loads(out[2]))
