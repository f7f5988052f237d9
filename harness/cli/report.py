"""``bench report``: method and run tables, CSV/Markdown/LaTeX files and figures from results."""

from __future__ import annotations

from pathlib import Path

import click

from budgetbench.errors import UserError
from budgetbench.analysis.metrics import method_metrics
from budgetbench.analysis.runs import load_runs
from budgetbench.report.tables import CI_NOTE, METHOD_NOTE, format_table, methods_display, runs_display
from budgetbench.report.writers import write_report


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", default="results/report", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for runs/methods tables (.csv, .md, .tex) and figures (.png, .svg, .pdf).")
@click.option("--scaling", "scaling_x", type=click.Choice(["log2", "linear"]), default="log2",
              show_default=True, help="x of the Scaling slope: log2(mean thinking tokens) as the paper, or tokens.")
@click.option("--show-runs", is_flag=True, help="Also print the per-run table.")
@click.option("--by", "by", multiple=True, metavar="FIELD",
              help="Per-problem metadata field to stratify by (level, subject, domain, terms...): per-stratum "
                   "curves, budget advisor, overthinking and equal-cost tables. Repeat or comma-separate for several.")
@click.option("--tolerance", type=click.FloatRange(0, 100), default=2.0, show_default=True,
              help="Budget advisor: accuracy points (percentage points) a pick may lose to its stratum's best, "
                   "judged by the upper end of a 95% paired bootstrap interval.")
@click.option("--problems", "problems", is_flag=True,
              help="Also write the per-problem view (problems.csv, overthinking) and the sequential vs parallel "
                   "equal-cost table and figure (implied by --by).")
def report(results: tuple[Path, ...], out: Path, scaling_x: str, show_runs: bool, by: tuple[str, ...],
           tolerance: float, problems: bool) -> None:
    """Summarize RESULTS: result directories (spec.json + samples.jsonl) and run-level CSV files
    or folders of them (such as results/paper).

    Prints the method table (Control, Scaling, Performance, |A| of the s1 paper, plus per-sample
    adherence and overshoot) and writes runs.csv, methods.csv, their .md and .tex versions,
    the accuracy and forced_end figures (.png, .svg, .pdf; forced_end only where runs have sample-level
    data) into --out. With --by FIELD (or --problems) it also
    writes the difficulty-aware analysis of budgetbench.report.views: by_FIELD, advice_FIELD, problems.csv,
    overthinking and equal_cost tables and figures.
    """
    from budgetbench.report.views import AnalysisConfig, load_checked, parse_by, run_analysis
    from budgetbench.analysis.strata import AdvisorConfig

    said: set[str] = set()

    def warn(message: str) -> None:  # each warning once, though results are read twice with --by
        if message not in said:
            said.add(message)
            click.echo(f"warning: {message}", err=True)

    config = AnalysisConfig(by=parse_by(by), advisor=AdvisorConfig(tolerance_pts=tolerance))
    try:
        runs = load_runs(results, warn=warn)
        # the analysis' input is checked (an unknown --by field, no samples) before anything is written
        samples = load_checked(results, config, warn=warn) if config.by or problems else None
    except UserError as exc:  # ResultsError included
        raise click.UsageError(str(exc)) from None
    methods = method_metrics(runs, x=scaling_x)
    if show_runs:
        click.echo(format_table(runs_display(runs)) + "\n")
    click.echo(format_table(methods_display(methods)))
    click.echo(METHOD_NOTE.format(x=scaling_x))
    click.echo(CI_NOTE)
    written = write_report(runs, methods, out)
    if samples is not None:
        analysis = run_analysis(samples, out, config)
        click.echo("\n" + analysis.text)
        written += list(analysis.written)
    click.echo(f"Wrote {len(written)} files to {out}: " + ", ".join(p.name for p in written))
