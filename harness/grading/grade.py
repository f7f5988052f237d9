"""Grading a response against a gold answer: ``math``, ``integer`` (AIME) and ``choice``.

* ``math``: ``extract_answer`` then MATH-style equivalence (``equivalence.compare``).
* ``integer``: ``extract_answer``, then both sides read as integers: ``025``, ``25``,
  ``25.0``, ``\\text{25}``, ``25 \\text{ apples}``, ``m+n = 25`` all give 25; a prediction
  that is not an integer (``25.5``, ``\\sqrt{2}``) is wrong with reason ``not_integer``.
* ``choice``: ``extract_choice`` then letter equality; the gold may be ``B`` or ``(B)``.

An answer that cannot be extracted is wrong with ``reason="unextractable"`` and
``extracted=None``. Every comparison (math and integer kinds) runs in the bounded worker
pool (``pool.py``): one that overruns ``timeout`` seconds is wrong with
``reason="timeout"``; a worker error gives ``reason="error: ..."``. Choice grading is
regular-expression work that is linear in the text and runs in the calling process.
Responses longer than ``MAX_RESPONSE_CHARS`` (after ``</think>``) are cut to their tail
before grading: the final answer is at the end.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Literal

from .choice import VALID_LETTERS, extract_choice
from .equivalence import MAX_ANSWER_CHARS, compare
from .extract import after_thinking, extract_answer
from .normalize import normalize, split_top_level
from .numeric import NotNumeric, TooLarge, exact_value
from .pool import get_pool

__all__ = ["Grade", "Kind", "grade", "grade_many", "grade_unbounded", "math_equal"]

Kind = Literal["math", "integer", "choice"]
KINDS: tuple[str, ...] = ("math", "integer", "choice")
MAX_RESPONSE_CHARS = 200_000


@dataclass(frozen=True)
class Grade:
    """Verdict on one response: what was extracted, whether it is right, and why not."""

    extracted: str | None
    correct: bool
    reason: str | None = None


def _check_args(kind: str, timeout: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown grading kind {kind!r}; expected one of {KINDS}")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")


def _cap(text: str) -> str:
    text = after_thinking(text)
    return text[-MAX_RESPONSE_CHARS:] if len(text) > MAX_RESPONSE_CHARS else text


def as_integer(answer: str) -> int | None:
    """The integer an answer denotes (``025``, ``25.0``, ``\\text{25}``, ``n = 25``), or None."""
    parts = split_top_level(normalize(answer).text, "=")
    if any(len(split_top_level(p)) > 1 for p in parts[:-1]):
        return None  # "x = 5, y = 3": a list, not an integer
    text = parts[-1]
    try:
        value = exact_value(text)
    except (NotNumeric, TooLarge, RecursionError, ValueError, ZeroDivisionError):
        return None
    return int(value) if value.denominator == 1 else None


def _gold_letter(gold: str) -> str:
    letter = gold.strip().strip("()").strip().upper()
    if len(letter) != 1 or letter not in VALID_LETTERS:
        raise ValueError(f"choice gold must be a letter A-D, got {gold!r}")
    return letter


def _gold_integer(gold: str) -> int:
    value = as_integer(gold)
    if value is None:
        raise ValueError(f"integer gold must be an integer, got {gold!r}")
    return value


def _extract(text: str, kind: str) -> str | None:
    return extract_choice(text) if kind == "choice" else extract_answer(text)


def grade_unbounded(gold: str, response_text: str, kind: str) -> Grade:
    """Grade in the calling process, without a time bound (worker side; tests)."""
    _check_args(kind, 1.0)
    text = _cap(response_text)
    extracted = _extract(text, kind)
    if extracted is None:
        return Grade(None, False, "unextractable")
    if kind == "choice":
        return Grade(extracted, extracted == _gold_letter(gold))
    if kind == "integer":
        pred = as_integer(extracted) if len(extracted) <= MAX_ANSWER_CHARS else None
        if pred is None:
            return Grade(extracted, False, "not_integer")
        return Grade(extracted, pred == _gold_integer(gold))
    equal, reason = compare(gold, extracted)
    return Grade(extracted, equal, reason)


def _failed(gold: str, text: str, kind: str, reason: str) -> Grade:
    try:
        extracted = _extract(text, kind)
    except Exception:  # noqa: BLE001  (best effort, for the record only)
        extracted = None
    return Grade(extracted, False, reason)


def grade(gold: str, response_text: str, kind: Kind, timeout: float = 5.0) -> Grade:
    """Grade one response; the comparison is bounded by ``timeout`` seconds (wall clock)."""
    _check_args(kind, timeout)
    if not isinstance(gold, str) or not isinstance(response_text, str):
        raise TypeError("gold and response_text must be str")
    if kind == "choice":
        return grade_unbounded(gold, response_text, kind)
    if kind == "integer":
        _gold_integer(gold)  # bad gold is a data error: raise here, not in a worker
    text = _cap(response_text)
    outcome = get_pool().run("grade", [gold, text, kind], timeout)
    if outcome.status == "ok":
        extracted, correct, reason = outcome.result
        return Grade(extracted, bool(correct), reason)
    if outcome.status == "timeout":
        return _failed(gold, text, kind, "timeout")
    return _failed(gold, text, kind, f"error: {outcome.error or outcome.status}")


def grade_many(
    items: Iterable[tuple[str, str]],
    kind: Kind,
    timeout: float = 5.0,
    workers: int | None = None,
) -> list[Grade]:
    """Grade ``(gold, response_text)`` pairs in parallel worker processes, in order.

    ``workers`` defaults to the number of CPUs; each comparison is bounded by ``timeout``.
    """
    _check_args(kind, timeout)
    pairs = list(items)
    if not pairs:
        return []
    # A grade depends only on (gold, extracted answer): samples that extract the same answer
    # (common: 64 samples of one problem) are compared once. Extraction is linear-time text work.
    first: dict[tuple, int] = {}
    slot = []
    for i, (gold, text) in enumerate(pairs):
        try:
            key = (gold, _extract(_cap(text), kind))
        except Exception:  # noqa: BLE001  (let grade() report it, per response)
            key = (gold, None, i)
        slot.append(first.setdefault(key, i))
    unique = sorted(set(slot))
    n = max(1, min(workers or os.cpu_count() or 1, len(unique)))
    if kind != "choice":
        get_pool(n)
    with ThreadPoolExecutor(max_workers=n) as ex:
        graded = dict(zip(unique, ex.map(lambda i: grade(pairs[i][0], pairs[i][1], kind, timeout), unique)))
    return [graded[j] for j in slot]


def math_equal(gold: str, pred: str, timeout: float = 5.0) -> bool:
    """Whether two final answers are MATH-equivalent, bounded by ``timeout`` seconds.

    See ``equivalence.py`` for the conventions. A timeout or a worker failure is False.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    if not isinstance(gold, str) or not isinstance(pred, str):
        return False
    if gold.strip() == pred.strip():
        return bool(gold.strip())
    if len(gold) > MAX_ANSWER_CHARS or len(pred) > MAX_ANSWER_CHARS:
        return False
    outcome = get_pool().run("equal", [gold, pred], timeout)
    return outcome.status == "ok" and bool(outcome.result[0])
