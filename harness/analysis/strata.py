"""Difficulty-aware analysis: accuracy curves per stratum, and which budget suits which stratum.

Everything here starts from the problem frame of ``budgetbench.analysis.problems`` (one row per group ×
budget × problem) and a metadata field (``level``, ``subject``, ``domain``, ``terms``...).

Per-stratum curves (:func:`strata_curves`): per group, stratum and budget, pooled accuracy
sum(correct)/sum(n) with a 95% percentile bootstrap interval over problems
(``budgetbench.analysis.stats.bootstrap_interval``: 2000 resamples, seed 0) and mean thinking tokens.

Budget advisor (:func:`advise`), the rule exactly
-------------------------------------------------
Within one group and stratum, take the problems run at every budget of the group (so every budget
is judged on the same problems), each problem's accuracy at a budget being its share of correct
samples. ``best`` is the budget with the highest mean accuracy (the smallest such budget on a
tie). For every budget B, resample the problems with replacement (``resamples`` = 2000 times,
seed 0; the same resamples for every budget, so the comparison is paired) and compute
acc(best) − acc(B) on each resample; its **upper bound** is the upper end of the two-sided 95%
percentile interval (the 97.5th percentile). The **pick** is the smallest budget whose upper bound
is <= the tolerance (default 2 accuracy points). ``best`` itself always qualifies (its difference
is 0), so every stratum gets a pick. A **budget schedule** gives every problem its stratum's pick;
its accuracy and thinking tokens are compared with the largest budget used for every problem.
The picks are chosen and evaluated on the same problems (in-sample): check a schedule on held-out
problems before relying on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.keys import budget_sort_key, budget_unit
from budgetbench.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CI_LEVEL, bootstrap_interval
from budgetbench.analysis.problems import GROUP_KEYS, with_stratum
from budgetbench.analysis.keys import ALL, sort_table, strata_order

CURVE_COLUMNS = [*GROUP_KEYS, "field", "stratum", "budget", "n_problems", "n", "accuracy_pct",
                 "ci_low_pct", "ci_high_pct", "mean_thinking_tokens"]
ADVICE_COLUMNS = [*GROUP_KEYS, "field", "stratum", "n_problems", "best_budget", "best_accuracy_pct",
                  "pick_budget", "pick_accuracy_pct", "gap_upper_pts", "largest_budget",
                  "largest_accuracy_pct", "pick_tokens", "largest_tokens", "saved_pct"]
SCHEDULE_COLUMNS = [*GROUP_KEYS, "field", "n_problems", "strata", "schedule_accuracy_pct",
                    "largest_budget", "largest_accuracy_pct", "change_pts", "loss_upper_pts",
                    "schedule_tokens", "largest_tokens", "saved_pct", "uniform_pick",
                    "uniform_accuracy_pct", "uniform_saved_pct"]


@dataclass(frozen=True)
class AdvisorConfig:
    """The advisor's rule: tolerance in accuracy points (percentage points), the two-sided level
    whose upper interval end is the bound, and the paired bootstrap's resamples and seed."""

    tolerance_pts: float = 2.0
    level: float = CI_LEVEL
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance_pts <= 100:
            raise ValueError(f"tolerance must be between 0 and 100 accuracy points, got {self.tolerance_pts}")

    def rule(self) -> str:
        """The rule in one sentence, for table notes."""
        return (f"Pick = the smallest budget B whose paired bootstrap upper bound of acc(best) - acc(B) "
                f"(upper end of the {100 * self.level:g}% percentile interval, {self.resamples} resamples of the "
                f"stratum's problems, seed {self.seed}) is <= {self.tolerance_pts:g} accuracy points; best = the "
                "budget with the highest accuracy. Saved % = 1 - mean thinking tokens at the pick / at the "
                "largest budget. Picks are chosen and scored on the same problems (in-sample).")


