"""Small-multiple figures of ``bench report --by`` / ``--problems``: accuracy per stratum with the
advisor's picks, and sequential vs parallel scaling at equal cost.

Both follow ``figures``' rules: model(s) in the title, lines in budget order, a method's colour
kept, labels placed clear of the data, the legend under the panels, PNG + SVG + PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.keys import method_label, strata_order
from budgetbench.analysis.problems import GROUP_KEYS
from budgetbench.report.figures import (
    PANEL_SIZE, budget_text, compose, in_budget_order, log2_axis, method_style, model_title, models_title,
    new_figure, save_figure, unit_note,
)
from budgetbench.report.labels import PointLabel

GRID_PANEL = (3.0, 2.6)  # inches per small-multiple panel
MAX_COLUMNS = 4
PICK_STYLE = {"marker": "o", "markersize": 11, "markerfacecolor": "none", "markeredgecolor": "black",
              "markeredgewidth": 1.2, "linestyle": "none"}
PICK_LABEL = "advisor's pick (its budget beside it)"


def _panels(table: pd.DataFrame) -> list[tuple[str, Any]]:
    """(task, stratum) panels in display order."""
    return [(task, s) for task in sorted(table["task"].unique())
            for s in strata_order(table.loc[table["task"] == task, "stratum"])]


def _title(task: str, field: str, stratum: Any, tasks: int, n: int | None = None) -> str:
    head = f"{task} · " if tasks > 1 else ""
    body = f"{field} = {stratum}" if field else task
    return head + body + (f" (n={n})" if n is not None else "")


def _suptitle(table: pd.DataFrame, what: str) -> str:
    tasks = sorted(table["task"].unique())
    return " · ".join([models_title(table["model"]), *(tasks if len(tasks) == 1 else []), what])


def _label(method: str, model: str, waits: int, models: Sequence[str]) -> str:
    return method_label(method, waits) + unit_note(method) + (f" · {model_title(model)}" if len(models) > 1 else "")


def _axes(axes, grid, xs, xlabel: str) -> None:
    """Shared log2 x axis and 0-100% y axis; x labels under every panel with no panel below it."""
    cols = grid.shape[1]
    for i, ax in enumerate(axes):
        log2_axis(ax, xs)
        ax.set_ylim(-5, 105)
        ax.tick_params(labelsize=7)
        if i + cols >= len(axes):
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel, fontsize=8)
    for row in grid:
        row[0].set_ylabel("Accuracy (%)", fontsize=8)


def strata_figure(curves: pd.DataFrame, advice: pd.DataFrame):
    """Small multiples of ``strata_curves``: a panel per task × stratum, accuracy (%) vs mean
    thinking tokens (log2 axis) with 95% interval bars, a line per model × method × waits in budget
    order; the advisor's pick of each line ringed and labelled with its budget. None when empty."""
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D

    if curves.empty:
        return None
    panels = _panels(curves)
    field = str(curves["field"].iloc[0])
    sizes = curves.groupby(["task", "stratum"])["n_problems"].max()
    tasks = curves["task"].nunique()
    fig, axes, grid = new_figure([_title(t, field, s, tasks, int(sizes.loc[(t, s)])) for t, s in panels],
                                 GRID_PANEL, MAX_COLUMNS, sharex=True, sharey=True)
    labels: list[list[PointLabel]] = [[] for _ in axes]
    models = sorted(curves["model"].unique())
    picks = {tuple(r[k] for k in (*GROUP_KEYS, "stratum")): r["pick_budget"] for _, r in advice.iterrows()}
    for key, group in curves.groupby(list(GROUP_KEYS), sort=False):
        model, task, method, waits = key
        style = method_style(method, models.index(model))
        for stratum, line in group.groupby("stratum", sort=False):
            i = panels.index((task, stratum))
            line = in_budget_order(line)
            yerr = np.nan_to_num([line["accuracy_pct"] - line["ci_low_pct"],
                                  line["ci_high_pct"] - line["accuracy_pct"]])
            axes[i].errorbar(line["mean_thinking_tokens"], line["accuracy_pct"], yerr=yerr, capsize=2, markersize=3.5,
                             linewidth=1.2, elinewidth=0.7, ecolor=to_rgba(style["color"], 0.45),
                             label=_label(method, model, waits, models), **style)
            pick = line[line["budget"].astype(str) == str(picks.get((*key, stratum)))]
            if len(pick):
                axes[i].plot(pick["mean_thinking_tokens"], pick["accuracy_pct"], **PICK_STYLE)
                labels[i] += [PointLabel(float(x), float(y), budget_text(method, b), style["color"])
                              for x, y, b in zip(pick["mean_thinking_tokens"], pick["accuracy_pct"], pick["budget"])]
    _axes(axes, grid, curves["mean_thinking_tokens"], "Mean thinking tokens (log$_2$ scale)")
    compose(fig, axes, _suptitle(curves, f"accuracy by {field}"), labels,
            extra={PICK_LABEL: Line2D([], [], **PICK_STYLE)} if len(advice) else None)
    return fig


