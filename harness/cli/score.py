"""``bench score``: re-grade stored results with the current grader."""

from __future__ import annotations

import click

from budgetbench.results.rescore import rescore


@click.command("score")
@click.argument("results", nargs=-1, required=True)
@click.option("--grade-timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds per answer comparison.")
def score(results: tuple[str, ...], grade_timeout: float) -> None:
    """Re-grade RESULTS (result directories) without regenerating; report changed verdicts."""
    for directory in results:
        out = rescore(directory, timeout=grade_timeout,
                      warn=lambda message: click.echo(f"warning: {message}", err=True))
        click.echo(f"{out.directory}: {out.records} samples re-graded, {out.changed} verdicts changed "
                   f"({out.now_correct} now correct, {out.now_wrong} now wrong)")
