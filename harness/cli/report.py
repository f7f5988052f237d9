"""``bench report``: method and run tables, CSV/Markdown/LaTeX files and figures from results."""

from __future__ import annotations

from pathlib import Path

import click

from harness.metrics import method_metrics
from harness.report import (
    CI_NOTE, METHOD_NOTE, ResultsError, format_table, load_runs, methods_display, runs_display,
    write_report,
)


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", default="plots", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for runs/methods tables (.csv, .md, .tex) and figures (.png, .svg).")
@click.option("--scaling", "scaling_x", type=click.Choice(["log2", "linear"]), default="log2",
              show_default=True, help="x of the Scaling slope: log2(mean thinking tokens) as the paper, or tokens.")
@click.option("--show-runs", is_flag=True, help="Also print the per-run table.")
def report(results: tuple[Path, ...], out: Path, scaling_x: str, show_runs: bool) -> None:
    """Summarize RESULTS: result directories (spec.json + samples.jsonl) and run-level CSV files
    or folders of them (such as results/paper).

    Prints the method table (Control, Scaling, Performance, |A| of the s1 paper, plus per-sample
    adherence and overshoot) and writes runs.csv, methods.csv, their .md and .tex versions,
    accuracy.png/.svg and forced_end.png/.svg into --out.
    """
    try:
        runs = load_runs(results, warn=lambda message: click.echo(f"warning: {message}", err=True))
    except ResultsError as exc:
        raise click.UsageError(str(exc)) from None
    methods = method_metrics(runs, x=scaling_x)
    if show_runs:
        click.echo(format_table(runs_display(runs)) + "\n")
    click.echo(format_table(methods_display(methods)))
    click.echo(METHOD_NOTE.format(x=scaling_x))
    click.echo(CI_NOTE)
    written = write_report(runs, methods, out)
    click.echo(f"Wrote {len(written)} files to {out}: " + ", ".join(p.name for p in written))