def _lighter(colour: Any, amount: float = 0.45) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return tuple(c + (1 - c) * amount for c in to_rgb(colour))


def equal_cost_figure(table: pd.DataFrame):
    """``equal_cost_table`` as a figure: a panel per task (× stratum), accuracy (%) vs total thinking
    tokens per problem (log2): sequential lines over caps (each point labelled with its cap),
    parallel (majority vote) over k, and hybrid lines over k from each cap's sequential point (k
    beside voted points). With several panels a label is left out where it would cover another
    point or label. None when empty."""
    if table.empty:
        return None
    table = table.assign(stratum=table["stratum"].where(table["stratum"] != "", "all"))
    panels = _panels(table)
    field = str(table["field"].iloc[0])
    fig, axes, grid = new_figure([_title(t, field, s, table["task"].nunique()) for t, s in panels],
                                 PANEL_SIZE if len(panels) == 1 else (3.6, 3.0), MAX_COLUMNS, sharex=True, sharey=True)
    optional = len(panels) > 1
    labels: list[list[PointLabel]] = [[] for _ in axes]
    models = sorted(table["model"].unique())
    for (model, task, stratum), group in table.groupby(["model", "task", "stratum"], sort=False):
        i, mi = panels.index((task, stratum)), models.index(model)
        suffix = f" · {model_title(model)}" if len(models) > 1 else ""
        seq = group[group["family"] == "sequential"]
        for (method, waits), line in seq.groupby(["method", "waits"], sort=False):
            line, style = in_budget_order(line, "cap"), method_style(method, mi)
            axes[i].plot(line["total_thinking_tokens"], line["accuracy_pct"], markersize=4, linewidth=1.5,
                         label=f"{method_label(method, waits)}, 1 sample (sequential){suffix}", **style)
            labels[i] += [PointLabel(float(x), float(y), budget_text(method, c), style["color"], optional)
                          for x, y, c in zip(line["total_thinking_tokens"], line["accuracy_pct"], line["cap"])]
        for (method, waits, cap, family), line in group[group["family"] != "sequential"].groupby(
                ["method", "waits", "cap", "family"], sort=False):
            start = seq[(seq["method"] == method) & (seq["waits"] == waits) & (seq["cap"] == cap)]
            line = pd.concat([start, line]).sort_values("k", kind="stable")
            style = method_style(method, mi)
            if family == "parallel":
                label = f"{method_label(method, waits)}: maj@k, uncapped (parallel){suffix}"
            else:
                style = {**style, "color": _lighter(style["color"]), "marker": "s", "linestyle": "--"}
                label = f"maj@k of {method_label(method, waits)} at a cap (hybrid){suffix}"
            axes[i].plot(line["total_thinking_tokens"], line["accuracy_pct"], markersize=3.5, linewidth=1.1,
                         label=label, **style)
            if not optional:  # small multiples: the k of each line are in the legend's title
                labels[i] += [PointLabel(float(x), float(y), f"k={k}", style["color"])
                              for x, y, k in zip(line["total_thinking_tokens"], line["accuracy_pct"], line["k"])
                              if k > 1 or family == "parallel"]
    _axes(axes, grid, table["total_thinking_tokens"], "Total thinking tokens per problem (log$_2$ scale)")
    what = "sequential vs parallel at equal cost" + (f", by {field}" if field else "")
    compose(fig, axes, _suptitle(table, what), labels, legend_title=_equal_cost_note(table, optional))
    return fig


def _equal_cost_note(table: pd.DataFrame, small: bool) -> str:
    if not small:
        return "numbers at points: cap, or k samples voted"
    ks = {f: ", ".join(str(k) for k in sorted({1, *table.loc[table["family"] == f, "k"]}))
          for f in ("hybrid", "parallel") if (table["family"] == f).any()}
    votes = "; ".join(f"{k} ({f})" for f, k in ks.items())
    note = "numbers at points: cap (where there is room)"
    return note + (f"; k along vote lines, left to right: {votes}" if votes else "")


def plot_strata(curves: pd.DataFrame, advice: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``strata_figure`` written as ``stem``.png/.svg/.pdf (nothing when there is nothing to show)."""
    fig = strata_figure(curves, advice)
    return save_figure(fig, stem) if fig is not None else []


def plot_equal_cost(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``equal_cost_figure`` written as ``stem``.png/.svg/.pdf (nothing when there is nothing to show)."""
    fig = equal_cost_figure(table)
    return save_figure(fig, stem) if fig is not None else []
