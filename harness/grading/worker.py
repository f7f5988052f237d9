"""Entry point of a grading worker process (started by ``pool.py``; not for direct use).

The worker reads one JSON request per line on stdin and writes one JSON reply per line on a
private copy of the original stdout; file descriptor 1 itself is redirected to stderr so
that a stray ``print`` in a library cannot corrupt the protocol. Its address space is
capped (``MEMORY_LIMIT_BYTES``) so a runaway computation fails with ``MemoryError`` rather
than exhausting the machine; the parent kills it on overrun anyway.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Callable

MEMORY_LIMIT_BYTES = 4 << 30


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT_BYTES if hard == resource.RLIM_INFINITY else min(hard, MEMORY_LIMIT_BYTES)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _tasks() -> dict[str, Callable[..., Any]]:
    from .equivalence import compare
    from .grade import extract, grade_unbounded, judge
    from .mvsafe import install_guards

    install_guards()

    def equal(gold: str, pred: str) -> list[Any]:
        return list(compare(gold, pred))

    def grade(gold: str, text: str, kind: str) -> list[Any]:
        g = grade_unbounded(gold, text, kind)
        return [g.extracted, g.correct, g.reason]

    def extract_many(texts: list[str], kind: str) -> list[list[Any]]:
        return [list(extract(text, kind)) for text in texts]

    return {"equal": equal, "grade": grade, "ping": lambda: "pong",
            "extract": lambda text, kind: list(extract(text, kind)), "extract_many": extract_many,
            "judge": lambda gold, extracted, kind: list(judge(gold, extracted, kind))}


def main() -> None:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    logging.disable(logging.WARNING)
    _limit_memory()
    try:
        tasks = _tasks()
        import math_verify  # noqa: F401  (warm the heavy imports before announcing)

        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        for raw in sys.stdin.buffer:
            try:
                req = json.loads(raw)
                reply = {"ok": True, "result": tasks[req["op"]](*req["args"])}
            except MemoryError:
                reply = {"ok": False, "error": "MemoryError"}
            except RecursionError:
                reply = {"ok": False, "error": "RecursionError"}
            except Exception as exc:  # noqa: BLE001  (any failure is reported, not fatal)
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        pass


if __name__ == "__main__":
    main()
