"""The small-multiple figures of ``bench report --by``: per-stratum accuracy with the advisor's picks
and equal cost, checked on the figure objects (labels, line order, title, legend, colours)."""

from __future__ import annotations

import pandas as pd
import pytest

from budgetbench.analysis.equal_cost import equal_cost_table
from budgetbench.analysis.problems import load_samples, problem_frame
from budgetbench.analysis.strata import AdvisorConfig, advisor_tables, strata_curves
from budgetbench.report import figures as F
from budgetbench.report import grids as G
from tests.helpers.results import MODEL, record, write_results

BUDGETS = (80, 48, 16)  # written out of order on purpose
TOKENS = {16: 14, 48: 30, 80: 33}


@pytest.fixture
def samples(tmp_path):
    """Budget forcing, 2 samples, 8 problems at levels 1-2 (level 2 needs 48 tokens); majority vote
    over 4 uncapped samples."""
    bf = [record(f"p{i}", b, b >= 16 * (1 + 2 * (i % 2)), TOKENS[b] - s, sample=s, meta={"level": 1 + i % 2})
          for b in BUDGETS for i in range(8) for s in range(2)]
    mv = [record(f"p{i}", "none", (i + s) % 4 != 0, 35, sample=s, method="majority_vote", meta={"level": 1 + i % 2},
                 extracted=f"w{s}") for i in range(8) for s in range(4)]
    return load_samples([write_results(tmp_path / "bf", bf),
                         write_results(tmp_path / "mv", mv, method="majority_vote", budgets=[1, 2, 4])])


def _line(ax, label: str):
    for container in ax.containers:
        if container.get_label() == label:
            return container.lines[0]
    return next(line for line in ax.get_lines() if line.get_label() == label)


def test_strata_figure_labels_each_pick_with_its_budget(samples):
    frame = problem_frame(samples)
    curves = strata_curves(frame, "level")
    advice, _ = advisor_tables(frame, "level", AdvisorConfig())
    fig = G.strata_figure(curves, advice)
    assert MODEL in fig.get_suptitle() and "by level" in fig.get_suptitle()
    bf = advice[advice["method"] == "budget_forcing"].set_index("stratum")["pick_budget"]
    for ax, level in zip(fig.axes, (1, 2)):
        assert str(bf[level]) in [t.get_text() for t in ax.texts]
        xs = list(_line(ax, "BF").get_xdata())
        level_curve = curves[(curves["method"] == "budget_forcing") & (curves["stratum"] == level)]
        by_budget = level_curve.set_index("budget")["mean_thinking_tokens"]
        assert xs == [by_budget[16], by_budget[48], by_budget[80]]  # budget order
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["BF", "MV (k samples' total)", G.PICK_LABEL]


def test_equal_cost_figure_labels_caps_and_votes_and_keeps_colours(samples):
    table = equal_cost_table(samples)
    fig = G.equal_cost_figure(table)
    (ax,) = fig.axes
    texts = [t.get_text() for t in ax.texts]
    assert sorted(t for t in texts if not t.startswith("k=")) == ["16", "48", "80"]
    assert {"k=1", "k=2", "k=4"} <= set(texts)
    sequential = _line(ax, "BF, 1 sample (sequential)")
    assert list(sequential.get_xdata()) == sorted(sequential.get_xdata())  # caps in order, here cheapest first
    assert sequential.get_color() == F.method_style("budget_forcing", 0)["color"]  # BF's colour everywhere
    renderer = fig.canvas.get_renderer()
    legend, panel = fig.legends[0].get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.width <= panel.width and legend.y1 <= panel.y0


def test_equal_cost_by_stratum_leaves_crowded_labels_out(samples):
    table = equal_cost_table(samples, "level")
    fig = G.equal_cost_figure(table)
    assert len(fig.axes) == 2 and "by level" in fig.get_suptitle()
    for ax in fig.axes:
        assert not any(t.get_text().startswith("k=") for t in ax.texts)  # the k are in the legend's title
    assert "k along vote lines, left to right: 1, 2 (hybrid); 1, 2, 4 (parallel)" in fig.legends[0].get_title().get_text()


def test_nothing_to_show_writes_nothing(tmp_path):
    empty = pd.DataFrame(columns=["model", "task", "field", "stratum", "family", "method", "waits", "cap", "k",
                                  "total_thinking_tokens", "accuracy_pct"])
    assert G.plot_equal_cost(empty, tmp_path / "equal_cost") == []
    assert list(tmp_path.iterdir()) == []
