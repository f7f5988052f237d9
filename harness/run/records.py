"""Records: what one finished trace becomes on disk (``results.schema.SampleRecord``).

The one place a record is assembled: ``bench run`` writes :func:`graded_records`; the lm-eval
model (``interop.lm_eval_model``) keeps :func:`trace_fields` per request.
"""

from __future__ import annotations

from typing import Any, Sequence

from budgetbench.grading import Grade, grade_many
from budgetbench.methods.base import Method, Trace
from budgetbench.tasks import Task


def trace_fields(method: Method, trace: Trace) -> dict[str, Any]:
    """The sample's identity and what the method measured (no task, no verdict)."""
    return {
        "method": method.name,
        "budget": trace.budget,
        "waits": trace.waits,
        "sample": trace.sample,
        "seed": trace.seed,
        **method.record_fields(trace),
    }


def sample_record(task: str, trace: Trace, fields: dict[str, Any], grade: Grade) -> dict[str, Any]:
    """One line of samples.jsonl from ``trace_fields``' ``fields``: fields in ``CORE_FIELDS``
    order (method extras before the verdict)."""
    return {
        "task": task,
        "problem_id": trace.problem.id,
        **fields,
        "extracted": grade.extracted,
        "gold": trace.problem.gold,
        "correct": bool(grade.correct),
        "grade_note": grade.reason,
        "metadata": trace.problem.metadata,
    }


def graded_records(task: Task, batch: Sequence[tuple[Method, Trace]], timeout: float) -> list[dict[str, Any]]:
    """Grade finished traces (the task's grader, else by its answer kind) and assemble their records."""
    fields = [trace_fields(method, trace) for method, trace in batch]
    pairs = [(trace, f["answer_text"]) for (_, trace), f in zip(batch, fields)]
    if task.grader is not None:  # the task grades its own way (e.g. an lm-eval task's metric)
        grades = task.grader([(trace.problem, answer) for trace, answer in pairs])
    else:
        grades = grade_many([(trace.problem.gold, answer) for trace, answer in pairs], task.answer_kind,
                            timeout=timeout)
    return [sample_record(task.name, trace, f, grade) for (_, trace), f, grade in zip(batch, fields, grades)]
