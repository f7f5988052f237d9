"""``bench tasks`` and ``bench methods``: what can be run."""

from __future__ import annotations

import click

from budgetbench.methods import catalogue
from budgetbench.tasks import TASKS, get_task, resolve_data_dir


@click.command("tasks")
@click.option("--data-dir", type=str, default=None, help="Show local sources under this folder.")
def tasks(data_dir: str | None) -> None:
    """List the tasks with their size and data source."""
    root = resolve_data_dir(data_dir)
    rows = []
    for name in sorted(TASKS.available()):
        task = get_task(name)
        rows.append((task.name, str(task.size), task.answer_kind, task.source(root), task.description))
    _table(("task", "size", "grading", "source", "description"), rows)


@click.command("methods")
def methods() -> None:
    """List the length-control methods with their budget unit."""
    rows = []
    for info in catalogue():
        rows.append((info.name, info.label, info.budget_unit, info.description))
    _table(("method", "label", "budget unit", "description"), rows)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
