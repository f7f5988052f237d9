"""Records: what one finished trace becomes on disk (``results.schema.SampleRecord``).

The one place a record is assembled: ``bench run`` writes :func:`graded_records`; the lm-eval
model (``interop.lm_eval_model``) keeps :func:`trace_fields` per request.

A failed sample (``trace.error``: its request failed for good) is not graded: ``extracted`` None,
``correct`` false, ``grade_note`` "failed", and its ``error`` field gives the reason; reports
count it as failed, never as a wrong answer (``analysis.stats.is_failed``).
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
        "context_limited": trace.context_limited,
        **({"error": trace.error} if trace.error is not None else {}),
    }


def sample_record(task: str, trace: Trace, fields: dict[str, Any], grade: Grade) -> dict[str, Any]:
    """One line of samples.jsonl from ``trace_fields``' ``fields``: fields in ``CORE_FIELDS``
    order (method extras before the verdict; ``error`` last)."""
    error = fields.get("error")
    fields = {k: v for k, v in fields.items() if k != "error"}
    return {
        "task": task,
        "problem_id": trace.problem.id,
        **fields,
        "extracted": grade.extracted,
        "gold": trace.problem.gold,
        "correct": bool(grade.correct),
        "grade_note": grade.reason,
        "metadata": trace.problem.metadata,
        **({"error": error} if error is not None else {}),
    }


FAILED = Grade(None, False, "failed")  # a failed sample's verdict: not graded (its error says why)


def graded_records(task: Task, batch: Sequence[tuple[Method, Trace]], timeout: float) -> list[dict[str, Any]]:
    """Grade finished traces (the task's grader, else by its answer kind) and assemble their records;
    failed samples are not graded."""
    fields = [trace_fields(method, trace) for method, trace in batch]
    graded = [i for i, (_, trace) in enumerate(batch) if trace.error is None]
    pairs = [(batch[i][1], fields[i]["answer_text"]) for i in graded]
    grades = [FAILED] * len(batch)
    if pairs and task.grader is not None:  # the task grades its own way (e.g. an lm-eval task's metric)
        found = task.grader([(trace.problem, answer) for trace, answer in pairs])
    elif pairs:
        found = grade_many([(trace.problem.gold, answer) for trace, answer in pairs], task.answer_kind,
                           timeout=timeout)
    else:
        found = []
    for i, grade in zip(graded, found):
        grades[i] = grade
    return [sample_record(task.name, trace, f, grade) for (_, trace), f, grade in zip(batch, fields, grades)]
