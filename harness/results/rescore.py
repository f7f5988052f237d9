"""Re-grade stored samples with the current grader, without regenerating (``bench score``).

The results directory is locked like a run (no writer at the same time), every record's
``extracted``, ``correct`` and ``grade_note`` are recomputed from its stored ``answer_text`` and
``gold``, and ``samples.jsonl`` is replaced atomically (temporary file + rename): a crash leaves
either the old file or the new one, never a mix. Damaged lines are written back as they were
(``results.reader``'s policy); a torn last line is left out, as a resume would cut it off.
Failed samples (``error``) have no answer: they are kept as they are, not graded.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from budgetbench.errors import UserError
from budgetbench.grading import grade_many
from budgetbench.results.reader import SAMPLES_FILE, is_results_dir, Warn, parse_samples, read_spec, warn_damaged
from budgetbench.results.schema import is_failed_record
from budgetbench.results.store import ResultStore, write_atomic
from budgetbench.tasks import Task, get_task


@dataclass(frozen=True)
class ScoreOutcome:
    directory: Path
    records: int
    changed: int
    now_correct: int
    now_wrong: int


def _grade(task: Task, records: list[dict], timeout: float) -> list:
    answers = [r.get("answer_text") or "" for r in records]
    if task.grader is None:
        return grade_many([(r["gold"], a) for r, a in zip(records, answers)], task.answer_kind, timeout=timeout)
    # A task that grades its own way (an lm-eval task's metric) needs its problems, not just golds.
    problems = {p.id: p for p in task.load(None)}
    missing = sorted({str(r["problem_id"]) for r in records} - set(problems))
    if missing:
        raise UserError(f"task {task.name} no longer has problem {missing[0]} (and {len(missing) - 1} more): "
                        "cannot re-grade with its own metric")
    return task.grader([(problems[str(r["problem_id"])], a) for r, a in zip(records, answers)])


def rescore(directory: str | Path, timeout: float = 5.0, *, warn: Warn | None = None) -> ScoreOutcome:
    directory = Path(directory)
    if not is_results_dir(directory):
        raise UserError(f"{directory} is not a results directory (spec.json + samples.jsonl)")
    task = get_task(str(read_spec(directory).get("task")))
    store = ResultStore(directory)
    store.lock()
    try:
        path = directory / SAMPLES_FILE
        parsed = parse_samples(path)
        warn_damaged(parsed, warn or (lambda message: warnings.warn(message, stacklevel=2)))
        records = [r for r in parsed.records if not is_failed_record(r)]
        grades = _grade(task, records, timeout) if records else []
        changed = up = down = 0
        for record, g in zip(records, grades):
            if bool(record.get("correct")) != bool(g.correct):
                changed += 1
                up += bool(g.correct)
                down += not g.correct
            record.update(extracted=g.extracted, correct=bool(g.correct), grade_note=g.reason)
        lines = [json.dumps(r, ensure_ascii=False).encode() if r is not None else raw for raw, r in parsed.lines]
        write_atomic(path, b"".join(line + b"\n" for line in lines))
    finally:
        store.close()
    return ScoreOutcome(directory, len(records), changed, up, down)
