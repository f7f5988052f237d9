"""lm-evaluation-harness tasks under budgetbench methods: ``bench run --task lm_eval:<name>``.

The task is loaded through lm-eval's own ``TaskManager``: its documents, its prompt (the few-shot
context lm-eval would send, i.e. ``description`` + examples + ``doc_to_text``), its target
(``doc_to_target``) and, by default, its grading: the task's first filter pipeline (e.g. a regex
that pulls the answer out) then ``process_results``, where a sample is correct when the metric
(``exact_match`` if the task has it, else its first metric) reaches 1.

A reference is ``lm_eval:NAME[@DIR][?grader=KIND]``:

* ``@DIR``: a folder of task YAMLs (lm-eval's ``--include_path``); ``$BUDGETBENCH_LM_EVAL_INCLUDE``
  (folders separated by ``os.pathsep``) adds more. Tasks found there load without indexing
  lm-eval's several thousand built-in YAMLs; other names fall back to the built-in tasks.
* ``?grader=math|integer|choice``: grade with budgetbench's grader on ``doc_to_target`` instead
  of the task's metric (``?grader=task``, the default, uses the task's metric).

Offline: a task whose YAML says ``dataset_path: json`` and ``dataset_kwargs: {data_files: ...}``
reads local files (``--data-dir`` plays no part: the YAML names its files). Only
``generate_until`` tasks can run: budgetbench's methods generate, they do not score choices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qsl

from budgetbench.errors import DataError, UserError
from budgetbench.grading import Grade
from budgetbench.tasks import Task
from budgetbench.types import Problem

PREFIX = "lm_eval:"
INCLUDE_ENV = "BUDGETBENCH_LM_EVAL_INCLUDE"
TASK_GRADER = "task"
GRADERS = (TASK_GRADER, "math", "integer", "choice")
FEWSHOT_SEED = 1234  # lm-eval's default --seed for few-shot sampling
NEEDS_LM_EVAL = "lm-eval interop needs the 'lm-eval' package: pip install 'budgetbench[lm-eval]'"


@dataclass(frozen=True)
class LmEvalTaskRef:
    """What ``lm_eval:NAME[@DIR][?grader=KIND]`` asks for."""

    name: str
    include: tuple[str, ...] = ()
    grader: str = TASK_GRADER


@dataclass(frozen=True)
class LmEvalTask(Task):
    """A budgetbench Task backed by an lm-eval task; ``origin`` says where it came from."""

    origin: str = ""

    def source(self, data_dir: Any) -> str:
        return self.origin


def is_lm_eval_ref(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_ref(text: str, env: Mapping[str, str] | None = None) -> LmEvalTaskRef:
    """Parse ``lm_eval:NAME[@DIR][?grader=KIND]`` (plus folders from $BUDGETBENCH_LM_EVAL_INCLUDE)."""
    env = os.environ if env is None else env
    body = text[len(PREFIX):] if is_lm_eval_ref(text) else text
    body, _, query = body.partition("?")
    name, _, folder = body.partition("@")
    if not name.strip():
        raise UserError(f"task '{text}': name an lm-eval task, e.g. lm_eval:gsm8k or lm_eval:my_task@DIR")
    options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    unknown = sorted(set(options) - {"grader"})
    if unknown:
        raise UserError(f"task '{text}': unknown option(s) {', '.join(unknown)} (only grader=KIND)")
    grader = options.get("grader", TASK_GRADER)
    if grader not in GRADERS:
        raise UserError(f"task '{text}': grader must be one of {', '.join(GRADERS)}, got '{grader}'")
    include = [folder] if folder else []
    include += [p for p in env.get(INCLUDE_ENV, "").split(os.pathsep) if p]
    for path in include:
        if not os.path.isdir(os.path.expanduser(path)):
            raise UserError(f"task '{text}': lm-eval task folder {path} does not exist")
    return LmEvalTaskRef(name.strip(), tuple(os.path.expanduser(p) for p in include), grader)


def require_lm_eval() -> Any:
    try:
        import lm_eval.tasks
    except ImportError:
        raise UserError(NEEDS_LM_EVAL) from None
    return lm_eval.tasks


def task_manager(ref: LmEvalTaskRef) -> Any:
    """lm-eval's TaskManager: only the include folders when they hold the task, else everything."""
    tasks_module = require_lm_eval()
    if ref.include:
        local = tasks_module.TaskManager(include_path=list(ref.include), include_defaults=False)
        if ref.name in local.all_tasks:
            return local
    manager = tasks_module.TaskManager(include_path=list(ref.include) or None)
    if ref.name not in manager.all_tasks:
        where = f" (searched lm-eval's tasks and {', '.join(ref.include)})" if ref.include else (
            f" (a local task? add @DIR or set ${INCLUDE_ENV} to its YAML folder)")
        raise UserError(f"unknown lm-eval task '{ref.name}'{where}")
    return manager


