"""The runs table: one row per model × task × method × budget × waits, from any inputs.

Inputs are result directories written by ``bench run`` (``spec.json`` + ``samples.jsonl``) and
run-level files: CSVs with one row per run and at least the columns ``RUN_LEVEL_REQUIRED`` (as in
``results/paper``; the ``runs.csv`` that ``bench report`` writes is one too), or directories
holding them. A directory that is neither, but whose subdirectories are, stands for those.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.metrics import RUN_COLUMNS, SAMPLE_FIELDS, summarize_runs
from budgetbench.analysis.keys import RUN_KEYS, a_max, budget_unit, sort_table
from budgetbench.analysis.stats import wilson_interval
from budgetbench.analysis.votes import VOTE_FIELDS, vote_runs
from budgetbench.budgets import normalize_budget
from budgetbench.methods import method_info
from budgetbench.results.reader import ResultsError, Warn, default_warn, is_results_dir, load_records, read_spec, unique_paths

RUN_LEVEL_REQUIRED = ("model", "task", "method", "budget", "mean_thinking_tokens", "correct", "n")


def read_run_file(path: str | Path) -> pd.DataFrame:
    """A run-level CSV as a runs table: counts give accuracy, missing intervals become Wilson."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in RUN_LEVEL_REQUIRED if c not in raw.columns]
    if missing:
        raise ResultsError(f"{path}: not a run-level file (lacks {', '.join(missing)})")
    df = pd.DataFrame({k: raw[k].astype(str).str.strip().astype(object) for k in ("model", "task", "method")})
    df["budget"] = raw["budget"].map(normalize_budget).astype(object)
    df["waits"] = pd.to_numeric(raw["waits"], errors="coerce").fillna(0).astype(int) if "waits" in raw else 0
    for col in RUN_COLUMNS:
        if col not in df and col in raw and col not in ("unit", "ci_method"):
            df[col] = pd.to_numeric(raw[col].replace("", None), errors="coerce").astype(float)
    if df[["correct", "n", "mean_thinking_tokens"]].isna().any().any() or (df["n"] <= 0).any() \
            or ((df["correct"] < 0) | (df["correct"] > df["n"])).any():
        raise ResultsError(f"{path}: needs numbers with 0 <= correct <= n and n > 0 in every row")
    df["n"], df["correct"] = df["n"].astype(int), df["correct"].astype(int)
    df["unit"] = df["method"].map(budget_unit)
    df["a_max"] = [math.nan if (c := a_max(m, b)) is None else c for m, b in zip(df["method"], df["budget"])]
    df["accuracy_pct"] = 100.0 * df["correct"] / df["n"]
    df = df.reindex(columns=RUN_COLUMNS)  # absent columns become NaN
    given = df["ci_low_pct"].notna() & df["ci_high_pct"].notna()
    wilson = np.array([wilson_interval(c, n) for c, n in zip(df["correct"], df["n"])]) * 100
    df["ci_low_pct"] = df["ci_low_pct"].where(given, wilson[:, 0])
    df["ci_high_pct"] = df["ci_high_pct"].where(given, wilson[:, 1])
    given_method = raw["ci_method"].replace("", "given") if "ci_method" in raw else "given"
    df["ci_method"] = np.where(given, given_method, "wilson")
    return df


def _is_run_csv(path: Path) -> bool:
    try:
        return set(RUN_LEVEL_REQUIRED) <= set(pd.read_csv(path, nrows=0).columns)
    except (ValueError, OSError, UnicodeDecodeError):
        return False


REPORT_MARKER = ".budgetbench-report"  # in every folder bench report writes: not an input when found


def find_inputs(path: Path, depth: int = 0) -> tuple[list[Path], list[Path]]:
    """(result dirs, run-level CSVs) a command-line path stands for: itself, or what lies below
    it at any depth (``results/math500/`` holds MODEL/METHOD/ runs). Below a results directory
    nothing more is looked for (its ``report/`` is output); a folder that ``bench report``
    wrote is skipped when found by searching, so a report does not read its own tables back."""
    if path.is_file() and path.suffix.lower() == ".csv":
        return [], [path]
    if path.is_dir():
        if is_results_dir(path):
            return [path], []
        if depth and (path / REPORT_MARKER).exists():
            return [], []
        if csvs := [p for p in sorted(path.glob("*.csv")) if _is_run_csv(p)]:
            return [], csvs
        dirs, files = [], []
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            d, f = find_inputs(sub, depth + 1)
            dirs, files = dirs + d, files + f
        if dirs or files:
            return dirs, files
    if depth:
        return [], []
    raise ResultsError(f"{path}: neither a results directory (spec.json + samples.jsonl) "
                       "nor a run-level file (CSV with " + ", ".join(RUN_LEVEL_REQUIRED) + ")")


def load_runs(paths: Sequence[str | Path], *, warn: Warn = default_warn) -> pd.DataFrame:
    """The runs table (columns RUN_COLUMNS) of results directories and run-level files, sorted.

    Records of several result directories with the same run key are pooled (shards of one run);
    the same run twice in run-level inputs is an error. Raises ResultsError before anything is read
    if a path is unreadable.
    """
    dirs, files = [], []
    for path in paths:
        d, f = find_inputs(Path(path))
        dirs, files = dirs + d, files + f
    parts = [read_run_file(f) for f in unique_paths(files)]
    vote_dirs = [d for d in dirs if method_info(str(read_spec(d).get("method"))).votes]
    dirs = [d for d in dirs if d not in vote_dirs]
    for d in vote_dirs:  # one set of samples -> a run for every K (maj@K)
        parts.append(vote_runs(load_records([d], fields=VOTE_FIELDS, warn=warn), read_spec(d).get("budgets") or []))
    records = load_records(dirs, fields=SAMPLE_FIELDS, warn=warn) if dirs else pd.DataFrame()
    if not records.empty:
        parts.insert(0, summarize_runs(records))
    if not parts:
        raise ResultsError("no runs found in " + ", ".join(map(str, paths)))
    runs = pd.concat([p.astype(object) for p in parts], ignore_index=True).reindex(columns=RUN_COLUMNS)
    dup = runs.duplicated(list(RUN_KEYS))
    if dup.any():
        first = runs[dup].iloc[0]
        raise ResultsError("the same run appears twice: " + " / ".join(str(first[k]) for k in RUN_KEYS))
    for col in RUN_COLUMNS:
        if col not in (*RUN_KEYS, "unit", "ci_method"):
            runs[col] = pd.to_numeric(runs[col], errors="coerce").astype(float)
    runs["n"], runs["correct"] = runs["n"].astype(int), runs["correct"].astype(int)
    return sort_table(runs[RUN_COLUMNS])
