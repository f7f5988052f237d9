"""A small pool of grading worker processes that bounds every task in wall-clock time.

Why processes: sympy can hang or eat memory on hostile input (``9^{9^{9^{9}}}``), and a
Python thread cannot be interrupted; math-verify's own timeout uses ``SIGALRM``, which only
works in the main thread. Here each task runs in a separate worker process; the caller waits
on the worker's pipe with a deadline (``select``), and a worker that overruns is killed and
replaced. This works from any thread, and from inside daemonic processes (e.g. a
``multiprocessing.Pool`` worker), because workers are started with ``subprocess`` rather
than ``multiprocessing``: they are fresh interpreters (no fork of a threaded parent, no
re-import of ``__main__``).

Protocol: one JSON object per line. The worker announces ``{"ready": true}`` once its
imports are done (start-up time is not charged to any task), then answers each request
``{"op": ..., "args": [...]}`` with ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error": ...}``. Replacements for killed workers are started at once, so they warm up while
other tasks run.

The pool is thread-safe; ``get_pool()`` returns a process-wide instance (re-created after a
fork) that is shut down at exit.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "WorkerPool", "get_pool", "shutdown"]

STARTUP_TIMEOUT_S = 120.0
_PACKAGE = Path(__file__).resolve().parents[1]  # the budgetbench package folder (harness/)
# The workers import the very package folder the parent runs from, installed or not.
_BOOT = (
    "import importlib.util, sys; "
    "spec = importlib.util.spec_from_file_location('budgetbench', {init!r}, submodule_search_locations=[{pkg!r}]); "
    "m = importlib.util.module_from_spec(spec); sys.modules['budgetbench'] = m; spec.loader.exec_module(m); "
    "from budgetbench.grading.worker import main; main()"
)


@dataclass(frozen=True)
class Outcome:
    """How a task ended: ``status`` is 'ok', 'timeout', 'error' or 'crash'."""

    status: str
    result: Any = None
    error: str | None = None


class WorkerStartError(RuntimeError):
    """A worker process could not be started (broken environment, not bad input)."""


class _Worker:
    """One worker process and its line-buffered pipe."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT.format(init=str(_PACKAGE / "__init__.py"), pkg=str(_PACKAGE))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            close_fds=True,
        )
        self._buf = b""
        self.ready = False

    def _read_line(self, deadline: float) -> bytes | None:
        """Next line from the worker, None on timeout; raises EOFError if it died."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError("worker exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            line = self._read_line(time.monotonic() + STARTUP_TIMEOUT_S)
        except EOFError:
            line = None
        try:
            ready = line is not None and json.loads(line).get("ready") is True
        except ValueError:
            ready = False
        if not ready:
            self.kill()
            raise WorkerStartError("grading worker failed to start (see stderr)")
        self.ready = True

    def call(self, op: str, args: list[Any], timeout: float) -> Outcome:
        assert self.proc.stdin is not None
        payload = json.dumps({"op": op, "args": args}).encode() + b"\n"
        deadline = time.monotonic() + timeout
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()
            line = self._read_line(deadline)
        except (EOFError, BrokenPipeError, OSError):
            return Outcome("crash", error="worker died")
        if line is None:
            return Outcome("timeout")
        try:
            reply = json.loads(line)
        except ValueError:
            return Outcome("crash", error="garbled reply")
        if reply.get("ok"):
            return Outcome("ok", result=reply.get("result"))
        return Outcome("error", error=str(reply.get("error")))

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class WorkerPool:
    """Up to ``max_workers`` persistent workers; ``run`` bounds each task by ``timeout``."""

    def __init__(self, max_workers: int = 2) -> None:
        self.max_workers = max(1, max_workers)
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self.pid = os.getpid()

    def ensure_capacity(self, n: int) -> None:
        """Allow at least ``n`` concurrent workers."""
        with self._cond:
            if n > self.max_workers:
                self.max_workers = n
                self._cond.notify_all()

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("grading pool is shut down")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return _Worker()
        except Exception:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:
            worker.kill()
            try:
                worker = _Worker()  # warm up a replacement right away
            except Exception:
                with self._cond:
                    self._count -= 1
                    self._cond.notify()
                return
        with self._cond:
            if self._closed:
                worker.kill()
                return
            self._idle.append(worker)
            self._cond.notify()

    def run(self, op: str, args: list[Any], timeout: float) -> Outcome:
        """Run ``op(*args)`` in a worker; kill it if it takes longer than ``timeout`` s."""
        worker = self._acquire()
        try:
            worker.wait_ready()
        except WorkerStartError:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        outcome = Outcome("crash", error="interrupted")
        try:
            outcome = worker.call(op, args, timeout)
        finally:
            self._release(worker, healthy=outcome.status in ("ok", "error"))
        return outcome

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(min_workers: int = 2) -> WorkerPool:
    """The process-wide pool, with room for at least ``min_workers`` concurrent tasks."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():  # none yet, or inherited via fork
            _POOL = WorkerPool(max(2, min_workers))
        pool = _POOL
    pool.ensure_capacity(min_workers)
    return pool


def shutdown() -> None:
    """Stop the process-wide pool's workers (a later call starts a fresh pool)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


atexit.register(shutdown)
