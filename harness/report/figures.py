"""Figures: accuracy and forced-end curves of runs, per-stratum small multiples, equal cost.

matplotlib's Agg canvas directly (no pyplot, no display); a log2 x axis labelled in plain numbers;
a method keeps its colour across figures; PNG + SVG, written deterministically.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.keys import budget_sort_key, method_label
from budgetbench.analysis.problems import GROUP_KEYS
from budgetbench.analysis.keys import strata_order
from budgetbench.analysis.keys import method_rank, sort_table
from budgetbench.methods import method_info
from budgetbench.report.tables import model_name

FIG_DPI = 150


PANEL_SIZE = (4.0, 3.4)  # inches per task panel; the legend column at the right adds LEGEND_WIDTH


LEGEND_WIDTH = 1.8


def _figure(tasks: Sequence[str]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = PANEL_SIZE
    fig = Figure(figsize=(w * max(1, len(tasks)) + LEGEND_WIDTH, h), dpi=FIG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(tasks)), squeeze=False)[0]
    for ax, task in zip(axes, tasks):
        ax.set_title(task)
        ax.grid(True, which="major", alpha=0.3)
    return fig, axes


def log2_axis(ax, values: Iterable[float]) -> None:
    """Log2 x axis labelled in plain numbers, padded, with at least one power of two in view."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    xs = [v for v in values if v > 0]
    with warnings.catch_warnings():  # runs with 0 mean tokens cannot be shown on a log axis
        warnings.filterwarnings("ignore", message="Data has no positive values")
        ax.set_xscale("log", base=2, nonpositive="mask")
    if not xs:
        ax.set_xlim(1, 2)
    if xs:
        left, right = min(xs) / 1.15, max(xs) * 1.15
        if math.floor(math.log2(right)) < math.ceil(math.log2(left)):
            left = 2.0 ** math.floor(math.log2(min(xs)))
        ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(LogLocator(base=2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45)


def method_style(method: str, model_index: int) -> dict[str, Any]:
    from matplotlib import colormaps

    rank = method_rank(method)  # a method keeps its colour across figures; unknown ones share the 10th
    return {"color": colormaps["tab10"].colors[min(rank, 9)],
            "marker": "osD^v<>"[model_index % 7], "linestyle": ["-", "--", ":", "-."][model_index % 4]}


def save_figure(fig, axes, stem: Path) -> list[Path]:
    """Add one figure legend (each panel's entries, once) right of the panels; write PNG, SVG (text
    kept as text, so it can be edited and searched) and PDF, all byte-for-byte deterministic."""
    import matplotlib

    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(list(entries.values()), list(entries), loc="outside right upper", frameon=False)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg"), stem.with_suffix(".pdf")]
    with matplotlib.rc_context({"svg.hashsalt": "budgetbench", "svg.fonttype": "none", "pdf.fonttype": 42}):
        fig.savefig(paths[0], dpi=FIG_DPI, metadata={"Software": None})
        fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
        fig.savefig(paths[2], metadata={"CreationDate": None, "Creator": None, "Producer": None})
    return paths


def _series(runs: pd.DataFrame):
    """Lines in table order: (panel index, style, legend label, method, runs of that line)."""
    tasks, models = sorted(runs["task"].unique()), sorted(runs["model"].unique())
    for (model, task, method), group in sort_table(runs).groupby(["model", "task", "method"], sort=False):
        label = method_label(method) + (f" · {model_name(model)}" if len(models) > 1 else "")
        yield tasks.index(task), method_style(method, models.index(model)), label, method, group


def _yerr(df: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num([df["accuracy_pct"] - df["ci_low_pct"], df["ci_high_pct"] - df["accuracy_pct"]])


def plot_accuracy(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Accuracy (%) vs mean thinking tokens (log2 axis), a line per method × model, a panel per task,
    95% interval bars; CCC's default run is a star. Writes ``stem``.png and .svg."""
    tasks = sorted(runs["task"].unique())
    fig, axes = _figure(tasks)
    for t, style, label, method, group in _series(runs):
        reference = method_info(method).reference_budget  # CCC's default run: a star, not on the line
        default = (group["budget"] == reference) if reference else pd.Series(False, index=group.index)
        line = group[~default].sort_values("mean_thinking_tokens", kind="stable")
        axes[t].errorbar(line["mean_thinking_tokens"], line["accuracy_pct"], yerr=_yerr(line), capsize=2.5,
                         markersize=4, linewidth=1.4, elinewidth=0.8, label=label, **style)
        if default.any():
            d = group[default]
            axes[t].errorbar(d["mean_thinking_tokens"], d["accuracy_pct"], yerr=_yerr(d), fmt="*", capsize=2.5,
                             elinewidth=0.8, markersize=10, color=style["color"],
                             label=label.replace(method_label(method), method_label(method) + " default", 1))
    for ax, task in zip(axes, tasks):
        log2_axis(ax, runs.loc[runs["task"] == task, "mean_thinking_tokens"])
        ax.set_xlabel("Mean thinking tokens (log$_2$ scale)")
    axes[0].set_ylabel("Accuracy (%)")
    return save_figure(fig, axes, Path(stem))


def plot_forced_end(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Share of forced ends (%) vs token cap a_max (budget; steps × 100), a line per method × model,
    a panel per task. Runs without a cap or without sample-level data are left out."""
    tasks = sorted(runs["task"].unique())
    fig, axes = _figure(tasks)
    caps: list[list[float]] = [[] for _ in axes]
    for t, style, label, _, group in _series(runs):
        line = group[group["a_max"].notna() & group["forced_end_pct"].notna()].sort_values("a_max", kind="stable")
        if len(line):
            axes[t].plot(line["a_max"], line["forced_end_pct"], markersize=4, linewidth=1.4, label=label, **style)
            caps[t] += line["a_max"].tolist()
    for ax, xs in zip(axes, caps):
        ax.set_ylim(-3, 103)
        ax.set_xlabel("Thinking cap $a_{max}$ (tokens; steps × 100)")
        if xs:
            log2_axis(ax, xs)
        else:
            ax.set_xticks([])
            ax.text(0.5, 0.5, "no sample-level data", ha="center", va="center", transform=ax.transAxes)
    axes[0].set_ylabel("Forced ends (%)")
    return save_figure(fig, axes, Path(stem))


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
        log2_axis(ax, xs)
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
    return save_figure(fig, [], stem)


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
        style = method_style(method, models.index(model))
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
                    **method_style(method, mi))
        for (method, waits, cap, family), line in group[group["family"] != "sequential"].groupby(
                ["method", "waits", "cap", "family"], sort=False):
            start = seq[(seq["method"] == method) & (seq["waits"] == waits) & (seq["cap"] == cap)]
            line = pd.concat([start, line]).sort_values("k", kind="stable")
            if family == "parallel":
                style, label = method_style(method, mi), f"parallel: maj@k, uncapped{suffix}"
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
