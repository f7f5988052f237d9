"""Per-problem analysis of sample records: the data every difficulty-aware report starts from.

Vocabulary
----------
* A **group** is one model × task × method × waits: one method's budget sweep (GROUP_KEYS).
* The **problem frame** (:func:`problem_frame`) has one row per group × budget × problem:
  ``correct`` = samples graded correct (null counts as wrong), ``n`` = samples (failed samples,
  which are no answers, left out: ``analysis.stats.without_failed``), ``tokens`` = their
  thinking tokens summed. For ``majority_vote`` results the budget is K (as in ``bench report``'s
  runs table): ``correct`` is the expected correctness of one maj@K vote (``budgetbench.analysis.votes``),
  ``n`` = 1 and ``tokens`` = K × the problem's mean thinking tokens per sample. Pooled accuracy of
  any set of rows is sum(correct)/sum(n) and mean thinking tokens sum(tokens)/sum(n), exactly as in
  ``budgetbench.analysis.metrics.summarize_runs`` and ``budgetbench.analysis.votes.vote_runs``.
* A **stratum** is one value of a per-problem ``metadata`` field (MATH500 ``level``, GPQA
  ``domain``, toy_sum ``terms``...). Numbers sort numerically, then text, then MISSING.
* The **per-problem view** (:func:`problem_view`) says, per problem and group (majority_vote
  excluded: its budget is a vote size, not a thinking budget), the smallest budget at which the
  problem is solved in all samples and in a majority (strictly more than half) of them, and whether
  it stays so at every larger budget run. **Overthinking** (:func:`overthinking_pair`): the problem
  is solved by majority at a numeric budget B and not solved by majority at B', the smallest budget
  run with B' >= 2B (when there is one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.keys import MISSING, budget_sort_key, sort_table, stratum_value
from budgetbench.analysis.runs import find_inputs
from budgetbench.analysis.stats import verdict_scores, without_failed
from budgetbench.analysis.votes import maj_at_k, problem_vote_keys
from budgetbench.budgets import is_number, normalize_budget
from budgetbench.errors import UserError
from budgetbench.methods import method_info
from budgetbench.results.reader import ResultsError, Warn, default_warn, load_records, read_spec, unique_paths

GROUP_KEYS = ("model", "task", "method", "waits")
SAMPLE_FIELDS = ("metadata", "extracted")  # what the analyses read of a record beyond the reader's LOAD_FIELDS
FRAME_COLUMNS = [*GROUP_KEYS, "budget", "problem_id", "correct", "n", "tokens", "metadata"]
VIEW_COLUMNS = [
    *GROUP_KEYS, "problem_id", "samples", "budgets", "first_solved_all", "first_solved_majority",
    "stays_solved_all", "stays_solved_majority", "overthinking", "overthinking_budget",
    "overthinking_next_budget", "record",
]
OVERTHINKING_NOTE = (
    "Solved = solved in a majority (strictly more than half) of a problem's samples at that budget. "
    "Overthinking: solved at a budget B but not at B', the smallest budget run with B' >= 2B; "
    "overthinking % is the share of all the group's problems with at least one such B. "
    "Stays solved %: of the problems solved at some budget, those solved at every larger budget run."
)


@dataclass(frozen=True)
class Samples:
    """Sample records of results directories (no text; columns as samples.jsonl plus ``model``) and
    the vote sizes K that majority_vote specs name, per (model, task)."""

    records: pd.DataFrame
    vote_ks: Mapping[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)


def is_vote(methods: pd.Series) -> pd.Series:
    """Which rows are samples of a vote (a method whose records count as maj@K, such as majority_vote)."""
    return methods.map(lambda m: method_info(str(m)).votes).astype(bool)


# --------------------------------------------------------------------------- loading
def load_samples(paths: Sequence[str | Path], *, warn: Warn = default_warn) -> Samples:
    """Records of the results directories among ``paths`` (folders of them included).

    Run-level CSVs carry no per-problem data: they are left out with a warning.
    """
    dirs: list[Path] = []
    for path in paths:
        found, files = find_inputs(Path(path))
        dirs += found
        for file in files:
            warn(f"{file}: a run-level file has no per-problem samples; left out of this analysis")
    frames, ks = [], {}
    for directory in unique_paths(dirs):
        records = without_failed(load_records([directory], fields=SAMPLE_FIELDS, warn=warn))  # no answers
        if records.empty:
            continue
        spec = read_spec(directory)
        if method_info(str(spec.get("method"))).votes:
            named = {int(b) for b in map(normalize_budget, spec.get("budgets") or []) if isinstance(b, int)}
            for key in set(zip(records["model"], records["task"])):
                ks[key] = tuple(sorted(set(ks.get(key, ())) | named))
        frames.append(records.astype({"budget": object}))
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Samples(records, ks)


def _prepared(records: pd.DataFrame) -> pd.DataFrame:
    """Records with problem_id as text, ok (0/1), think (float) and metadata (dict) columns."""
    meta = records["metadata"] if "metadata" in records else pd.Series([None] * len(records), index=records.index)
    return records.assign(
        problem_id=records["problem_id"].astype(str), ok=verdict_scores(records["correct"]),
        think=pd.to_numeric(records["thinking_tokens"], errors="coerce").astype(float),
        metadata=[m if isinstance(m, dict) else {} for m in meta],
        waits=records["waits"].astype(int) if "waits" in records else 0,
    )


# --------------------------------------------------------------------------- problem frame
def problem_frame(samples: Samples) -> pd.DataFrame:
    """One row per group × budget × problem (columns FRAME_COLUMNS; see the module docstring)."""
    if samples.records.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    records = _prepared(samples.records)
    votes = is_vote(records["method"])
    parts = [_sample_rows(records[~votes]), _vote_rows(records[votes], samples.vote_ks)]
    frame = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    frame["budget"] = pd.Series([normalize_budget(b) for b in frame["budget"]], index=frame.index, dtype=object)
    frame["waits"] = frame["waits"].astype(int)
    frame["n"] = frame["n"].astype(int)
    return sort_table(frame.reindex(columns=FRAME_COLUMNS), (*GROUP_KEYS, "budget", "problem_id"))


def _sample_rows(records: pd.DataFrame) -> pd.DataFrame:
    if records.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    rows = []
    for key, g in records.groupby([*GROUP_KEYS, "budget", "problem_id"], sort=False, dropna=False):
        think = g["think"].to_numpy()
        mean = float(np.nanmean(think)) if np.isfinite(think).any() else math.nan
        rows.append((*key, float(g["ok"].sum()), len(g), mean * len(g), g["metadata"].iloc[0]))
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def vote_keys(group: pd.DataFrame) -> list[str | None]:
    """One problem's votes in sample order, clustered as ``budgetbench.analysis.votes.vote_runs`` does."""
    extracted = group["extracted"] if "extracted" in group else [None] * len(group)
    return problem_vote_keys(extracted, group["ok"])