# --------------------------------------------------------------------------- curves
def strata_curves(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    """Accuracy (%, 95% bootstrap interval over problems) and mean thinking tokens per group ×
    stratum of ``field`` × budget (columns CURVE_COLUMNS)."""
    frame = with_stratum(frame, field)
    rows = []
    for key, g in frame.groupby([*GROUP_KEYS, "stratum", "budget"], sort=False):
        lo, hi = bootstrap_interval(g["correct"].to_numpy(), g["n"].to_numpy())
        n = int(g["n"].sum())
        rows.append((*key[:4], field, *key[4:], len(g), n, 100.0 * g["correct"].sum() / n,
                     100.0 * lo, 100.0 * hi, g["tokens"].sum() / n))
    out = pd.DataFrame(rows, columns=CURVE_COLUMNS).astype({"stratum": object, "budget": object})
    return sort_table(out, (*GROUP_KEYS, "stratum", "budget"))


# --------------------------------------------------------------------------- advisor
@dataclass(frozen=True)
class Matrices:
    """One group's problems run at every budget: accuracy and thinking tokens, problem × budget."""

    budgets: tuple[Any, ...]  # ascending
    problems: tuple[str, ...]
    strata: tuple[Any, ...]  # each problem's stratum
    accuracy: np.ndarray  # fractions
    tokens: np.ndarray  # mean thinking tokens per sample (majority_vote: per vote of K samples)


def matrices(group: pd.DataFrame) -> Matrices:
    """The Matrices of one group's rows of a problem frame with a ``stratum`` column; problems
    missing a budget are left out."""
    budgets = tuple(sorted(set(group["budget"]), key=budget_sort_key))
    acc = group.assign(a=group["correct"] / group["n"], t=group["tokens"] / group["n"])
    wide = acc.pivot_table(index="problem_id", columns="budget", values=["a", "t"], aggfunc="mean", sort=True)
    wide = wide.dropna()
    strata = group.drop_duplicates("problem_id").set_index("problem_id")["stratum"]
    pids = tuple(str(p) for p in wide.index)
    return Matrices(budgets, pids, tuple(strata.loc[list(pids)]),
                    wide["a"][list(budgets)].to_numpy(dtype=float), wide["t"][list(budgets)].to_numpy(dtype=float))


def resample_weights(n_problems: int, config: AdvisorConfig) -> np.ndarray:
    """How often each problem is drawn in each resample (resamples × problems); the draws are those
    of ``bootstrap_interval`` with the same seed."""
    idx = np.random.default_rng(config.seed).integers(0, n_problems, size=(config.resamples, n_problems))
    weights = np.zeros((config.resamples, n_problems))
    np.add.at(weights, (np.repeat(np.arange(config.resamples), n_problems), idx.ravel()), 1.0)
    return weights


def gap_upper(accuracy: np.ndarray, best: int, config: AdvisorConfig) -> np.ndarray:
    """Per budget column, the upper bound (fraction) of acc(best) − acc(B) (see the module docstring)."""
    n = accuracy.shape[0]
    means = resample_weights(n, config) @ accuracy / n  # resamples × budgets
    gaps = means[:, [best]] - means
    upper = np.quantile(gaps, 1 - (1 - config.level) / 2, axis=0)
    upper[best] = 0.0
    return upper


def advise(m: Matrices, rows: np.ndarray, config: AdvisorConfig) -> dict[str, Any]:
    """The advisor's pick for the problems ``rows`` (a boolean mask) of ``m`` (module docstring)."""
    acc, tok = m.accuracy[rows], m.tokens[rows]
    means = acc.mean(axis=0)
    best = int(np.argmax(means))  # the first (smallest) budget on a tie
    upper = gap_upper(acc, best, config)
    pick = next(j for j in range(len(m.budgets)) if 100 * upper[j] <= config.tolerance_pts + 1e-9)
    tokens = tok.mean(axis=0)
    return {"n_problems": len(acc),
            "best_budget": m.budgets[best], "best_accuracy_pct": 100 * means[best],
            "pick_budget": m.budgets[pick], "pick_accuracy_pct": 100 * means[pick], "gap_upper_pts": 100 * upper[pick],
            "largest_budget": m.budgets[-1], "largest_accuracy_pct": 100 * means[-1],
            "pick_tokens": tokens[pick], "largest_tokens": tokens[-1],
            "saved_pct": _saved(tokens[pick], tokens[-1]), "pick_index": pick}


def _saved(tokens: float, reference: float) -> float:
    return 100.0 * (1 - tokens / reference) if reference > 0 else math.nan


def advisor_tables(frame: pd.DataFrame, field: str, config: AdvisorConfig = AdvisorConfig()
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(advice, schedules): per group, a row per stratum of ``field`` and one for ALL problems
    (the single budget the same rule picks for the whole task), columns ADVICE_COLUMNS; and per
    group the budget schedule built from the strata's picks, columns SCHEDULE_COLUMNS."""
    frame = with_stratum(frame, field)
    advice, schedules = [], []
    for key, group in frame.groupby(list(GROUP_KEYS), sort=False):
        m = matrices(group)
        if not m.problems:
            continue
        head = {**dict(zip(GROUP_KEYS, key)), "field": field}
        strata = np.array(m.strata, dtype=object)
        picks = np.zeros(len(m.problems), dtype=int)
        for stratum in strata_order(m.strata):
            rows = strata == stratum
            row = advise(m, rows, config)
            picks[rows] = row.pop("pick_index")
            advice.append({**head, "stratum": stratum, **row})
        uniform = advise(m, np.ones(len(m.problems), dtype=bool), config)
        uniform.pop("pick_index")
        advice.append({**head, "stratum": ALL, **uniform})
        schedules.append({**head, **schedule_row(m, picks, uniform, config)})
    out = pd.DataFrame(advice, columns=ADVICE_COLUMNS).astype({"stratum": object})
    return sort_table(out, (*GROUP_KEYS, "stratum")), pd.DataFrame(schedules, columns=SCHEDULE_COLUMNS)


def schedule_row(m: Matrices, picks: np.ndarray, uniform: dict[str, Any], config: AdvisorConfig) -> dict[str, Any]:
    """The budget schedule (problem p at budget index picks[p]) against the largest budget for all:
    accuracy, its paired bootstrap upper bound of the loss, mean thinking tokens per problem."""
    rows = np.arange(len(m.problems))
    acc, tok = m.accuracy[rows, picks], m.tokens[rows, picks]
    pair = np.column_stack([m.accuracy[:, -1], acc])
    loss = gap_upper(pair, 0, config)[1]
    return {"n_problems": len(rows), "strata": len(set(m.strata)),
            "schedule_accuracy_pct": 100 * acc.mean(), "largest_budget": m.budgets[-1],
            "largest_accuracy_pct": 100 * m.accuracy[:, -1].mean(),
            "change_pts": 100 * (acc.mean() - m.accuracy[:, -1].mean()), "loss_upper_pts": 100 * loss,
            "schedule_tokens": tok.mean(), "largest_tokens": m.tokens[:, -1].mean(),
            "saved_pct": _saved(tok.mean(), m.tokens[:, -1].mean()), "uniform_pick": uniform["pick_budget"],
            "uniform_accuracy_pct": uniform["pick_accuracy_pct"], "uniform_saved_pct": uniform["saved_pct"]}


# --------------------------------------------------------------------------- reading
def _strata_phrase(field: str, strata: Sequence[Any], order: Sequence[Any]) -> str:
    """"terms 2-4", "terms 2, 5 and 7" or "subject Algebra and Geometry": strata that are
    consecutive numbers in ``order`` become ranges."""
    runs: list[list[Any]] = []
    for s in strata:
        if runs and isinstance(s, (int, float)) and isinstance(runs[-1][-1], (int, float)) \
                and order.index(s) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    parts = [f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{field} {text}"


def budget_text(method: str, budget: Any) -> str:
    """A budget in words: "512 tokens", "8 steps", "K=4", or the class name."""
    unit = budget_unit(method)
    return {"tokens": f"{budget} tokens", "steps": f"{budget} steps", "samples": f"K={budget}"}.get(unit, str(budget))


def reading(advice: pd.DataFrame, schedules: pd.DataFrame, config: AdvisorConfig, label: str = "") -> str:
    """A plain-English paragraph built from one group's advice and schedule rows."""
    strata = advice[advice["stratum"] != ALL]
    if strata.empty or schedules.empty:
        return ""
    field, s = strata["field"].iloc[0], schedules.iloc[0]
    method = str(s["method"])
    order = list(strata["stratum"])
    by_pick: dict[Any, list[Any]] = {}
    for stratum, pick in zip(strata["stratum"], strata["pick_budget"]):
        by_pick.setdefault(pick, []).append(stratum)
    clauses = [f"{_strata_phrase(field, members, order)} at {budget_text(method, pick)}"
               for pick, members in sorted(by_pick.items(), key=lambda kv: budget_sort_key(kv[0]))]
    text = (f"{label}: p" if label else "P") + (
        f"roblems reach their best accuracy within {config.tolerance_pts:g} points (95% paired bootstrap) "
        f"with {clauses[0]}" + "".join(f"; {c}" for c in clauses[1:-1])
        + (f" and {clauses[-1]}" if len(clauses) > 1 else "") + ".")
    weak = strata[strata["best_accuracy_pct"] < 50]
    if len(weak):
        text += (f" {_strata_phrase(field, list(weak['stratum']), order).capitalize()} stay"
                 f"{'s' if len(weak) == 1 else ''} below 50% at every budget run (best accuracy "
                 f"{'' if len(weak) == 1 else 'at most '}{weak['best_accuracy_pct'].max():.1f}%).")
    change = s["change_pts"]
    direction = (f"{abs(change):.1f} points lower accuracy" if change < -0.05 else
                 f"{change:.1f} points higher accuracy" if change > 0.05 else "the same accuracy")
    text += (f" Used as a budget schedule, these picks spend {s['schedule_tokens']:.1f} instead of "
             f"{s['largest_tokens']:.1f} mean thinking tokens per problem, saving {s['saved_pct']:.0f}% of "
             f"thinking tokens against {budget_text(method, s['largest_budget'])} everywhere, at {direction} "
             f"({s['schedule_accuracy_pct']:.1f}% vs {s['largest_accuracy_pct']:.1f}%).")
    return text + (f" The same rule applied to all problems at once picks {budget_text(method, s['uniform_pick'])} "
                   f"({s['uniform_accuracy_pct']:.1f}%, {s['uniform_saved_pct']:.0f}% of tokens saved).")
