"""``bench report``'s files: the runs and methods tables (CSV, Markdown, LaTeX) and the figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from budgetbench.analysis.runs import REPORT_MARKER
from budgetbench.report.figures import plot_accuracy, plot_forced_end
from budgetbench.report.tables import CI_NOTE, METHOD_NOTE, methods_display, runs_display, to_latex, to_markdown, write_csv


def write_report(runs: pd.DataFrame, methods: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write runs/methods as CSV, Markdown and LaTeX, and the figures, into ``out``; paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT_MARKER).write_text("written by bench report: not an input for another report\n", encoding="utf-8")
    x = methods["scaling_x"].iloc[0] if len(methods) else "log2"
    method_note = METHOD_NOTE.format(x=x)
    written = []
    for name, df, shown, note in (("runs", runs, runs_display(runs), CI_NOTE),
                                  ("methods", methods, methods_display(methods), method_note)):
        write_csv(df, out / f"{name}.csv")
        (out / f"{name}.md").write_text(to_markdown(shown, note), encoding="utf-8")
        (out / f"{name}.tex").write_text(to_latex(shown, note), encoding="utf-8")
        written += [out / f"{name}.{ext}" for ext in ("csv", "md", "tex")]
    written += plot_accuracy(runs, out / "accuracy")
    written += plot_forced_end(runs, out / "forced_end")
    return written
