"""Metrics of budgetbench: per-run statistics and the s1 paper's method metrics (§3.2).

Pure functions on numbers, arrays and pandas DataFrames; no file I/O (``analysis.runs`` reads the inputs).

Vocabulary
----------
* A **run** is one model × task × method × budget; its samples are the records of ``samples.jsonl``.
* A method's budget becomes a token cap ``a_max`` (:func:`a_max`): budget × the method's
  ``tokens_per_unit`` (1 for token methods, 100 per step for the step-conditional ones; none for
  class_conditional, majority_vote and none). Methods' names, units and order come from the
  catalogue (``budgetbench.methods.method_info``), which reads the method classes.
* Shares returned by the functions here are fractions in [0, 1]; tables (``summarize_runs``,
  ``method_metrics``) hold percentages in columns ending in ``_pct``.

Accuracy intervals, pass@k and the verdict rule (null counts as wrong) are ``analysis.stats``'.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.stats import bootstrap_interval, failed_mask, verdict_scores
from budgetbench.analysis.keys import RUN_KEYS, a_max, budget_unit, method_label, sort_table
from budgetbench.budgets import normalize_budget, normalize_budgets
from budgetbench.methods import method_info



# --------------------------------------------------------------------------- methods and budgets














# --------------------------------------------------------------------------- method metrics
def control(mean_tokens: Sequence[float], caps: Sequence[float | None]) -> float:
    """Paper Eq. 1 with a_min = 0: share of runs whose MEAN thinking tokens are <= their a_max.

    Runs without a cap (None/NaN) are left out; NaN when no run has one.
    """
    pairs = [(x, c) for x, c in zip(mean_tokens, caps) if c is not None and not math.isnan(c)]
    return float(np.mean([x <= c for x, c in pairs])) if pairs else math.nan


def class_control_flags(
    short: float | None, long: float | None, default: float | None
) -> dict[str, bool]:
    """Per-run Control of class-conditional control (the paper counts short < default < long).

    The short run succeeds when its mean thinking tokens are below the default run's (no class
    prompt), the long run when above. Without a default run, short and long are compared with
    each other. A run with nothing to compare with gets no flag.
    """
    flags: dict[str, bool] = {}
    if short is not None:
        ref = default if default is not None else long
        if ref is not None:
            flags["short"] = short < ref
    if long is not None:
        ref = default if default is not None else short
        if ref is not None:
            flags["long"] = long > ref
    return flags


def scaling(mean_tokens: Sequence[float], accuracy: Sequence[float], x: str = "log2") -> float:
    """Paper Eq. 2: mean slope of accuracy over all pairs of runs.

    For runs sorted by mean thinking tokens, the mean over pairs a < b of
    (f(b) - f(a)) / (x(b) - x(a)), f = ``accuracy`` (pass percentages from exact correct/total to
    match the paper) and x = log2(mean thinking tokens) (``x="log2"``, the convention that
    reproduces Table 3; percentage points per doubling) or the mean thinking tokens themselves
    (``x="linear"``; points per token). Rules: a pair with equal x has no slope and is skipped;
    with fewer than two runs, or all pairs skipped, Scaling is NaN. With log2, runs with
    mean <= 0 tokens are left out.
    """
    if x not in ("log2", "linear"):
        raise ValueError(f"x must be 'log2' or 'linear', got {x!r}")
    xs = np.asarray(mean_tokens, dtype=float)
    fs = np.asarray(accuracy, dtype=float)
    keep = ~(np.isnan(xs) | np.isnan(fs))
    if x == "log2":
        keep &= xs > 0
        xs = np.log2(np.where(keep, xs, 1.0))
    xs, fs = xs[keep], fs[keep]
    order = np.argsort(xs, kind="stable")
    xs, fs = xs[order], fs[order]
    slopes = [
        (fs[j] - fs[i]) / (xs[j] - xs[i]) for i, j in combinations(range(len(xs)), 2) if xs[j] != xs[i]
    ]
    return float(np.mean(slopes)) if slopes else math.nan


def performance(accuracy: Sequence[float]) -> float:
    """Paper Eq. 3: the best accuracy among the runs (in the units given); NaN without runs."""
    values = [a for a in accuracy if not math.isnan(a)]
    return float(max(values)) if values else math.nan


def adherence(thinking_tokens: Sequence[float], cap: float | None) -> float:
    """Share of samples whose own thinking tokens are <= a_max (not in the paper); NaN without a cap."""
    t = np.asarray(thinking_tokens, dtype=float)
    if cap is None or t.size == 0:
        return math.nan
    return float(np.mean(t <= cap))


def overshoot(thinking_tokens: Sequence[float], cap: float | None) -> float:
    """Mean relative overshoot over samples, mean(max(0, tokens - a_max) / a_max); NaN without a cap."""
    t = np.asarray(thinking_tokens, dtype=float)
    if cap is None or cap <= 0 or t.size == 0:
        return math.nan
    return float(np.mean(np.maximum(0.0, t - cap) / cap))


# --------------------------------------------------------------------------- tables
RUN_COLUMNS = [
    *RUN_KEYS, "unit", "a_max", "n", "failed", "n_problems", "correct", "accuracy_pct", "ci_low_pct",
    "ci_high_pct", "ci_method", "mean_thinking_tokens", "median_thinking_tokens",
    "mean_answer_tokens", "forced_end_pct", "context_limited_pct", "unextractable_pct", "mean_extensions", "mean_tries",
    "mean_steps", "adherence_pct", "overshoot_pct", "pass_at_k_pct",
]


SAMPLE_FIELDS = ("answer_tokens", "forced_end", "context_limited", "extracted", "extensions", "tries", "steps")  # what run_stats
# reads of a record beyond the reader's LOAD_FIELDS (a report reads no other field)


def _mean(df: pd.DataFrame, col: str, scale: float = 1.0) -> float:
    """Mean of a column's numbers (bools count as 0/1); nulls and strings are left out."""
    if col not in df:
        return math.nan
    if isinstance(df[col].dtype, np.dtype) and df[col].dtype.kind in "biuf":  # numbers only: the same values
        values = df[col].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
    else:
        values = np.array([float(v) for v in df[col] if isinstance(v, (int, float, np.number, np.bool_)) and v == v])
    return float(np.mean(values)) * scale if len(values) else math.nan


