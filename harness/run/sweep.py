"""The runner: expands a sweep into traces, drives them through the pipeline, writes records.

Traces start problem by problem (``plan`` is problem-major) and go through ``budgetbench.run.pipeline``:
each advances as soon as its own request returns, so the engine's batch stays full. A finished
trace is handed to the ``RecordWriter``, a thread that grades and appends records while
generation goes on (the grading pool is started before the first request). Each record is
written to the file as soon as it is graded and fsync'ed at least every second (``store``), so a killed run
loses only the samples still in flight.

Failed samples (a request the engine could not complete: ``Trace.error``) are records too, but
an engine that fails every request must not fill a file with them. ``FailureGuard`` holds failed
samples back until a sample succeeds; the run stops (EngineError, a resumable stop) with the
first reason once the held ones span ``FAILED_PROBLEMS`` problems, or at the end when nothing
succeeded in this run nor before it. Held samples are then not written: a rerun tries them again.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from budgetbench.engines.base import Engine, EngineError
from budgetbench.budgets import Budget
from budgetbench.methods.base import Method, Trace, run_key, sample_seed
from budgetbench.run.pipeline import Job, Pipeline, jobs_by_problem
from budgetbench.run.records import graded_records, prompt_rows
from budgetbench.results.store import ResultStore
from budgetbench.tasks import Task
from budgetbench.types import Problem

WRITE_BATCH = 256  # records graded and written together at most
FAILED_PROBLEMS = 5  # failed samples of this many problems with no success among them stop the run


@dataclass(frozen=True)
class Sweep:
    """What to run: every problem at every budget and wait count, ``samples`` times each."""

    budgets: tuple[Budget, ...]
    waits: tuple[int, ...] = (0,)
    samples: int = 1
    seed: int = 0
    share: bool = True  # nested budgets share their thinking (budgetbench.run.sharing); False: --no-share
    chunk: bool = True  # followers leave at their caps, not when the leader ends (budgetbench.run.pipeline)


@dataclass
class RunStats:
    skipped: int = 0
    finished: int = 0
    failed: int = 0  # of the finished: failed samples (recorded with their error)
    requests: int = 0  # engine submissions (a chunk of a request counts)
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
    observer: Any = None,
) -> RunStats:
    """Run what of ``sweep`` is not in ``done``; records go to ``store`` as traces finish.

    ``observer`` (benchmarks): ``submitted(ticket, request)`` for every engine submission and
    ``finished(ticket, job)`` for every finished trace, with the ticket whose result ended it."""
    stats = RunStats()
    todo = plan(problems, sweep, done)
    stats.skipped = len(problems) * len(sweep.budgets) * len(sweep.waits) * sweep.samples - len(todo)
    started = time.monotonic()
    bar = _progress(len(todo), task.name, method.name, enabled=progress)
    writer = RecordWriter(method, task, store, grade_timeout, bar, engine)
    guard = FailureGuard(succeeded_before=bool(done))
    traces = (method.start(problem, budget, waits, sample, sample_seed(sweep.seed, problem.id, sample))
              for problem, budget, waits, sample in todo)

    def on_submit(ticket: Any, request: Any) -> None:
        stats.requests += 1
        if observer is not None:
            observer.submitted(ticket, request)

    def on_done(job: Job) -> None:
        if observer is not None:
            observer.finished(pipeline.landing, job)
        for ready in guard.finished(job):
            writer.put(ready)

    pipeline = Pipeline(engine, on_done=on_done, share=sweep.share, chunk=sweep.chunk,
                        on_submit=on_submit, after_collect=writer.check)
    try:
        if todo:
            pipeline.run(jobs_by_problem(method, traces, sweep.share))
        for ready in guard.end():
            writer.put(ready)
    finally:
        try:
            writer.close()
        finally:
            stats.finished, stats.failed = writer.written, writer.failed
            if bar is not None:
                bar.close()
            stats.seconds = time.monotonic() - started
    return stats


class FailureGuard:
    """Failed samples are written only once a sample has succeeded since them (see the module docstring)."""

    def __init__(self, succeeded_before: bool = False, problems: int = FAILED_PROBLEMS):
        self.succeeded, self.problems = succeeded_before, problems
        self.held: list[Job] = []  # failed since the last success

    def finished(self, job: Job) -> list[Job]:
        """The jobs to write now that ``job`` has finished (raises when the engine fails everything)."""
        if job.trace.error is None:
            held, self.held, self.succeeded = self.held, [], True
            return [*held, job]
        self.held.append(job)
        count = len({j.trace.problem.id for j in self.held})
        if count >= self.problems:
            raise EngineError(f"the samples of {count} problems in a row failed, none succeeded in between "
                              f"({self.held[0].trace.error}); they are not recorded: fix the server or settings")
        return []

    def end(self) -> list[Job]:
        """The failed jobs still held, once the run has finished."""
        held, self.held = self.held, []
        if held and not self.succeeded:
            raise EngineError(f"every sample of this run failed ({held[0].trace.error}); none is recorded: "
                              "fix the server or settings")
        return held


class RecordWriter:
    """Grades finished traces and appends their records, in a thread of its own.

    ``put`` is called by the pipeline with a finished trace, which nothing changes any more; the
    thread builds its record (decoding its text), grades whatever has finished and appends it. An error in the thread (a full disk) is
    raised in the caller by ``check`` or ``close``, so the run stops with the usual resume hint.
    """

    def __init__(self, method: Method, task: Task, store: ResultStore, grade_timeout: float, bar: Any,
                 engine: Any = None):
        self.method, self.task, self.store, self.timeout, self.bar = method, task, store, grade_timeout, bar
        self.engine = engine
        self.written = 0
        self.failed = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="bench-records", daemon=True)
        self._thread.start()

    def put(self, job: Job) -> None:
        self.check()
        self._queue.put((job.method, job.trace))

    def check(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self.check()

    def _loop(self) -> None:
        try:
            self._warm_up()
            for batch in self._batches():
                records = graded_records(self.task, batch, self.timeout)
                self.store.append_prompts(prompt_rows(batch, self.store.prompt_keys))  # before their records
                self.store.append(records)
                self.written += len(batch)
                self.failed += sum(trace.error is not None for _, trace in batch)
                self._show(len(batch))
        except BaseException as exc:  # noqa: BLE001  (handed to the caller)
            self.error = exc
            while self._queue.get() is not None:  # let put() and close() return
                pass

    def _batches(self) -> Iterator[list[tuple[Method, Trace]]]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < WRITE_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def _warm_up(self) -> None:
        warm_up_grading(self.task)

    def _show(self, n: int) -> None:
        if self.bar is None:
            return
        self.bar.update(n)
        elapsed = max(1e-9, time.monotonic() - self._started)
        self.bar.set_postfix_str(f"{self.engine.stats.decode_tokens / elapsed:,.0f} tok/s", refresh=False)


def warm_up_grading(task: Task) -> None:
    """Start the grading workers (their imports take seconds), so the first records do not wait
    for them. ``bench run`` calls it before loading the model; the writer calls it again."""
    if task.grader is None and task.answer_kind != "choice":
        import os

        from budgetbench.grading.pool import get_pool

        get_pool(os.cpu_count() or 2)


def _progress(total: int, task: str, method: str, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{task} {method}", unit="sample", file=sys.stderr, dynamic_ncols=True)