def default_ks(samples: int) -> list[int]:
    """Vote sizes when no spec names any: powers of two below ``samples``, and ``samples``."""
    return sorted({2 ** i for i in range(samples.bit_length()) if 2 ** i < samples} | {samples})


def _vote_rows(records: pd.DataFrame, vote_ks: Mapping[tuple[str, str], tuple[int, ...]]) -> pd.DataFrame:
    if records.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    caps = records.groupby(["model", "task"])["budget"].nunique()
    if (caps > 1).any():
        model, task = caps[caps > 1].index[0]
        raise ResultsError(f"{task} / {model}: majority_vote results with several --budget-per-sample caps; "
                           "report them separately")
    rows = []
    for (model, task, method, waits), g in records.groupby(list(GROUP_KEYS), sort=False):
        problems = [(pid, p.sort_values("sample")) for pid, p in g.groupby("problem_id", sort=True)]
        most = max(len(p) for _, p in problems)
        ks = vote_ks.get((model, task)) or default_ks(most)
        for pid, p in problems:
            keys, mean = vote_keys(p), float(np.nanmean(p["think"].to_numpy()))
            for k in (k for k in ks if k <= len(keys)):
                rows.append((model, task, method, waits, k, pid, maj_at_k(keys, k), 1, k * mean,
                             p["metadata"].iloc[0]))
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


# --------------------------------------------------------------------------- strata
def metadata_fields(frame: pd.DataFrame) -> list[str]:
    """Every metadata field some problem of ``frame`` (records or problem frame) carries, sorted."""
    if "metadata" not in frame:
        return []
    return sorted({str(k) for m in frame["metadata"] if isinstance(m, dict) for k in m})


def check_fields(frame: pd.DataFrame, fields: Sequence[str]) -> None:
    """Raise UserError (one line) for a field no problem carries, listing those available."""
    available = metadata_fields(frame)
    unknown = [f for f in fields if f not in available]
    if unknown:
        have = ", ".join(available) if available else "none (the records carry no metadata)"
        raise UserError(f"--by {unknown[0]}: no problem in the results has that field; available: {have}")










