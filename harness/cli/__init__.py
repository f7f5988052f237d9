"""The ``bench`` command. Every user-facing failure is one line on stderr and a non-zero exit:
2 for bad input (flags, files, directories, models), 1 for a run that failed midway, 130 for Ctrl-C."""

from __future__ import annotations

import sys
import warnings

import click

from budgetbench import __version__
from budgetbench.engines.base import EngineError
from budgetbench.errors import RunInterrupted, UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="budgetbench")
def cli() -> None:
    """budgetbench: how well do test-time length-control methods steer a model's thinking?"""


def _register() -> None:
    from budgetbench.cli.check import check
    from budgetbench.cli.listing import methods, tasks
    from budgetbench.cli.run import run
    from budgetbench.cli.score import score

    for command in (run, tasks, methods, check, score):
        cli.add_command(command)
    try:
        from budgetbench.cli.report import report
    except ImportError:  # pragma: no cover - report has optional plotting dependencies
        return
    cli.add_command(report)


_register()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    click.echo(f"warning: {message}", err=True)  # one line, without the source location


def main(argv: list[str] | None = None) -> None:
    warnings.showwarning = _show_warning
    try:
        code = cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted: finished samples are saved; rerun the same command to resume", err=True)
        sys.exit(130)
    except RunInterrupted as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (UserError, EngineError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    sys.exit(code or 0)
