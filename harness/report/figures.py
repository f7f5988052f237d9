"""Figures of runs: accuracy and forced-end curves, and what every figure shares.

matplotlib's Agg canvas directly (no pyplot, no display). Every figure names its model(s) in its
title; lines join a method's runs in budget order and each point is labelled with its budget
(``labels.place_labels``); the x axis is log2, labelled in plain numbers; a method keeps its colour
across figures; the legend sits under the panels, no wider than they are. A figure with nothing to
show is not written. PNG, SVG (text kept as text) and PDF, written deterministically.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from budgetbench.analysis.keys import budget_sort_key, method_label, method_rank, sort_table
from budgetbench.methods import method_info
from budgetbench.report.labels import PointLabel, place_labels

FIG_DPI = 150
PANEL_SIZE = (5.0, 3.6)  # inches per task panel; the legend under the panels adds its own height
LEGEND_SIZE = 8  # points
TITLE_SIZE = 10
LABEL_NOTE = "numbers at points: budget"


def model_title(model: str) -> str:
    """A model as figures name it: a local path by its last two parts (toy/model), a hub id in full."""
    if model.startswith(("/", ".", "~")):
        return "/".join(Path(model).parts[-2:])
    return model


def models_title(models: Iterable[str]) -> str:
    names = list(dict.fromkeys(model_title(m) for m in models))
    return ("Model: " if len(names) == 1 else "Models: ") + ", ".join(names)


def new_figure(titles: Sequence[str], panel: tuple[float, float], columns: int, **share: Any):
    """A figure with one panel per title, at most ``columns`` a row; unused cells hidden.
    Returns (figure, used axes, the grid of all axes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = max(1, len(titles))
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(panel[0] * cols, panel[1] * rows), dpi=FIG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows, cols, squeeze=False, **share)
    axes = list(grid.ravel())
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9 if len(titles) > 1 else 10)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count], grid


