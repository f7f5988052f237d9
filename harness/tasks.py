"""Tasks: a dataset loader plus how answers are graded, found by name.

A task plugin is a module exposing ``TASK = Task(...)``. Built-in tasks live in the repository's
``tasks/`` folder (installed as the ``budgetbench_tasks`` package). A third party adds one
without editing the harness in either of two ways:

* an installed package declares an entry point in the ``budgetbench.tasks`` group
  (``mytask = "my_package.my_module:TASK"``);
* ``bench run --task path/to/my_task.py`` (a file defining ``TASK``) or ``--task pkg.module:TASK``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from harness.errors import DataError, UserError
from harness.types import Problem

DATA_DIR_ENV = "BUDGETBENCH_DATA_DIR"

_BUILTIN = {
    "aime24": "budgetbench_tasks.aime24:TASK",
    "math500": "budgetbench_tasks.math500:TASK",
    "gpqa_diamond": "budgetbench_tasks.gpqa_diamond:TASK",
}


@dataclass(frozen=True)
class Task:
    """A benchmark: ``load(data_dir)`` returns its problems (``data_dir`` None = the hub)."""

    name: str
    description: str
    size: int
    answer_kind: str  # math | integer | choice  (see harness.grading.grade)
    hub_id: str
    local_path: str  # where the data lives under --data-dir
    load: Callable[[Path | None], list[Problem]]
    strata: tuple[str, ...] = field(default=())  # metadata fields worth grouping results by

    def source(self, data_dir: Path | None) -> str:
        return str(data_dir / self.local_path) if data_dir else f"hf://datasets/{self.hub_id}"


def available_tasks() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group="budgetbench.tasks"):
        found.setdefault(ep.name, ep.value)
    return found


def get_task(name: str) -> Task:
    """Resolve a task name, a ``module:attr`` reference or a path to a ``.py`` plugin file."""
    if name.endswith(".py"):
        return _task_from_file(Path(name))
    ref = available_tasks().get(name, name if ":" in name else None)
    if ref is None:
        known = ", ".join(sorted(available_tasks()))
        raise UserError(f"unknown task '{name}': choose one of {known} (bench tasks lists them)")
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        if not module_name.startswith("budgetbench_tasks."):
            raise UserError(f"task '{name}': cannot import module '{module_name}'") from None
        module = importlib.import_module("tasks." + module_name.split(".", 1)[1])  # source checkout
    task = getattr(module, attr, None)
    if not isinstance(task, Task):
        raise UserError(f"task '{name}': {ref} is not a harness.tasks.Task")
    return task


def _task_from_file(path: Path) -> Task:
    if not path.is_file():
        raise UserError(f"task file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"budgetbench_user_task_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    task = getattr(module, "TASK", None)
    if not isinstance(task, Task):
        raise UserError(f"task file {path} must define TASK = harness.tasks.Task(...)")
    return task


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """--data-dir, else $BUDGETBENCH_DATA_DIR, else None (load from the Hugging Face hub)."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {path} does not exist (laid out like shared/data: aime24.jsonl, ...)")
    return path


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines data file, with a one-line error for a missing or corrupt file."""
    import json

    if not path.is_file():
        raise DataError(f"data file {path} is missing: point --data-dir at a folder that has it")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    raise DataError(f"data file {path} is corrupt at line {n}: not JSON") from None
    return rows


def load_hub(hub_id: str, split: str, config: str | None = None) -> list[dict]:
    """Rows of a Hugging Face hub dataset (needs the ``datasets`` package and the network)."""
    try:
        import datasets
    except ImportError:
        raise DataError("loading from the Hugging Face hub needs 'datasets' (pip install datasets), "
                        "or pass --data-dir with local files") from None
    try:
        return list(datasets.load_dataset(hub_id, config, split=split))
    except Exception as exc:  # network, auth (gated sets), missing split: one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot load {hub_id} from the hub ({first}); pass --data-dir for local files") from None


def require_fields(row: dict, fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise DataError(f"{where}: a row lacks field(s) {', '.join(missing)}; is this the right file?")
