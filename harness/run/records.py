"""Records: what one finished trace becomes on disk (``results.schema.SampleRecord``).

The one place a record is assembled: ``bench run`` writes :func:`graded_records`; the lm-eval
model (``interop.lm_eval_model``) keeps :func:`trace_fields` per request.

A failed sample (``trace.error``: its request failed for good) is not graded: ``extracted`` None,
``correct`` false, ``grade_note`` "failed", and its ``error`` field gives the reason; reports
count it as failed, never as a wrong answer (``analysis.stats.is_failed``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Collection, Sequence

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


@lru_cache(maxsize=4096)  # the traces of one prompt share its tuple: hashed once, not per record
def prompt_id(prompt_ids: tuple[int, ...]) -> str:
    """A prompt's id: the first 16 hex digits of the sha256 of its token ids written in decimal and
    joined by commas (``"151644,872,198"``). The same prompt gets the same id in every run."""
    return hashlib.sha256(",".join(map(str, prompt_ids)).encode("ascii")).hexdigest()[:16]


def prompt_rows(batch: Sequence[tuple[Method, Trace]], known: Collection[tuple[str, str]]) -> list[dict[str, Any]]:
    """prompts.jsonl lines (``results.schema.PromptRecord``) for the prompts of ``batch`` whose
    (problem_id, prompt_id) is not in ``known``, each once; the text is the prompt's token ids decoded."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for method, trace in batch:
        key = (str(trace.problem.id), prompt_id(tuple(trace.prompt_ids)))  # as the store keys its lines
        if key in known or key in rows:
            continue
        rows[key] = {"problem_id": trace.problem.id, "prompt_id": key[1], "question": trace.problem.question,
                     "prompt": method.tok.decode(trace.prompt_ids), "prompt_tokens": len(trace.prompt_ids)}
    return list(rows.values())


def sample_record(task: str, trace: Trace, fields: dict[str, Any], grade: Grade) -> dict[str, Any]:
    """One line of samples.jsonl from ``trace_fields``' ``fields``: fields in ``CORE_FIELDS``
    order (method extras before the verdict; ``error`` last)."""
    error = fields.get("error")
    fields = {k: v for k, v in fields.items() if k != "error"}
    return {
        "task": task,
        "problem_id": trace.problem.id,
        "prompt_id": prompt_id(tuple(trace.prompt_ids)),
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