def log2_axis(ax, values: Iterable[float]) -> None:
    """Log2 x axis labelled in plain numbers, padded, with at least one power of two in view; over
    a short range (up to four octaves below 1000), 1.5 × powers of two (12, 24, 48...) are ticked too."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    xs = [v for v in values if v > 0 and math.isfinite(v)]
    with warnings.catch_warnings():  # runs with 0 mean tokens cannot be shown on a log axis
        warnings.filterwarnings("ignore", message="Data has no positive values")
        ax.set_xscale("log", base=2, nonpositive="mask")
    left, right = (min(xs) / 1.15, max(xs) * 1.15) if xs else (1.0, 2.0)
    if math.floor(math.log2(right)) < math.ceil(math.log2(left)):
        left = 2.0 ** math.floor(math.log2(min(xs)))
    ax.set_xlim(left, right)
    octaves = math.log2(right / left)
    subs = (1.0, 1.5) if octaves <= 2.5 or (octaves <= 4 and right < 1000) else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=2, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def method_style(method: str, model_index: int) -> dict[str, Any]:
    from matplotlib import colormaps

    rank = method_rank(method)  # a method keeps its colour across figures; unknown ones share the 10th
    return {"color": colormaps["tab10"].colors[min(rank, 9)],
            "marker": "osD^v<>"[model_index % 7], "linestyle": ["-", "--", ":", "-."][model_index % 4]}


def budget_text(method: str, budget: Any) -> str:
    """A run's budget as its point is labelled: "1024", "16" (steps), "short", "k=4"; CCC's
    reference run "default"."""
    info = method_info(method)
    if info.reference_budget is not None and str(budget) == str(info.reference_budget):
        return "default"
    return f"k={budget}" if info.budget_unit == "samples" else str(budget)


def unit_note(method: str) -> str:
    """What a legend adds to a method whose numeric budgets are not tokens, so its point labels
    read right: " (steps)"; majority vote's x is its k samples' total."""
    unit = method_info(method).budget_unit
    if unit == "samples":  # majority vote: k samples, and its x is what the k samples spent
        return " (k samples' total)"
    return f" ({unit})" if unit not in ("tokens", "class", "none") else ""


def _legend(fig, axes, entries: Mapping[str, Any], title: str | None) -> None:
    """One legend under the panels (each label once), in as many balanced columns as fit within
    the panels' width; the figure grows by the legend's height so the panels keep theirs."""
    if not entries:
        return
    renderer = fig.canvas.get_renderer()
    fig.get_layout_engine().execute(fig)  # the layout without drawing: the panels' final place
    shown = [ax.get_window_extent(renderer) for ax in axes]
    span = max(b.x1 for b in shown) - min(b.x0 for b in shown)
    for n in sorted({math.ceil(len(entries) / rows) for rows in range(1, len(entries) + 1)}, reverse=True):
        legend = fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=n,
                            frameon=False, fontsize=LEGEND_SIZE, title=title, title_fontsize=LEGEND_SIZE)
        if legend.get_window_extent(renderer).width <= span or n == 1:
            break
        legend.remove()
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + legend.get_window_extent(renderer).height / fig.dpi + 0.08)


def _wrap(title: str, width: int) -> str:
    """``title`` in lines of at most ``width`` characters, broken between its " · " parts first."""
    lines: list[str] = []
    for part in title.split(" · "):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines += textwrap.wrap(part, width, break_long_words=False) or [part]
    return "\n".join(lines)


def compose(fig, axes, title: str, labels: Sequence[Sequence[PointLabel]],
            extra: Mapping[str, Any] | None = None, legend_title: str | None = None) -> None:
    """Title the figure, add the legend (each panel's entries once, then ``extra``), fix the
    layout, then place each panel's point labels."""
    if len(axes) == 1:  # one panel: one title (the panel's, a task, joins the figure's)
        panel = axes[0].get_title()
        axes[0].set_title("")
        title = title if not panel or panel in title.split(" · ") else f"{title} · {panel}"
    per_line = max(20, int(fig.get_figwidth() * 72 / (TITLE_SIZE * 0.6)))  # characters a line holds
    fig.suptitle(_wrap(title, per_line), fontsize=TITLE_SIZE)
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    entries.update(extra or {})
    _legend(fig, axes, entries, legend_title)
    fig.get_layout_engine().execute(fig)  # the layout without drawing: the panels' final place
    for ax, points in zip(axes, labels):
        place_labels(ax, points)


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``stem``.png, .svg (text kept as text, so it can be edited and searched) and .pdf,
    byte-for-byte deterministic."""
    import matplotlib

    stem = Path(stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg"), stem.with_suffix(".pdf")]
    with matplotlib.rc_context({"svg.hashsalt": "budgetbench", "svg.fonttype": "none", "pdf.fonttype": 42}):
        fig.savefig(paths[0], dpi=FIG_DPI, metadata={"Software": None})
        fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
        fig.savefig(paths[2], metadata={"CreationDate": None, "Creator": None, "Producer": None})
    return paths


def in_budget_order(df: pd.DataFrame, column: str = "budget") -> pd.DataFrame:
    """``df``'s rows with ``column`` in budget order (``budget_sort_key``: numbers, then named budgets)."""
    keys = {value: budget_sort_key(value) for value in dict.fromkeys(df[column])}  # one key per budget
    return df.iloc[sorted(range(len(df)), key=lambda i: keys[df[column].iloc[i]])]


def _series(runs: pd.DataFrame):
    """Lines in table order, runs in budget order: (panel index, style, legend label with the
    method's unit note, method, runs)."""
    tasks, models = sorted(runs["task"].unique()), sorted(runs["model"].unique())
    for (model, task, method), group in sort_table(runs).groupby(["model", "task", "method"], sort=False):
        label = method_label(method) + unit_note(method) + (f" · {model_title(model)}" if len(models) > 1 else "")
        yield tasks.index(task), method_style(method, models.index(model)), label, method, group


def _yerr(df: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num([df["accuracy_pct"] - df["ci_low_pct"], df["ci_high_pct"] - df["accuracy_pct"]])


def _labels(df: pd.DataFrame, x: str, y: str, method: str, color: Any, optional: bool = False) -> list[PointLabel]:
    return [PointLabel(float(a), float(b), budget_text(method, budget), color, optional)
            for a, b, budget in zip(df[x], df[y], df["budget"]) if math.isfinite(a) and math.isfinite(b)]


def accuracy_figure(runs: pd.DataFrame):
    """Accuracy (%) vs mean thinking tokens (log2 axis), a line per method × model joining its runs
    in budget order, each point labelled with its budget, a panel per task, 95% interval bars;
    CCC's default run is a star. None when there are no runs."""
    from matplotlib.colors import to_rgba

    if runs.empty:
        return None
    tasks = sorted(runs["task"].unique())
    fig, axes, _ = new_figure(tasks, PANEL_SIZE, len(tasks))
    labels: list[list[PointLabel]] = [[] for _ in axes]
    for t, style, label, method, group in _series(runs):
        reference = method_info(method).reference_budget  # CCC's default run: a star, not on the line
        default = (group["budget"].astype(str) == str(reference)) if reference else pd.Series(False, index=group.index)
        line, bars = group[~default], to_rgba(style["color"], 0.45)
        axes[t].errorbar(line["mean_thinking_tokens"], line["accuracy_pct"], yerr=_yerr(line), capsize=2.5,
                         markersize=4, linewidth=1.4, elinewidth=0.8, ecolor=bars, label=label, **style)
        labels[t] += _labels(line, "mean_thinking_tokens", "accuracy_pct", method, style["color"])
        if default.any():
            d, name = group[default], method_label(method)
            axes[t].errorbar(d["mean_thinking_tokens"], d["accuracy_pct"], yerr=_yerr(d), fmt="*", capsize=2.5,
                             elinewidth=0.8, ecolor=bars, markersize=10, color=style["color"],
                             label=label.replace(name + unit_note(method), name + " default", 1))
            labels[t] += _labels(d, "mean_thinking_tokens", "accuracy_pct", method, style["color"])
    for ax, task in zip(axes, tasks):
        log2_axis(ax, runs.loc[runs["task"] == task, "mean_thinking_tokens"])
        shown = runs.loc[runs["task"] == task, ["accuracy_pct", "ci_high_pct"]].max().max()
        ax.set_ylim(-4, min(105, (shown if shown == shown else 100) + 8))  # from 0: no gain looks bigger than it is
        ax.set_xlabel("Mean thinking tokens (log$_2$ scale)")
    axes[0].set_ylabel("Accuracy (%)")
    compose(fig, axes, models_title(runs["model"]), labels, legend_title=LABEL_NOTE)
    return fig


def cap_axis_label(methods: Iterable[str]) -> str:
    """The forced-end x label: the cap in tokens, and how other units convert ("steps × 100")."""
    notes = {}
    for method in methods:
        info = method_info(method)
        if info.tokens_per_unit is not None and info.budget_unit != "tokens":
            notes[info.budget_unit] = f"{info.budget_unit} × {info.tokens_per_unit:g}"
    return "Thinking cap $a_{max}$ (tokens" + "".join(f"; {n}" for n in notes.values()) + ", log$_2$ scale)"


def forced_end_figure(runs: pd.DataFrame):
    """Share of forced ends (%) vs token cap a_max, a line per method × model in budget order, each
    point labelled with its budget, a panel per task that has any. Runs without a cap or without
    sample-level data are left out; None when none is left."""
    shown = runs[runs["a_max"].notna() & runs["forced_end_pct"].notna()]
    if shown.empty:
        return None
    tasks = sorted(shown["task"].unique())
    fig, axes, _ = new_figure(tasks, PANEL_SIZE, len(tasks))
    labels: list[list[PointLabel]] = [[] for _ in axes]
    for t, style, label, method, line in _series(shown):
        axes[t].plot(line["a_max"], line["forced_end_pct"], markersize=4, linewidth=1.4,
                     label=label, **style)
        labels[t] += _labels(line, "a_max", "forced_end_pct", method, style["color"])
    for ax, task in zip(axes, tasks):
        ax.set_ylim(-5, 105)
        log2_axis(ax, shown.loc[shown["task"] == task, "a_max"])
        ax.set_xlabel(cap_axis_label(shown.loc[shown["task"] == task, "method"]))
    axes[0].set_ylabel("Forced ends (%)")
    compose(fig, axes, models_title(shown["model"]), labels, legend_title=LABEL_NOTE)
    return fig


def plot_accuracy(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``accuracy_figure`` written as ``stem``.png/.svg/.pdf; nothing when there is nothing to show."""
    fig = accuracy_figure(runs)
    return save_figure(fig, stem) if fig is not None else []


def plot_forced_end(runs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``forced_end_figure`` written as ``stem``.png/.svg/.pdf; nothing when no run has a cap and
    sample-level data (run-level CSVs such as results/paper)."""
    fig = forced_end_figure(runs)
    return save_figure(fig, stem) if fig is not None else []
