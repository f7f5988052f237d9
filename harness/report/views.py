"""``bench report --by`` / ``--problems``: run the difficulty-aware analyses and write their files.

What is written into the report folder (FIELD = each ``--by`` field; names made file-safe):

* ``problems.csv`` — the per-problem view (``budgetbench.analysis.problems``); ``overthinking.csv/.md``.
* ``equal_cost.csv/.md/.png/.svg/.pdf`` — sequential vs parallel at equal cost (``budgetbench.analysis.equal_cost``).
* with ``--by FIELD``: ``by_FIELD.csv/.md/.png/.svg/.pdf`` (per-stratum curves, ``budgetbench.analysis.strata``),
  ``advice_FIELD.csv/.md`` (advisor picks and budget schedules, with the generated reading),
  ``overthinking_by_FIELD.csv/.md`` and ``equal_cost_by_FIELD.csv/.md/.png/.svg/.pdf``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from budgetbench.report.grids import plot_equal_cost, plot_strata
from budgetbench.analysis.equal_cost import NOTE as EQUAL_COST_NOTE
from budgetbench.analysis.equal_cost import equal_cost_table
from budgetbench.errors import UserError
from budgetbench.analysis.keys import method_label
from budgetbench.analysis.problems import (
    GROUP_KEYS, OVERTHINKING_NOTE, Samples, check_fields, load_samples, overthinking_table, problem_frame,
    problem_view,
)
from budgetbench.analysis.runs import REPORT_MARKER
from budgetbench.results.reader import Warn
from budgetbench.report.tables import format_table, model_name, number_format, to_markdown, write_csv
from budgetbench.analysis.strata import AdvisorConfig, advisor_tables, reading, strata_curves

CURVES_NOTE = ("Cells: accuracy % (mean thinking tokens per problem; for majority vote, the K samples' total). "
               "Long table: 95% percentile bootstrap interval over the stratum's problems (2000 resamples, seed 0).")


@dataclass(frozen=True)
class AnalysisConfig:
    """What to analyse: metadata fields to stratify by (none: per-problem and equal-cost only) and
    the advisor's rule."""

    by: tuple[str, ...] = ()
    advisor: AdvisorConfig = field(default_factory=AdvisorConfig)


@dataclass(frozen=True)
class AnalysisOutput:
    """The text the CLI prints and the files written."""

    text: str
    written: tuple[Path, ...]


def parse_by(values: Sequence[str]) -> tuple[str, ...]:
    """``--by`` values, repeated and/or comma-separated, as distinct field names in order."""
    fields = [f.strip() for v in values for f in v.split(",")]
    return tuple(dict.fromkeys(f for f in fields if f))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "field"


# --------------------------------------------------------------------------- display
def _head(df: pd.DataFrame) -> dict[str, Any]:
    return {"model": df["model"].map(model_name), "task": df["task"],
            "method": [method_label(m, w) for m, w in zip(df["method"], df["waits"])]}


def _ci(lo: pd.Series, hi: pd.Series) -> list[str]:
    pct = number_format("{:.1f}")
    return [f"{pct(a)}–{pct(b)}" if not math.isnan(a) else "—" for a, b in zip(lo, hi)]