def with_stratum(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    """``frame`` (records or problem frame) plus a ``stratum`` column: the problem's ``field``."""
    return frame.assign(stratum=[stratum_value(m.get(field)) if isinstance(m, dict) else MISSING
                                 for m in frame["metadata"]])


# --------------------------------------------------------------------------- per-problem view
def overthinking_pair(budgets: Sequence[Any], majority: Sequence[bool]) -> tuple[Any, Any] | None:
    """The first (B, B') with the problem solved by majority at B and not at B', the smallest run
    budget >= 2B; None if there is none. Budgets must be sorted ascending; non-numbers are skipped."""
    numeric = [(float(b), b, m) for b, m in zip(budgets, majority) if is_number(b)]
    for i, (value, budget, solved) in enumerate(numeric):
        if not solved:
            continue
        later = [(b, m) for v, b, m in numeric[i + 1:] if v >= 2 * value]
        if later and not later[0][1]:
            return budget, later[0][0]
    return None


def _first(budgets: Sequence[Any], flags: Sequence[bool]) -> tuple[Any, bool | None]:
    """(smallest budget with the flag, whether the flag holds at every later budget); (None, None)."""
    for i, flag in enumerate(flags):
        if flag:
            return budgets[i], all(flags[i:])
    return None, None


def problem_row(budgets: Sequence[Any], correct: Sequence[float], n: Sequence[int]) -> dict[str, Any]:
    """The per-problem view of one problem from its budgets (ascending), correct and sample counts."""
    solved_all = [c >= k for c, k in zip(correct, n)]
    majority = [c > k / 2 for c, k in zip(correct, n)]
    first_all, stays_all = _first(budgets, solved_all)
    first_maj, stays_maj = _first(budgets, majority)
    pair = overthinking_pair(budgets, majority)
    return {
        "samples": int(max(n)), "budgets": len(budgets),
        "first_solved_all": first_all, "first_solved_majority": first_maj,
        "stays_solved_all": stays_all, "stays_solved_majority": stays_maj,
        "overthinking": pair is not None,
        "overthinking_budget": pair[0] if pair else None, "overthinking_next_budget": pair[1] if pair else None,
        "record": " ".join(f"{b}:{c:g}/{k}" for b, c, k in zip(budgets, correct, n)),
    }


def problem_view(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per group × problem (majority_vote left out), columns VIEW_COLUMNS then the
    problems' metadata fields (prefixed ``meta_`` where a name is taken)."""
    frame = frame[~is_vote(frame["method"])]
    fields = metadata_fields(frame)
    rows = []
    for key, g in frame.groupby([*GROUP_KEYS, "problem_id"], sort=False):
        g = g.iloc[sorted(range(len(g)), key=lambda i: budget_sort_key(g["budget"].iloc[i]))]
        row = dict(zip((*GROUP_KEYS, "problem_id"), key))
        row.update(problem_row(list(g["budget"]), list(g["correct"]), list(g["n"])))
        meta = g["metadata"].iloc[0]
        for f in fields:
            row[f"meta_{f}" if f in VIEW_COLUMNS else f] = meta.get(f)
        rows.append(row)
    columns = VIEW_COLUMNS + [f"meta_{f}" if f in VIEW_COLUMNS else f for f in fields]
    view = pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype=object) for c in columns})
    return sort_table(view, (*GROUP_KEYS, "problem_id"))


def overthinking_table(view: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Per group (and per stratum of metadata field ``by``): problems, samples per problem, solved %
    (majority, at some budget), stays solved %, overthinking problems and their share (see
    OVERTHINKING_NOTE)."""
    keys = list(GROUP_KEYS) + (["stratum"] if by else [])
    if by:
        column = f"meta_{by}" if f"meta_{by}" in view else by
        values = view[column] if column in view else [None] * len(view)
        view = view.assign(stratum=[stratum_value(v) for v in values])
    rows = []
    for key, g in view.groupby(keys, sort=False):
        solved = g["first_solved_majority"].notna()
        rows.append({**dict(zip(keys, key)), "problems": len(g), "samples": int(g["samples"].max()),
                     "solved_pct": 100.0 * solved.mean(),
                     "stays_solved_pct": 100.0 * g.loc[solved, "stays_solved_majority"].astype(bool).mean()
                     if solved.any() else math.nan,
                     "overthinking": int(g["overthinking"].astype(bool).sum()),
                     "overthinking_pct": 100.0 * g["overthinking"].astype(bool).mean()})
    out = pd.DataFrame(rows, columns=keys + ["problems", "samples", "solved_pct", "stays_solved_pct",
                                             "overthinking", "overthinking_pct"])
    return sort_table(out, keys)
