"""Figures of the difficulty-aware analysis: per-stratum small multiples and the equal-cost figure.

Same conventions as ``budgetbench.report.writers``'s figures (matplotlib's Agg canvas, no pyplot; log2 x axis
labelled in plain numbers; a method keeps its colour; PNG + SVG written deterministically).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.metrics import budget_sort_key, method_label
from budgetbench.analysis.problems import GROUP_KEYS, strata_order
from budgetbench.report.writers import FIG_DPI, LEGEND_WIDTH, _log2_axis, _save, _style, model_name

GRID_PANEL = (3.0, 2.6)  # inches per small-multiple panel
MAX_COLUMNS = 4
PICK_STYLE = {"marker": "o", "markersize": 11, "markerfacecolor": "none", "markeredgecolor": "black",
              "markeredgewidth": 1.2, "linestyle": "none"}


def _grid(titles: Sequence[str], panel: tuple[float, float] = GRID_PANEL):
    """A figure with one panel per title, at most MAX_COLUMNS a row, shared axes; unused cells hidden."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = max(1, len(titles))
    cols = min(MAX_COLUMNS, count)
    rows = math.ceil(count / cols)
    w, h = panel
    fig = Figure(figsize=(w * cols + LEGEND_WIDTH, h * rows), dpi=FIG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    axes = list(grid.ravel())
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count], grid


def _label(method: str, model: str, waits: int, models: Sequence[str]) -> str:
    label = method_label(method, waits)
    return label + (f" · {model_name(model)}" if len(models) > 1 else "")


def _panels(table: pd.DataFrame) -> list[tuple[str, Any]]:
    """(task, stratum) panels in display order."""
    return [(task, s) for task in sorted(table["task"].unique())
            for s in strata_order(table.loc[table["task"] == task, "stratum"])]


def _title(task: str, field: str, stratum: Any, tasks: int, n: int | None = None) -> str:
    head = f"{task} · " if tasks > 1 else ""
    body = f"{field} = {stratum}" if field else task
    return head + body + (f" (n={n})" if n is not None else "")


def _finish(fig, axes, grid, xs: Sequence[float], xlabel: str, stem: Path,
            extra: dict[str, dict[str, Any]] | None = None) -> list[Path]:
    """Shared log2 x axis and 0-100% y axis; x labels under every panel with no panel below it; one
    legend right of the panels (each label once, then ``extra`` entries: label → marker style)."""
    cols = grid.shape[1]
    for i, ax in enumerate(axes):
        _log2_axis(ax, xs)
        ax.set_ylim(-3, 103)
        ax.tick_params(labelsize=7)
        if i + cols >= len(axes):
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel, fontsize=8)
    for row in grid:
        row[0].set_ylabel("Accuracy (%)", fontsize=8)
    from matplotlib.lines import Line2D

    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    for label, style in (extra or {}).items():
        entries[label] = Line2D([], [], **style)
    if entries:
        fig.legend(list(entries.values()), list(entries), loc="outside right upper", frameon=False, fontsize=8)
    return _save(fig, [], stem)


