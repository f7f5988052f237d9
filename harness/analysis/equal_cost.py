"""Sequential vs parallel scaling at equal cost: budget forcing, majority vote and their hybrid.

Every point is a (thinking tokens spent per problem, accuracy) pair on one x axis, **total thinking
tokens per problem** = the sum over the k samples a point uses (k × the problem's mean per sample,
averaged over problems, as ``budgetbench.analysis.votes.vote_runs`` computes it):

* **sequential**: budget forcing at budget B, one sample per problem (k = 1). With several samples
  per problem (``bench run --samples K``) its accuracy is the mean over samples (maj@1).
* **parallel**: ``majority_vote`` without a per-sample cap, maj@k for the vote sizes k its spec
  names (the uncapped samples of one set; ties split evenly, as ``budgetbench.analysis.votes`` does).
* **hybrid**: maj@k (k >= 2) over the budget-forcing samples at budget B, for k = the powers of two
  below the samples per problem and that number; and ``majority_vote --budget-per-sample B``.

``sequential_at_cost_pct`` is the best sequential accuracy among the points that cost no more total
thinking tokens per problem than the row (same model, task and stratum); ``gain_pts`` is the row's
accuracy minus it. Accuracy intervals: 95% percentile bootstrap over problems (2000 resamples,
seed 0). Methods other than budget_forcing and majority_vote are not part of this comparison.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from budgetbench.budgets import normalize_budget
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.analysis.problems import Samples, default_ks, is_vote, with_stratum
from budgetbench.analysis.keys import sort_table
from budgetbench.analysis.stats import is_correct
from budgetbench.analysis.votes import vote_runs

SEQUENTIAL_METHOD = BudgetForcing.name  # the sequential family: budget forcing at each cap
FAMILIES = ("sequential", "parallel", "hybrid")
COLUMNS = ["model", "task", "field", "stratum", "family", "method", "waits", "cap", "k", "n_problems",
           "total_thinking_tokens", "accuracy_pct", "ci_low_pct", "ci_high_pct", "sequential_at_cost_pct",
           "gain_pts"]
NOTE = ("x = total thinking tokens per problem, summed over the k samples a point uses. Sequential: budget "
        "forcing at cap B, one sample (mean over samples when there are several). Parallel: majority vote "
        "maj@k of uncapped samples. Hybrid: maj@k of samples capped at B by budget forcing. BF at <= cost: the "
        "best sequential accuracy costing no more tokens per problem; gain = accuracy - that. Intervals: 95% "
        "percentile bootstrap over problems (2000 resamples, seed 0).")


def _votable(records: pd.DataFrame) -> pd.DataFrame:
    """Records as vote_runs reads them: verdicts as bools (null → wrong), budgets normalized."""
    ok = [is_correct(v) for v in records["correct"]]
    return records.assign(correct=ok, budget=[normalize_budget(b) for b in records["budget"]],
                          waits=records["waits"].astype(int) if "waits" in records else 0,
                          problem_id=records["problem_id"].astype(str),
                          sample=records["sample"] if "sample" in records else 0)


def _points(records: pd.DataFrame, family_of_k: Any, ks: list[int], cap: Any) -> list[dict[str, Any]]:
    """vote_runs' rows for one cap of one method, as equal-cost rows."""
    rows = []
    for _, run in vote_runs(records, ks).iterrows():
        k = int(run["budget"])
        rows.append({"model": run["model"], "task": run["task"], "family": family_of_k(k),
                     "method": run["method"], "cap": cap, "k": k, "n_problems": int(run["n_problems"]),
                     "total_thinking_tokens": float(run["mean_thinking_tokens"]),
                     "accuracy_pct": float(run["accuracy_pct"]), "ci_low_pct": float(run["ci_low_pct"]),
                     "ci_high_pct": float(run["ci_high_pct"])})
    return rows


def _samples_per_problem(records: pd.DataFrame) -> int:
    return int(records.groupby("problem_id").size().max())


def points(samples: Samples, records: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sequential, parallel and hybrid points of ``records`` (default: all of ``samples``)."""
    records = samples.records if records is None else records
    wanted = ((records["method"] == SEQUENTIAL_METHOD) | is_vote(records["method"])) if not records.empty else []
    if records.empty or not wanted.any():
        return pd.DataFrame(columns=[c for c in COLUMNS if c not in ("field", "stratum")])
    records = _votable(records[wanted])
    rows: list[dict[str, Any]] = []
    for (model, task, method, waits, cap), run in records.groupby(
            ["model", "task", "method", "waits", "budget"], sort=False):
        most = _samples_per_problem(run)
        if method == SEQUENTIAL_METHOD:
            new = _points(run, lambda k: "sequential" if k == 1 else "hybrid", default_ks(most), cap)
        else:
            ks = [k for k in samples.vote_ks.get((model, task)) or default_ks(most) if k <= most]
            family = "parallel" if cap == "none" else "hybrid"
            new = _points(run, lambda k, f=family: f, ks, cap)
        rows += [{**r, "waits": int(waits)} for r in new]
    return pd.DataFrame(rows)


def _at_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Fill sequential_at_cost_pct and gain_pts within each model × task × stratum."""
    best, gain = [], []
    keys = [table[k].tolist() for k in ("model", "task", "stratum")]
    for i in range(len(table)):
        same = [j for j in range(len(table)) if all(col[j] == col[i] for col in keys)
                and table["family"].iloc[j] == "sequential"
                and table["total_thinking_tokens"].iloc[j] <= table["total_thinking_tokens"].iloc[i] + 1e-9]
        value = max((table["accuracy_pct"].iloc[j] for j in same), default=math.nan)
        best.append(value)
        gain.append(table["accuracy_pct"].iloc[i] - value)
    return table.assign(sequential_at_cost_pct=best, gain_pts=gain)


def equal_cost_table(samples: Samples, field: str | None = None) -> pd.DataFrame:
    """The equal-cost table (columns COLUMNS) for the whole task, or per stratum of ``field``."""
    if field is None:
        parts = [points(samples).assign(field="", stratum="")]
    else:
        records = with_stratum(samples.records, field)
        parts = [points(samples, g.drop(columns="stratum")).assign(field=field, stratum=s)
                 for s, g in records.groupby("stratum", sort=False)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(parts, ignore_index=True).astype({"stratum": object, "cap": object})
    table["family_rank"] = table["family"].map(FAMILIES.index)
    table = sort_table(table, ("model", "task", "stratum", "family_rank", "method", "waits", "cap", "k"))
    table["k"] = table["k"].astype(int)
    return _at_cost(table.drop(columns="family_rank"))[COLUMNS]
