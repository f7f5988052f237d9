"""``python -m harness`` is the ``bench`` command."""

from budgetbench.cli import main

main()
