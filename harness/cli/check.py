"""``bench check``: fail (exit 1) when a run regressed against a committed baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from budgetbench.analysis.regression import Tolerances, compare, write_baseline
from budgetbench.errors import UserError


@click.command("check")
@click.argument("results", nargs=-1, required=True)
@click.option("--baseline", "baseline_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Baseline JSON (e.g. results/baselines/toy.json).")
@click.option("--update", is_flag=True, help="Write RESULTS as the new baseline instead of checking.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=Tolerances.alpha, show_default=True,
              help="Significance of an accuracy drop (one-sided two-proportion z-test).")
@click.option("--tokens-rtol", type=click.FloatRange(min=0), default=Tolerances.tokens_rtol, show_default=True,
              help="Allowed relative move of mean thinking tokens.")
@click.option("--control-tol", type=click.FloatRange(min=0), default=Tolerances.control_tol, show_default=True,
              help="Allowed drop of Control, in percentage points.")
@click.option("--scaling-tol", type=click.FloatRange(min=0), default=Tolerances.scaling_tol, show_default=True,
              help="Allowed drop of Scaling (accuracy points per doubling of tokens).")
def check(results: tuple[str, ...], baseline_path: Path, update: bool, alpha: float, tokens_rtol: float,
          control_tol: float, scaling_tol: float) -> None:
    """Compare RESULTS (result directories) with a baseline; exit 1 on a regression."""
    if update:
        baseline = write_baseline(list(results), baseline_path)
        click.echo(f"wrote baseline with {len(baseline['runs'])} runs to {baseline_path}")
        return
    if not baseline_path.is_file():
        raise UserError(f"baseline {baseline_path} does not exist: create it with bench check RESULTS --baseline FILE --update")
    try:
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UserError(f"baseline {baseline_path} is not valid JSON") from None
    table = compare(list(results), baseline, Tolerances(alpha, tokens_rtol, control_tol, scaling_tol))
    click.echo(table.to_string(index=False))
    regressions = int((table["verdict"] == "regression").sum())
    if regressions:
        click.echo(f"FAIL: {regressions} regression(s) against {baseline_path}")
        raise SystemExit(1)
    click.echo(f"OK: no regression against {baseline_path}")
