"""The runner: expands a sweep into traces and drives them, one engine call per round.

Every live trace of every problem, budget, wait count and sample is asked for its next request;
all requests go to the engine in a single ``generate`` call; results are routed back. Traces that
finish are graded and appended to the store at the end of the round they finish in, so a killed
run loses only samples still in flight. A round with no live trace ends the loop (no empty call).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

from harness.engines.base import Engine
from harness.grading import grade_many
from harness.methods.base import Budget, Method, Trace, run_key, sample_seed
from harness.sharing import dedupe, families, shadow_step
from harness.store import ResultStore
from harness.tasks import Task
from harness.types import Problem


@dataclass(frozen=True)
class Sweep:
    """What to run: every problem at every budget and wait count, ``samples`` times each."""

    budgets: tuple[Budget, ...]
    waits: tuple[int, ...] = (0,)
    samples: int = 1
    seed: int = 0
    share: bool = True  # nested budgets share their thinking (harness.sharing); False: --no-share


@dataclass
class RunStats:
    planned: int = 0
    skipped: int = 0
    finished: int = 0
    rounds: int = 0
    seconds: float = 0.0


def plan(problems: Sequence[Problem], sweep: Sweep, done: set) -> list[tuple[Problem, Budget, int, int]]:
    """Work items not yet on disk, ordered problem-major so early results cover all budgets."""
    todo = []
    for problem in problems:
        for budget in sweep.budgets:
            for waits in sweep.waits:
                for sample in range(sweep.samples):
                    if run_key(problem.id, budget, waits, sample) not in done:
                        todo.append((problem, budget, waits, sample))
    return todo


def run_sweep(
    engine: Engine,
    method: Method,
    task: Task,
    problems: Sequence[Problem],
    sweep: Sweep,
    store: ResultStore,
    done: set,
    *,
    grade_timeout: float = 5.0,
    progress: bool = True,
) -> RunStats:
    stats = RunStats()
    todo = plan(problems, sweep, done)
    stats.planned = len(todo)
    stats.skipped = len(problems) * len(sweep.budgets) * len(sweep.waits) * sweep.samples - len(todo)
    started = time.monotonic()
    traces = [
        method.start(problem, budget, waits, sample, sample_seed(sweep.seed, problem.id, sample))
        for problem, budget, waits, sample in todo
    ]
    followers: dict[int, list[Trace]] = {}
    if sweep.share and getattr(method, "shares_prefixes", False):
        traces, followers = families(traces)
    live: list[Trace] = list(traces)
    bar = _progress(len(todo), task.name, method.name, enabled=progress)
    try:
        while live:
            requests, owners, finished = [], [], []
            for trace in live:
                request = method.next_request(trace)
                if request is None:
                    finished.append(trace)
                else:
                    requests.append(request)
                    owners.append(trace)
            released: list[Trace] = []
            if requests:
                stats.rounds += 1
                unique, where = dedupe(requests) if sweep.share else (requests, list(range(len(requests))))
                results = engine.generate(unique)
                for trace, request, i in zip(owners, requests, where):
                    thinking = trace.phase == "thinking"
                    method.update(trace, results[i])
                    shadows = followers.get(id(trace))
                    if thinking and shadows:
                        still = [f for f in shadows if shadow_step(method, f, request, results[i])]
                        released += [f for f in shadows if f not in still]
                        if trace.phase != "thinking":  # cannot happen (see sharing.py); stay safe
                            released, still = released + still, []
                        followers[id(trace)] = still
            live = released
            for trace in owners:
                (finished if trace.phase == "done" else live).append(trace)
            if finished:
                store.append(_records(method, task, finished, grade_timeout))
                stats.finished += len(finished)
            if bar is not None:
                bar.update(len(finished))
                bar.set_postfix(live=len(live), round=stats.rounds, tokens=engine.stats.decode_tokens)
    finally:
        if bar is not None:
            bar.close()
        stats.seconds = time.monotonic() - started
    return stats


def _records(method: Method, task: Task, traces: list[Trace], timeout: float) -> list[dict[str, Any]]:
    fields = [method.record_fields(t) for t in traces]
    if task.grader is not None:  # the task grades its own way (e.g. an lm-eval task's metric)
        grades = task.grader([(t.problem, f["answer_text"]) for t, f in zip(traces, fields)])
    else:
        grades = grade_many(
            [(t.problem.gold, f["answer_text"]) for t, f in zip(traces, fields)], task.answer_kind, timeout=timeout
        )
    records = []
    for trace, extra, grade in zip(traces, fields, grades):
        record = {
            "task": task.name,
            "problem_id": trace.problem.id,
            "method": method.name,
            "budget": trace.budget,
            "waits": trace.waits,
            "sample": trace.sample,
            "seed": trace.seed,
            **extra,
            "extracted": grade.extracted,
            "gold": trace.problem.gold,
            "correct": bool(grade.correct),
            "grade_note": grade.reason,
            "metadata": trace.problem.metadata,
        }
        records.append(record)
    return records


def _progress(total: int, task: str, method: str, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{task} {method}", unit="sample", file=sys.stderr, dynamic_ncols=True)