def build_lm_eval_task(ref: LmEvalTaskRef) -> Any:
    """The lm-eval Task object for ``ref``: one leaf task whose output type is generate_until."""
    manager = task_manager(ref)
    try:
        leaves = _leaf_tasks(manager, ref.name)
    except Exception as exc:  # dataset loading: missing files, no network for a hub dataset...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"lm-eval task '{ref.name}' failed to load: {first}") from exc
    if len(leaves) != 1:
        names = ", ".join(sorted(leaves)[:8])
        raise UserError(f"lm-eval '{ref.name}' is a group of {len(leaves)} tasks: run one of them ({names}...)")
    task = next(iter(leaves.values()))
    output_type = getattr(task, "OUTPUT_TYPE", None) or task.config.output_type
    if output_type != "generate_until":
        raise UserError(f"lm-eval task '{ref.name}' is a {output_type} task: budgetbench methods "
                        "run generate_until tasks only")
    return task


def _leaf_tasks(manager: Any, name: str) -> dict[str, Any]:
    if hasattr(manager, "load"):  # lm-eval >= 0.4.11
        return dict(manager.load([name])["tasks"])
    from lm_eval.tasks import get_task_dict

    leaves: dict[str, Any] = {}

    def walk(tree: Mapping) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                walk(value)
            else:
                leaves[str(key)] = value

    walk(get_task_dict([name], manager))
    return leaves


def context_of(task: Any, doc: dict) -> str:
    """The prompt lm-eval would send without a chat template: description, shots, question."""
    shots = int(task.config.num_fewshot or 0)
    context = task.fewshot_context(doc, num_fewshot=shots)
    if not isinstance(context, str):
        raise UserError(f"lm-eval task '{task.config.task}' has several contexts per document: not supported")
    return context


def gold_text(target: Any) -> str:
    """``doc_to_target`` as one gold string (the first of several references)."""
    if isinstance(target, (list, tuple)):
        target = target[0] if target else ""
    return str(target)


def problems_of(task: Any) -> tuple[list[Problem], dict[str, dict]]:
    """The task's evaluation documents as Problems (id = document index), and the docs by id."""
    if int(task.config.num_fewshot or 0) > 0 and hasattr(task, "set_fewshot_seed"):
        task.set_fewshot_seed(seed=FEWSHOT_SEED)
    problems, docs = [], {}
    for index, doc in enumerate(task.eval_docs):
        pid = str(index)
        docs[pid] = doc
        problems.append(Problem(pid, context_of(task, doc), gold_text(task.doc_to_target(doc))))
    return problems, docs


def grade_with_task(task: Any, docs: Mapping[str, dict], pairs: Sequence[tuple[Problem, str]]) -> list[Grade]:
    """Grade responses as lm-eval does: the task's first filter pipeline, then process_results."""
    from lm_eval.api.instance import Instance

    name = task.config.task
    instances = []
    for problem, response in pairs:
        doc = docs[problem.id]
        inst = Instance("generate_until", doc, (problem.question, {}), 0, (name, int(problem.id), 1))
        inst.resps = [response]
        instances.append(inst)
    ensemble = task._filters[0] if getattr(task, "_filters", None) else None
    if ensemble is not None and instances:
        ensemble.apply(instances)
    key = ensemble.name if ensemble is not None else None
    return [_grade_one(task, inst, key) for inst in instances]


def _grade_one(task: Any, inst: Any, filter_key: str | None) -> Grade:
    filtered = inst.filtered_resps.get(filter_key, inst.resps[0]) if filter_key else inst.resps[0]
    extracted = filtered if isinstance(filtered, str) else str(filtered)
    try:
        scores = task.process_results(inst.doc, [filtered])
    except Exception as exc:  # noqa: BLE001 - a task's metric failing on one response
        return Grade(extracted, False, f"error: {type(exc).__name__}: {exc}"[:200])
    if not scores:
        return Grade(extracted, False, "error: the task's process_results returned no metric")
    metric = "exact_match" if "exact_match" in scores else next(iter(scores))
    value = scores[metric]
    correct = full_marks(value)
    return Grade(extracted, correct, None if correct else f"{metric}={_number(value)}")


def full_marks(value: Any) -> bool:
    """A metric value counts as correct when it reaches 1 (exact_match, accuracy-like scores)."""
    try:
        return float(value) >= 1.0
    except (TypeError, ValueError):
        return bool(value)


def _number(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def make_task(text: str) -> Task:
    """The budgetbench Task for ``lm_eval:NAME[@DIR][?grader=KIND]``."""
    ref = parse_ref(text)
    lm_task = build_lm_eval_task(ref)
    problems, docs = problems_of(lm_task)
    grader: Callable[[Sequence[tuple[Problem, str]]], list[Grade]] | None = None
    if ref.grader == TASK_GRADER:
        grader = lambda pairs: grade_with_task(lm_task, docs, pairs)  # noqa: E731
        how = "its own metric"
    else:
        how = f"budgetbench's {ref.grader} grader"
    where = f" from {', '.join(ref.include)}" if ref.include else ""
    return LmEvalTask(
        name=f"{PREFIX}{ref.name}",
        description=f"lm-eval task {ref.name}{where}, graded by {how}",
        size=len(problems),
        answer_kind="lm_eval" if ref.grader == TASK_GRADER else ref.grader,
        hub_id="",
        local_path="",
        load=lambda data_dir: list(problems),
        grader=grader,
        origin=f"{PREFIX}{ref.name}{where} (grader: {ref.grader})",
    )