def plot_strata(curves: pd.DataFrame, advice: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Small multiples of ``strata_curves``: a panel per task × stratum, accuracy (%) vs mean
    thinking tokens (log2 axis) with 95% interval bars, a line per model × method × waits; the
    advisor's pick of each line ringed. Writes ``stem``.png and .svg."""
    panels = _panels(curves)
    field = str(curves["field"].iloc[0]) if len(curves) else ""
    sizes = curves.groupby(["task", "stratum"])["n_problems"].max()
    tasks = curves["task"].nunique()
    fig, axes, grid = _grid([_title(t, field, s, tasks, int(sizes.loc[(t, s)])) for t, s in panels])
    models = sorted(curves["model"].unique())
    picks = {tuple(r[k] for k in (*GROUP_KEYS, "stratum")): r["pick_budget"] for _, r in advice.iterrows()}
    for key, group in curves.groupby(list(GROUP_KEYS), sort=False):
        model, task, method, waits = key
        style = _style(method, models.index(model))
        label = _label(method, model, waits, models)
        for stratum, line in group.groupby("stratum", sort=False):
            ax = axes[panels.index((task, stratum))]
            line = line.sort_values("mean_thinking_tokens", kind="stable")
            yerr = np.nan_to_num([line["accuracy_pct"] - line["ci_low_pct"], line["ci_high_pct"] - line["accuracy_pct"]])
            ax.errorbar(line["mean_thinking_tokens"], line["accuracy_pct"], yerr=yerr, capsize=2, markersize=3.5,
                        linewidth=1.2, elinewidth=0.7, label=label, **style)
            pick = line[line["budget"] == picks.get((*key, stratum))]
            if len(pick):
                ax.plot(pick["mean_thinking_tokens"], pick["accuracy_pct"], **PICK_STYLE)
    return _finish(fig, axes, grid, curves["mean_thinking_tokens"], "Mean thinking tokens (log$_2$)", Path(stem),
                   extra={"advisor's pick": PICK_STYLE} if len(advice) else None)


def _hybrid_colour(index: int, count: int):
    from matplotlib import colormaps

    return colormaps["viridis"](0.15 + 0.7 * index / max(1, count - 1))


def plot_equal_cost(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``equal_cost_table`` as a figure: a panel per task (× stratum), accuracy (%) vs total thinking
    tokens per problem (log2): sequential lines over caps, parallel (majority vote) over k, and
    hybrid lines over k from each cap's sequential point; k written beside voted points."""
    table = table.assign(stratum=table["stratum"].where(table["stratum"] != "", "all"))
    panels = _panels(table)
    field = str(table["field"].iloc[0]) if len(table) else ""
    fig, axes, grid = _grid([_title(t, field, s, table["task"].nunique()) for t, s in panels], (3.6, 3.0))
    models = sorted(table["model"].unique())
    caps = sorted({c for c in table.loc[table["family"] == "hybrid", "cap"]}, key=budget_sort_key)
    for (model, task, stratum), group in table.groupby(["model", "task", "stratum"], sort=False):
        ax, mi = axes[panels.index((task, stratum))], models.index(model)
        suffix = f" · {model_name(model)}" if len(models) > 1 else ""
        seq = group[group["family"] == "sequential"]
        for (method, waits), line in seq.groupby(["method", "waits"], sort=False):
            line = line.sort_values("total_thinking_tokens", kind="stable")
            ax.plot(line["total_thinking_tokens"], line["accuracy_pct"], markersize=4, linewidth=1.5,
                    label=f"sequential: {_label(method, model, waits, [model])} (1 sample)" + suffix,
                    **_style(method, mi))
        for (method, waits, cap, family), line in group[group["family"] != "sequential"].groupby(
                ["method", "waits", "cap", "family"], sort=False):
            start = seq[(seq["method"] == method) & (seq["waits"] == waits) & (seq["cap"] == cap)]
            line = pd.concat([start, line]).sort_values("k", kind="stable")
            if family == "parallel":
                style, label = _style(method, mi), f"parallel: maj@k, uncapped{suffix}"
            else:
                colour = _hybrid_colour(caps.index(cap), len(caps))
                style = {"color": colour, "marker": "s", "linestyle": "--"}
                label = f"hybrid: maj@k of {method_label(method)} cap {cap}{suffix}"
            ax.plot(line["total_thinking_tokens"], line["accuracy_pct"], markersize=3.5, linewidth=1.1,
                    label=label, **style)
            for x, y, k in zip(line["total_thinking_tokens"], line["accuracy_pct"], line["k"]):
                if k > 1:
                    ax.annotate(f"{k}", (x, y), textcoords="offset points", xytext=(3, -9), fontsize=6,
                                color=style["color"])
    return _finish(fig, axes, grid, table["total_thinking_tokens"],
                   "Total thinking tokens per problem (log$_2$)", Path(stem))