def curves_pivot(curves: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per group, (title, table): a row per stratum, a column per budget, cells "acc (tokens)"."""
    out = []
    for key, g in curves.groupby(list(GROUP_KEYS), sort=False):
        budgets = list(dict.fromkeys(g["budget"]))
        rows = []
        for stratum, s in g.groupby("stratum", sort=False):
            cells = {str(r["budget"]): f"{r['accuracy_pct']:.1f} ({r['mean_thinking_tokens']:.0f})"
                     for _, r in s.iterrows()}
            rows.append({str(g["field"].iloc[0]): str(stratum), "problems": str(int(s["n_problems"].max())),
                         **{str(b): cells.get(str(b), "—") for b in budgets}})
        title = f"{method_label(key[2], key[3])} · {key[1]} · {model_name(key[0])}"
        out.append((title, pd.DataFrame(rows)))
    return out


def curves_display(curves: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({**_head(curves), str(curves["field"].iloc[0]) if len(curves) else "stratum":
                         curves["stratum"].map(str), "budget": curves["budget"].map(str),
                         "problems": curves["n_problems"].map(str), "accuracy %": curves["accuracy_pct"].map(number_format("{:.1f}")),
                         "95% CI": _ci(curves["ci_low_pct"], curves["ci_high_pct"]),
                         "mean think": curves["mean_thinking_tokens"].map(number_format("{:.1f}"))})


def advice_display(advice: pd.DataFrame) -> pd.DataFrame:
    pct, tok = number_format("{:.1f}"), number_format("{:.1f}")
    return pd.DataFrame({
        **_head(advice), str(advice["field"].iloc[0]) if len(advice) else "stratum": advice["stratum"].map(str),
        "problems": advice["n_problems"].map(str),
        "best": [f"{b} ({pct(a)}%)" for b, a in zip(advice["best_budget"], advice["best_accuracy_pct"])],
        "pick": advice["pick_budget"].map(str), "acc @pick %": advice["pick_accuracy_pct"].map(pct),
        "gap bound": advice["gap_upper_pts"].map(pct),
        "acc @largest %": advice["largest_accuracy_pct"].map(pct),
        "think @pick": advice["pick_tokens"].map(tok), "think @largest": advice["largest_tokens"].map(tok),
        "saved %": advice["saved_pct"].map(number_format("{:.0f}")),
    })


def schedule_display(schedules: pd.DataFrame) -> pd.DataFrame:
    pct, tok = number_format("{:.1f}"), number_format("{:.1f}")
    return pd.DataFrame({
        **_head(schedules), "problems": schedules["n_problems"].map(str),
        "schedule acc %": schedules["schedule_accuracy_pct"].map(pct),
        "largest": schedules["largest_budget"].map(str), "acc @largest %": schedules["largest_accuracy_pct"].map(pct),
        "change": schedules["change_pts"].map(number_format("{:+.1f}")), "loss bound": schedules["loss_upper_pts"].map(pct),
        "think schedule": schedules["schedule_tokens"].map(tok), "think @largest": schedules["largest_tokens"].map(tok),
        "saved %": schedules["saved_pct"].map(number_format("{:.0f}")), "one pick": schedules["uniform_pick"].map(str),
        "one pick acc %": schedules["uniform_accuracy_pct"].map(pct),
        "one pick saved %": schedules["uniform_saved_pct"].map(number_format("{:.0f}")),
    })


def overthinking_display(table: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    cols = _head(table)
    if by:
        cols[by] = table["stratum"].map(str)
    cols.update({"problems": table["problems"].map(str), "samples": table["samples"].map(str),
                 "solved %": table["solved_pct"].map(number_format("{:.1f}")),
                 "stays solved %": table["stays_solved_pct"].map(number_format("{:.1f}")),
                 "overthinking": table["overthinking"].map(str),
                 "overthinking %": table["overthinking_pct"].map(number_format("{:.1f}"))})
    return pd.DataFrame(cols)


def equal_cost_display(table: pd.DataFrame) -> pd.DataFrame:
    cols: dict[str, Any] = {"model": table["model"].map(model_name), "task": table["task"]}
    if len(table) and table["field"].iloc[0]:
        cols[str(table["field"].iloc[0])] = table["stratum"].map(str)
    cols.update({"family": table["family"], "method": [method_label(m, w) for m, w in zip(table["method"], table["waits"])],
                 "cap": table["cap"].map(str), "k": table["k"].map(str), "problems": table["n_problems"].map(str),
                 "total think": table["total_thinking_tokens"].map(number_format("{:.1f}")),
                 "accuracy %": table["accuracy_pct"].map(number_format("{:.1f}")),
                 "95% CI": _ci(table["ci_low_pct"], table["ci_high_pct"]),
                 "BF at <= cost %": table["sequential_at_cost_pct"].map(number_format("{:.1f}")),
                 "gain": table["gain_pts"].map(number_format("{:+.1f}"))})
    return pd.DataFrame(cols)


# --------------------------------------------------------------------------- writing
def _tables(out: Path, stem: str, data: pd.DataFrame, shown: pd.DataFrame, note: str, extra_md: str = "") -> list[Path]:
    write_csv(data, out / f"{stem}.csv")
    (out / f"{stem}.md").write_text(extra_md + to_markdown(shown, note), encoding="utf-8")
    return [out / f"{stem}.csv", out / f"{stem}.md"]


def _by_field(frame: pd.DataFrame, samples: Samples, view: pd.DataFrame, name: str, out: Path,
              config: AnalysisConfig) -> tuple[list[str], list[Path]]:
    """Curves, advisor, overthinking and equal cost per stratum of one field: (text blocks, paths)."""
    tag, text, written = _safe(name), [], []
    tasks = sorted({t for t, m in zip(samples.records["task"], samples.records["metadata"])
                    if isinstance(m, dict) and name in m})
    others = sorted(set(frame["task"]) - set(tasks))
    if others:
        text.append(f"By {name}: left out {', '.join(others)} (no problem there has {name})")
        frame = frame[frame["task"].isin(tasks)]
        samples = Samples(samples.records[samples.records["task"].isin(tasks)], samples.vote_ks)
        view = view[view["task"].isin(tasks)]
    curves = strata_curves(frame, name)
    advice, schedules = advisor_tables(frame, name, config.advisor)
    pivots = curves_pivot(curves)
    pivot_md = "".join(f"**{title}**\n\n{to_markdown(table)}\n" for title, table in pivots)
    written += _tables(out, f"by_{tag}", curves, curves_display(curves), CURVES_NOTE, pivot_md)
    written += plot_strata(curves, advice, out / f"by_{tag}")
    text += [f"Accuracy by {name}: {title}\n{format_table(table)}" for title, table in pivots] + [CURVES_NOTE]
    readings = [reading(advice[_same(advice, s)], schedules.iloc[[i]], config.advisor,
                        f"{method_label(s['method'], s['waits'])} on {s['task']} ({model_name(s['model'])})")
                for i, (_, s) in enumerate(schedules.iterrows())]
    rule = config.advisor.rule()
    body = (to_markdown(advice_display(advice), rule) + "\nBudget schedule (each stratum at its pick):\n\n"
            + to_markdown(schedule_display(schedules)) + "\n" + "\n\n".join(readings) + "\n")
    write_csv(advice, out / f"advice_{tag}.csv")
    write_csv(schedules, out / f"schedule_{tag}.csv")
    (out / f"advice_{tag}.md").write_text(body, encoding="utf-8")
    written += [out / f"advice_{tag}.csv", out / f"schedule_{tag}.csv", out / f"advice_{tag}.md"]
    text += [f"Budget advisor by {name} (tolerance {config.advisor.tolerance_pts:g} points)\n"
             + format_table(advice_display(advice)), rule,
             "Budget schedule\n" + format_table(schedule_display(schedules)), *readings]
    over = overthinking_table(view, name)
    written += _tables(out, f"overthinking_by_{tag}", over, overthinking_display(over, name), OVERTHINKING_NOTE)
    cost = equal_cost_table(samples, name)
    if len(cost):
        written += _tables(out, f"equal_cost_by_{tag}", cost, equal_cost_display(cost), EQUAL_COST_NOTE)
        written += plot_equal_cost(cost, out / f"equal_cost_by_{tag}")
    return text, written


def _same(df: pd.DataFrame, row: pd.Series) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for k in GROUP_KEYS:
        mask &= df[k] == row[k]
    return mask


def load_checked(paths: Sequence[str | Path], config: AnalysisConfig, *, warn: Warn | None = None) -> Samples:
    """The samples of ``paths`` for the analysis; UserError (one line) when there are none or a
    ``--by`` field is unknown."""
    samples = load_samples(paths, warn=warn) if warn else load_samples(paths)
    if samples.records.empty:
        raise UserError("the per-problem analysis (--by, --problems) needs results directories "
                        "(spec.json + samples.jsonl) with samples; run-level CSV files have none")
    check_fields(samples.records, config.by)
    return samples


def run_analysis(samples: Samples, out: str | Path, config: AnalysisConfig) -> AnalysisOutput:
    """Run every analysis on ``samples`` (see :func:`load_checked`) and write its files into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT_MARKER).write_text("written by bench report: not an input for another report\n", encoding="utf-8")
    frame = problem_frame(samples)
    view = problem_view(frame)
    text: list[str] = []
    written = [out / "problems.csv"]
    write_csv(view, out / "problems.csv")
    over = overthinking_table(view)
    written += _tables(out, "overthinking", over, overthinking_display(over), OVERTHINKING_NOTE)
    text += ["Per-problem view (problems.csv): overthinking\n" + format_table(overthinking_display(over)),
             OVERTHINKING_NOTE]
    cost = equal_cost_table(samples)
    if len(cost):
        written += _tables(out, "equal_cost", cost, equal_cost_display(cost), EQUAL_COST_NOTE)
        written += plot_equal_cost(cost, out / "equal_cost")
        text += ["Sequential vs parallel at equal cost\n" + format_table(equal_cost_display(cost)), EQUAL_COST_NOTE]
    for name in config.by:
        blocks, paths = _by_field(frame, samples, view, name, out, config)
        text += blocks
        written += paths
    return AnalysisOutput("\n\n".join(text), tuple(written))