def run_stats(samples: pd.DataFrame, method: str, budget: Any) -> dict[str, Any]:
    """Statistics of one run from its sample records (columns as in samples.jsonl).

    Failed samples (``error``) are counted in ``failed`` and left out of everything else: ``n`` is
    the graded samples. ``correct`` null counts as wrong; ``extracted`` null counts as
    unextractable; ``forced_end_pct`` is the censored share (thinking cut at the cap),
    ``context_limited_pct`` the share the context window ended. The accuracy interval is the
    percentile bootstrap over problems (see the module docstring).
    """
    failed = failed_mask(samples)
    samples = samples[~failed]
    n = len(samples)
    correct = pd.Series(verdict_scores(samples["correct"]), index=samples.index)
    per_problem = pd.DataFrame({"p": samples["problem_id"].astype(str), "c": correct.astype(float)})
    per_problem = per_problem.groupby("p", sort=True)["c"].agg(["sum", "count"])
    lo, hi = bootstrap_interval(per_problem["sum"].to_numpy(), per_problem["count"].to_numpy())
    think = pd.to_numeric(samples["thinking_tokens"], errors="coerce").to_numpy(dtype=float)
    cap = a_max(method, budget)
    return {
        "unit": budget_unit(method),
        "a_max": math.nan if cap is None else cap,
        "n": n,
        "failed": int(failed.sum()),
        "n_problems": len(per_problem),
        "correct": int(round(correct.sum())),
        "accuracy_pct": 100.0 * correct.sum() / n if n else math.nan,
        "ci_low_pct": 100.0 * lo,
        "ci_high_pct": 100.0 * hi,
        "ci_method": "bootstrap",
        "mean_thinking_tokens": float(np.nanmean(think)) if n else math.nan,
        "median_thinking_tokens": float(np.nanmedian(think)) if n else math.nan,
        "mean_answer_tokens": _mean(samples, "answer_tokens"),
        "forced_end_pct": _mean(samples, "forced_end", 100.0),
        "context_limited_pct": _mean(samples, "context_limited", 100.0),
        "unextractable_pct": 100.0 * float(samples["extracted"].isna().mean())
        if "extracted" in samples else math.nan,
        "mean_extensions": _mean(samples, "extensions"),
        "mean_tries": _mean(samples, "tries"),
        "mean_steps": _mean(samples, "steps"),
        "adherence_pct": 100.0 * adherence(think, cap),
        "overshoot_pct": 100.0 * overshoot(think, cap),
    }


