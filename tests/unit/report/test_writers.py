"""`bench report`: the paper's Table 3 from results/paper, files written from a result directory."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
from click.testing import CliRunner

from budgetbench.analysis import metrics as M
from budgetbench.analysis import runs as RUNS
from budgetbench.report import figures as F
from budgetbench.report import tables as T
from budgetbench.results import reader as READER
from budgetbench.cli.report import report
from budgetbench.analysis.metrics import method_metrics
from tests.helpers.cli import REPO

ROOT = REPO
PAPER = ROOT / "results" / "paper"
OUTPUTS = ["runs.csv", "runs.md", "runs.tex", "methods.csv", "methods.md", "methods.tex",
           "accuracy.png", "accuracy.svg", "accuracy.pdf", "forced_end.png", "forced_end.svg", "forced_end.pdf",
           ".budgetbench-report"]
TABLE3 = {  # method: |A|, Control, Scaling, Performance (arXiv 2501.19393 v3, Table 3, AIME24)
    "TCC": ["5", "40%", "-24", "40.0"],
    "TCC+BF": ["5", "100%", "13", "40.0"],
    "SCC": ["5", "60%", "3", "36.7"],
    "SCC+BF": ["5", "100%", "6", "36.7"],
    "CCC": ["2", "50%", "25", "36.7"],
}


def _invoke(*args: str):
    return CliRunner().invoke(report, list(args), catch_exceptions=False)


def test_report_paper_prints_table3(tmp_path):
    result = _invoke(str(PAPER), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.output.splitlines():
        cells = line.split()
        if len(cells) >= 7 and cells[0] == "simplescaling/s1-32B":
            rows[cells[2]] = cells[3:7]
    assert rows == TABLE3
    assert list(rows) == list(TABLE3)  # the paper's order


def test_paper_methods_dataframe():
    runs = RUNS.load_runs([PAPER])
    assert len(runs) == 23 and set(runs["ci_method"]) == {"wilson"}
    table = method_metrics(runs).set_index("label")
    assert list(table.index) == list(TABLE3)
    for label, (size, ctrl, scal, perf) in TABLE3.items():
        row = table.loc[label]
        assert row["runs"] == int(size)
        assert row["control_pct"] == float(ctrl.rstrip("%"))
        assert round(row["scaling"]) == int(scal)
        assert round(row["performance_pct"], 1) == float(perf)
    assert table.loc["TCC", "scaling"] == pytest.approx(-23.767, abs=1e-3)
    assert table.loc["CCC", "default_tokens"] == 6109


# --------------------------------------------------------------------------- synthetic results
PROBLEMS = ["p1", "p2", "p3", "p4"]


def _record(method: str, budget: int, problem: int, sample: int) -> dict:
    cap = budget * (100 if method.startswith("step") else 1)
    thinking = int(cap * (0.6 + 0.25 * problem + 0.1 * sample))
    forced = thinking >= cap
    return {
        "task": "math500", "problem_id": PROBLEMS[problem], "method": method, "budget": budget,
        "sample": sample, "seed": sample, "thinking_tokens": min(thinking, cap) if method == "budget_forcing" else thinking,
        "answer_tokens": 20 + problem, "forced_end": forced and method == "budget_forcing",
        "extensions": sample, "finish_reason": "length" if forced else "stop", "thinking_text": "…",
        "answer_text": "\\boxed{1}", "extracted": None if (problem == 3 and sample == 1) else "1", "gold": "1",
        "correct": (problem + sample + budget // 100) % 3 != 0, "metadata": {"level": problem + 1},
    }


def write_results(path: Path, method: str, budgets: list[int], *, torn_tail: bool = False) -> Path:
    path.mkdir(parents=True)
    spec = {"model": "org/tiny-model", "task": "math500", "method": method, "budgets": budgets, "samples": 2}
    (path / "spec.json").write_text(json.dumps(spec))
    lines = [json.dumps(_record(method, b, p, s)) for b in budgets for p in range(len(PROBLEMS)) for s in range(2)]
    text = "\n".join(lines) + "\n" + ('{"task": "math500", "problem_id": "p1", "bud' if torn_tail else "")
    (path / "samples.jsonl").write_text(text)
    return path


@pytest.fixture
def results(tmp_path) -> list[Path]:
    return [write_results(tmp_path / "bf", "budget_forcing", [512, 1024, 2048], torn_tail=True),
            write_results(tmp_path / "scc", "step_conditional", [4, 8, 16])]


def test_report_writes_every_file(results, tmp_path):
    out = tmp_path / "out"
    result = _invoke(*map(str, results), "--out", str(out), "--show-runs")
    assert result.exit_code == 0, result.output
    assert "samples.jsonl:25: the last line is incomplete" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    w, h = F.PANEL_SIZE
    for name in ("accuracy.png", "forced_end.png"):
        image = mpimg.imread(out / name)
        assert image.shape[1] == round(w * F.FIG_DPI) and image.shape[0] > round(h * F.FIG_DPI)  # + the legend
        assert image[..., :3].std() > 0.05  # not a blank canvas
    for name in ("accuracy.svg", "forced_end.svg"):
        svg = (out / name).read_text()
        assert svg.lstrip().startswith("<?xml") and "<text" in svg  # text stays text, not paths
    for name in ("accuracy.pdf", "forced_end.pdf"):
        assert (out / name).read_bytes().startswith(b"%PDF")

    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 6 and list(runs.columns) == M.RUN_COLUMNS
    assert list(runs["method"]) == ["budget_forcing"] * 3 + ["step_conditional"] * 3
    assert list(runs["budget"]) == [512, 1024, 2048, 4, 8, 16]
    assert (runs["n"] == 8).all() and (runs["n_problems"] == 4).all()
    assert runs["accuracy_pct"].tolist() == pytest.approx((100 * runs["correct"] / runs["n"]).tolist())
    assert runs["unextractable_pct"].tolist() == [12.5] * 6
    assert list(runs["a_max"]) == [512, 1024, 2048, 400, 800, 1600]
    assert (runs["ci_method"] == "bootstrap").all()
    methods = pd.read_csv(out / "methods.csv")
    assert list(methods["label"]) == ["BF", "SCC"] and list(methods["runs"]) == [3, 3]
    assert methods.loc[0, "control_pct"] == 100.0 and methods.loc[0, "adherence_pct"] == 100.0
    assert "| BF |" in (out / "methods.md").read_text()
    assert "\\toprule" in (out / "methods.tex").read_text()

    # runs.csv is itself a run-level file: reading it back gives the same method metrics.
    again = method_metrics(RUNS.load_runs([out / "runs.csv"]))
    pd.testing.assert_frame_equal(again[["control_pct", "scaling", "performance_pct", "adherence_pct"]],
                                  methods[["control_pct", "scaling", "performance_pct", "adherence_pct"]],
                                  check_exact=False, check_dtype=False, rtol=1e-8)


def test_report_is_deterministic(results, tmp_path):
    for name in ("a", "b"):
        assert _invoke(*map(str, results), "--out", str(tmp_path / name)).exit_code == 0
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_load_records_adds_model_and_skips_torn_lines(results):
    messages = []
    records = READER.load_records(results, warn=messages.append)
    assert len(records) == 48 and set(records["model"]) == {"org/tiny-model"}
    assert len(messages) == 1 and "samples.jsonl:25" in messages[0]
    runs = M.summarize_runs(records)
    assert list(runs.columns[:4]) == ["model", "task", "method", "budget"] and len(runs) == 6


def test_results_parent_folder_stands_for_its_result_dirs(results, tmp_path):
    runs = RUNS.load_runs([tmp_path], warn=lambda m: None)
    assert len(runs) == 6


@pytest.mark.parametrize("make", ["empty_dir", "text_file", "missing", "csv_without_columns"])
def test_unreadable_input_is_a_usage_error(tmp_path, make):
    bad = tmp_path / "bad"
    if make == "empty_dir":
        bad.mkdir()
    elif make == "text_file":
        bad = tmp_path / "notes.txt"
        bad.write_text("hello")
    elif make == "csv_without_columns":
        bad = tmp_path / "x.csv"
        bad.write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(report, [str(PAPER), str(bad), "--out", str(out)])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and str(bad.name) in error[0]
    assert not out.exists()


def test_duplicate_runs_are_rejected(tmp_path):
    copy = tmp_path / "copy.csv"
    copy.write_bytes((PAPER / "s1-32B_aime24.csv").read_bytes())
    with pytest.raises(READER.ResultsError, match="twice"):
        RUNS.load_runs([PAPER, copy])


def test_markdown_and_latex_escaping():
    table = pd.DataFrame({"method": ["a|b", "x_y"], "Scaling": ["-24", "—"], "|A|": ["5", "2"]})
    md = T.to_markdown(table, "note")
    assert "| a\\|b | -24 | 5 |" in md and md.endswith("\n\nnote\n")
    tex = T.to_latex(table)
    assert r"x\_y & --- & 2 \\" in tex and r"a|b & $-$24 & 5 \\" in tex and "$|A|$" in tex
