"""Tasks, found by name.

A task plugin is a module exposing ``TASK = budgetbench.tasks.Task(...)``. Built-in tasks live
in the repository's ``tasks/`` folder (installed as the ``budgetbench_tasks`` package). A third
party adds one without editing budgetbench in either of two ways:

* an installed package declares an entry point in the ``budgetbench.tasks`` group
  (``mytask = "my_package.my_module:TASK"``);
* ``bench run --task path/to/my_task.py`` (a file defining ``TASK``) or ``--task pkg.module:TASK``.

``--task lm_eval:NAME`` runs an lm-evaluation-harness task (``budgetbench.interop.lm_eval_tasks``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from budgetbench.errors import UserError
from budgetbench.registry import Registry
from budgetbench.tasks.task import (
    DATA_DIR_ENV, Task, integer_field, load_hub, read_jsonl, require_fields, resolve_data_dir,
)

__all__ = ["DATA_DIR_ENV", "TASKS", "Task", "get_task", "integer_field", "load_hub", "read_jsonl", "require_fields",
           "resolve_data_dir"]

TASKS = Registry("task", "budgetbench.tasks", {
    "aime24": "budgetbench_tasks.aime24:TASK",
    "math500": "budgetbench_tasks.math500:TASK",
    "gpqa_diamond": "budgetbench_tasks.gpqa_diamond:TASK",
    "toy_sum": "budgetbench_tasks.toy_sum:TASK",
}, listing="bench tasks")
# Task names with a prefix are made by a factory: "lm_eval:NAME" -> factory("lm_eval:NAME").
TASK_FACTORIES = Registry("task source", "budgetbench.task_factories", {
    "lm_eval": "budgetbench.interop.lm_eval_tasks:make_task",
})


def get_task(name: str) -> Task:
    """Resolve a task name, a ``module:attr`` reference, ``PREFIX:...`` or a ``.py`` plugin file."""
    if name.endswith(".py"):
        return _task_from_file(Path(name))
    prefix = name.partition(":")[0]
    if ":" in name and prefix in TASK_FACTORIES.available():
        task = TASK_FACTORIES.load(prefix)(name)
    else:
        task = TASKS.load(name)
    if not isinstance(task, Task):
        raise UserError(f"task '{name}': {TASKS.reference(name)} is not a budgetbench.tasks.Task")
    return task


def _task_from_file(path: Path) -> Task:
    if not path.is_file():
        raise UserError(f"task file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"budgetbench_user_task_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the plugin file raises: one line, not its traceback
        raise UserError(f"task file {path} failed to load: {type(exc).__name__}: {exc}") from None
    task = getattr(module, "TASK", None)
    if not isinstance(task, Task):
        raise UserError(f"task file {path} must define TASK = budgetbench.tasks.Task(...)")
    return task