def summarize_runs(records: pd.DataFrame) -> pd.DataFrame:
    """One row per run (model × task × method × budget) of sample records, columns RUN_COLUMNS.

    Works without a ``model`` column (as ``bench run`` may call it); rows are sorted by
    :func:`keys.sort_table`. Accuracy is in percent, with a 95% percentile-bootstrap interval over problems.
    """
    keys = [k for k in RUN_KEYS if k in records.columns]
    if records.empty:
        return pd.DataFrame(columns=keys + RUN_COLUMNS[len(RUN_KEYS):])
    records = records.assign(budget=pd.Series(normalize_budgets(records["budget"]), index=records.index))
    rows = []
    for values, group in records.groupby(keys, sort=False, dropna=False):
        key = dict(zip(keys, values))
        rows.append({**key, **run_stats(group, key.get("method", ""), key["budget"])})
    out = pd.DataFrame(rows)
    return sort_table(out[[c for c in RUN_COLUMNS if c in out.columns]], keys)


METHOD_COLUMNS = [
    "model", "task", "method", "label", "unit", "runs", "n", "control_pct", "scaling", "scaling_x",
    "performance_pct", "adherence_pct", "overshoot_pct", "default_tokens", "default_accuracy_pct",
]


def _weighted(values: pd.Series, weights: pd.Series) -> float:
    ok = values.notna()
    return float((values[ok] * weights[ok]).sum() / weights[ok].sum()) if ok.any() else math.nan


def _default_run(runs: pd.DataFrame, group: pd.DataFrame, reference: str) -> pd.Series | None:
    """CCC's default point: its own reference-budget run, else the only run of an uncontrolled
    method (budget unit "none") on the same model and task."""
    own = group[group["budget"] == reference]
    if len(own) == 1:
        return own.iloc[0]
    first = group.iloc[0]
    same = runs[(runs["model"] == first["model"]) & (runs["task"] == first["task"])]
    plain = same[[budget_unit(m) == "none" for m in same["method"]]]
    return plain.iloc[0] if len(plain) == 1 else None


def method_metrics(runs: pd.DataFrame, *, x: str = "log2") -> pd.DataFrame:
    """Control, Scaling, Performance and |A| per model × task × method (paper §3.2), plus more.

    ``runs`` holds RUN_KEYS, ``mean_thinking_tokens``, ``correct`` and ``n`` (extra columns such as
    ``adherence_pct`` are used when present). Accuracy f = 100·correct/n (exact). For a method
    with a reference budget (class_conditional: "none", the default run) that run is the reference
    point, not a member of A.
    adherence_pct / overshoot_pct pool the samples of all capped runs (n-weighted run values).
    """
    runs = runs.assign(budget=runs["budget"].map(normalize_budget))
    rows = []
    for (model, task, method), group in runs.groupby(["model", "task", "method"], sort=False):
        info = method_info(method)
        reference = info.reference_budget
        default = _default_run(runs, group, reference) if reference else None
        members = group[group["budget"] != reference] if reference else group
        tokens = members["mean_thinking_tokens"].astype(float)
        acc = 100.0 * members["correct"].astype(float) / members["n"].astype(float)
        if reference:  # named budgets below the reference must think less, those above more
            by_class = dict(zip(members["budget"], tokens))
            below, above = info.named_budgets[0], info.named_budgets[-1]
            flags = class_control_flags(
                by_class.get(below), by_class.get(above),
                None if default is None else float(default["mean_thinking_tokens"]),
            )
            ctrl = float(np.mean(list(flags.values()))) if flags else math.nan
        else:
            caps = [a_max(method, b) for b in members["budget"]]
            ctrl = control(tokens.tolist(), caps)
        nan_col = pd.Series(math.nan, index=members.index)
        rows.append({
            "model": model, "task": task, "method": method, "label": method_label(method),
            "unit": budget_unit(method), "runs": len(members), "n": int(members["n"].sum()),
            "control_pct": 100.0 * ctrl,
            "scaling": scaling(tokens.tolist(), acc.tolist(), x=x), "scaling_x": x,
            "performance_pct": performance(acc.tolist()),
            "adherence_pct": _weighted(members.get("adherence_pct", nan_col).astype(float), members["n"]),
            "overshoot_pct": _weighted(members.get("overshoot_pct", nan_col).astype(float), members["n"]),
            "default_tokens": math.nan if default is None else float(default["mean_thinking_tokens"]),
            "default_accuracy_pct": math.nan if default is None
            else 100.0 * float(default["correct"]) / float(default["n"]),
        })
    out = pd.DataFrame(rows, columns=METHOD_COLUMNS)
    return sort_table(out, ("model", "task", "method"))

