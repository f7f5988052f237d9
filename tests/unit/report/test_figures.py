"""Figures of runs, checked on the figure objects and files (never on pixels): every point labelled
with its budget, lines in budget order, the model in the title, axis labels that fit the units,
no figure with nothing to show, the legend within the panels' width, SVG text as text, PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetbench.analysis.runs import load_runs
from budgetbench.report import figures as F
from budgetbench.report.writers import write_report
from budgetbench.analysis.metrics import method_metrics
from tests.helpers.cli import REPO
from tests.helpers.results import MODEL, record, write_results

PAPER = REPO / "results" / "paper"


@pytest.fixture(scope="module")
def paper():
    return load_runs([PAPER])


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _line(ax, label: str):
    """The data line of the legend entry ``label`` (an error bar container's, or a plain line)."""
    for container in ax.containers:
        if container.get_label() == label:
            return container.lines[0]
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _bf_results(tmp_path: Path, budgets=(8, 16, 32, 48, 64, 80), method="budget_forcing") -> Path:
    """Budget forcing on 4 problems; thinking grows with the budget but saturates (64 and 80 close)."""
    tokens = {8: 8, 16: 16, 32: 28, 48: 36, 64: 41, 80: 42}
    records = [record(f"p{i}", b, (i + b // 16) % 3 != 0, tokens.get(b, b), method=method, meta={"terms": i})
               for b in budgets for i in range(4)]
    return write_results(tmp_path / method, records, method=method)


def test_every_point_is_labelled_with_its_budget(paper):
    fig = F.accuracy_figure(paper)
    (ax,) = fig.axes
    texts = _texts(ax)
    expected = [F.budget_text(m, b) for m, b in zip(paper["method"], paper["budget"])]
    assert sorted(texts) == sorted(expected)  # one label per run: 1024 ... 16384, 16 ... 256, short, long, default
    assert {"64", "16384", "short", "default"} <= set(texts)
    by_point = {(round(a.xy[0]), round(a.xy[1], 3)) for a in ax.texts}
    assert (7108, round(100 * 10 / 30, 3)) in by_point  # TCC 8192: its label sits at its point


def test_lines_join_runs_in_budget_order_not_token_order(paper):
    fig = F.accuracy_figure(paper)
    (ax,) = fig.axes
    assert list(_line(ax, "TCC").get_xdata()) == [7939, 7158, 8263, 7108, 7500]  # budgets 1024 ... 16384
    assert list(_line(ax, "SCC (steps)").get_xdata()) == [7252, 6277, 5396, 5552, 7551]  # 16 ... 256 steps
    assert list(_line(ax, "CCC").get_xdata()) == [8033, 9651]  # short, long; the default is a star


def test_title_names_the_model():
    fig = F.accuracy_figure(load_runs([PAPER]))
    assert "simplescaling/s1-32B" in fig.get_suptitle() and "aime24" in fig.get_suptitle()
    assert F.model_title("/home/me/checkpoints/org-a/s1.1-32B") == "org-a/s1.1-32B"
    assert F.model_title("org-b/s1.1-32B") == "org-b/s1.1-32B"


def test_labels_of_close_points_do_not_overlap(tmp_path):
    runs = load_runs([_bf_results(tmp_path)])
    fig = F.accuracy_figure(runs)
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert sorted(_texts(ax), key=int) == ["8", "16", "32", "48", "64", "80"]
    frame = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_log2_axis_ticks_a_short_range_at_half_octaves_too(tmp_path):
    fig = F.forced_end_figure(load_runs([_bf_results(tmp_path)]))
    ticks = [t for t in fig.axes[0].get_xticks() if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert [round(t) for t in ticks] == [8, 12, 16, 24, 32, 48, 64]


def test_forced_end_axis_names_steps_only_when_a_method_has_them(tmp_path):
    bf = _bf_results(tmp_path)
    label = F.forced_end_figure(load_runs([bf])).axes[0].get_xlabel()
    assert "tokens" in label and "steps" not in label
    both = load_runs([bf, _bf_results(tmp_path, (1, 2), method="step_conditional")])
    assert "steps × 100" in F.forced_end_figure(both).axes[0].get_xlabel()


def test_no_figure_without_anything_to_show(paper, tmp_path):
    assert F.forced_end_figure(paper) is None  # run-level numbers: no forced-end data at all
    written = write_report(paper, method_metrics(paper), tmp_path)
    names = {p.name for p in written}
    assert {"accuracy.png", "accuracy.svg", "accuracy.pdf"} <= names
    assert not any(n.startswith("forced_end") for n in names)
    assert not any(p.name.startswith("forced_end") for p in tmp_path.iterdir())


def test_a_task_without_forced_end_data_gets_no_panel(paper, tmp_path):
    runs = load_runs([PAPER, _bf_results(tmp_path)])
    fig = F.forced_end_figure(runs)
    assert [ax.get_title() for ax in fig.axes] == [""]  # one panel, its task joined to the figure's title
    assert "math500" in fig.get_suptitle() and "aime24" not in fig.get_suptitle()
    assert F.models_title([MODEL, "simplescaling/s1-32B"]) == f"Models: {MODEL}, simplescaling/s1-32B"
    assert len(F.accuracy_figure(runs).axes) == 2  # both tasks have accuracy


def test_legend_is_under_the_panels_and_no_wider(paper):
    fig = F.accuracy_figure(paper)
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    box, panel = legend.get_window_extent(renderer), fig.axes[0].get_window_extent(renderer)
    assert box.width <= panel.width and box.y1 <= panel.y0
    assert len(legend.get_texts()) == 6  # TCC, TCC+BF, SCC, SCC+BF, CCC, CCC default


def test_files_keep_text_as_text_and_include_pdf(paper, tmp_path):
    paths = F.plot_accuracy(paper, tmp_path / "accuracy")
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    svg = paths[1].read_text()
    assert svg.count("<text") >= len(paper) and "simplescaling/s1-32B" in svg  # labels and title are text
    pdf = paths[2].read_bytes()
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf  # TrueType (Type 42) embedded: text stays text
