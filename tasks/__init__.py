"""Built-in task plugins (installed as the ``budgetbench_tasks`` package). One file per benchmark."""
