"""Regression checks of a run against a committed baseline (``bench check``).

A baseline (JSON, under ``results/baselines/``) holds, per run (budget, waits), the counts
``correct``/``n`` and mean thinking tokens, and per method Control and Scaling. A check:

* **accuracy**: a one-sided two-proportion z-test per run; a drop is a regression when its
  p-value is below ``alpha`` (default 0.01), so sampling noise alone rarely fails CI (with
  ``alpha`` = 0.01 and independent runs, about 1 false alarm per 100 runs checked);
* **thinking tokens**: a regression when the mean moves by more than ``tokens_rtol``
  (default 10%) of the baseline mean, in either direction: the method no longer controls length
  as it did;
* **Control**: a regression when it drops by more than ``control_tol`` percentage points
  (default 0: any run that newly leaves its budget);
* **Scaling**: a regression when it drops by more than ``scaling_tol`` (default 5 accuracy
  points per doubling of thinking tokens).

A run in the baseline but missing from the results is a regression; extra runs are reported.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pandas as pd

from budgetbench.analysis.metrics import method_metrics
from budgetbench.analysis.runs import load_runs
from budgetbench.results.store import write_atomic


@dataclass(frozen=True)
class Tolerances:
    alpha: float = 0.01
    tokens_rtol: float = 0.10
    control_tol: float = 0.0
    scaling_tol: float = 5.0


def build_baseline(results: list[str]) -> dict[str, Any]:
    runs = load_runs(results)
    methods = method_metrics(runs)
    return {
        "format": 1,
        "runs": [
            {"model": r.model, "task": r.task, "method": r.method, "budget": r.budget, "waits": int(r.waits),
             "n": int(r.n), "correct": int(r.correct), "accuracy_pct": round(float(r.accuracy_pct), 4),
             "mean_thinking_tokens": round(float(r.mean_thinking_tokens), 4)}
            for r in runs.itertuples()
        ],
        "methods": [
            {"model": m.model, "task": m.task, "method": m.method, "control_pct": _num(m.control_pct),
             "scaling": _num(m.scaling), "performance_pct": _num(m.performance_pct)}
            for m in methods.itertuples()
        ],
    }


def write_baseline(results: list[str], path: Path) -> dict[str, Any]:
    baseline = build_baseline(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(baseline, indent=2, sort_keys=True) + "\n")
    return baseline


def compare(results: list[str], baseline: dict[str, Any], tol: Tolerances = Tolerances()) -> pd.DataFrame:
    """One row per checked quantity: what, baseline, current, verdict (ok/improved/regression/...)."""
    current = build_baseline(results)
    now_runs = {_run_key(r): r for r in current["runs"]}
    rows = []
    for base in baseline["runs"]:
        label = f"{base['method']} @ {base['budget']}" + (f" waits={base['waits']}" if base.get("waits") else "")
        run = now_runs.pop(_run_key(base), None)
        if run is None:
            rows.append(_row(label, "run", "present", "missing", "regression"))
            continue
        p = _p_drop(base["correct"], base["n"], run["correct"], run["n"])
        verdict = "regression" if p < tol.alpha else ("improved" if run["accuracy_pct"] > base["accuracy_pct"] and
                                                      _p_drop(run["correct"], run["n"], base["correct"], base["n"]) < tol.alpha else "ok")
        rows.append(_row(label, "accuracy %", base["accuracy_pct"], run["accuracy_pct"], verdict, f"p={p:.3g}"))
        b_tok, c_tok = base["mean_thinking_tokens"], run["mean_thinking_tokens"]
        moved = abs(c_tok - b_tok) > tol.tokens_rtol * max(b_tok, 1.0)
        rows.append(_row(label, "thinking tokens", b_tok, c_tok, "regression" if moved else "ok"))
    for run in now_runs.values():
        rows.append(_row(f"{run['method']} @ {run['budget']}", "run", "absent", "present", "new"))
    now_methods = {_method_key(m): m for m in current["methods"]}
    for base in baseline["methods"]:
        m = now_methods.get(_method_key(base))
        if m is None:
            continue
        for field, limit in (("control_pct", tol.control_tol), ("scaling", tol.scaling_tol)):
            b, c = base[field], m[field]
            if b is None or c is None:
                continue
            verdict = "regression" if c < b - limit - 1e-9 else "ok"
            rows.append(_row(base["method"], field.replace("_pct", " %"), b, c, verdict))
    return pd.DataFrame(rows, columns=["run", "quantity", "baseline", "current", "verdict", "note"])


def _p_drop(c0: int, n0: int, c1: int, n1: int) -> float:
    """One-sided p-value that the second proportion is lower than the first (pooled z-test)."""
    if n0 == 0 or n1 == 0:
        return 1.0
    pooled = (c0 + c1) / (n0 + n1)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    if se == 0:
        return 1.0
    z = (c0 / n0 - c1 / n1) / se
    return 1.0 - NormalDist().cdf(z)


def _row(run: str, quantity: str, base: Any, current: Any, verdict: str, note: str = "") -> dict[str, Any]:
    fmt = lambda v: round(v, 2) if isinstance(v, float) else v  # noqa: E731
    return {"run": run, "quantity": quantity, "baseline": fmt(base), "current": fmt(current),
            "verdict": verdict, "note": note}


def _run_key(r: dict[str, Any]) -> tuple:
    return (r["task"], r["method"], str(r["budget"]), int(r.get("waits", 0)))


def _method_key(m: dict[str, Any]) -> tuple:
    return (m["task"], m["method"])


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)
