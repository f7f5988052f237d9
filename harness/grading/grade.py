"""Grading a response against a gold answer: ``math``, ``integer`` (AIME) and ``choice``.

* ``math``: ``find_final_answer`` (``final_answer.py``: which rule fired goes into the note) then
  MATH-style equivalence (``equivalence.compare``).
* ``integer``: the same extraction, then both sides read as integers: ``025``, ``25``,
  ``25.0``, ``\\text{25}``, ``25 \\text{ apples}``, ``m+n = 25`` all give 25; a prediction
  that is not an integer (``25.5``, ``\\sqrt{2}``) is wrong with reason ``not_integer``.
* ``choice``: ``extract_choice`` then letter equality; the gold may be ``B`` or ``(B)``.

``Grade.reason`` (the record's ``grade_note``) names the extraction rule, then what decided the
verdict: ``box; too_long``, ``final line``, ``unextractable``. Extraction and comparison both run
in the bounded worker pool (``pool.py``), so every call returns within its ``timeout`` plus a
small constant: work that overruns is wrong with ``timeout`` in its note; a worker error gives
``error: ...``. Extraction is linear in the text besides.
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
from .extract import after_thinking
from .final_answer import find_final_answer
from .normalize import normalize, split_top_level
from .numeric import NotNumeric, TooLarge, exact_value
from .pool import get_pool

__all__ = ["Grade", "Kind", "check_gold", "extract", "grade", "grade_many", "grade_unbounded", "judge", "math_equal"]

Kind = Literal["math", "integer", "choice"]
KINDS: tuple[str, ...] = ("math", "integer", "choice")
MAX_RESPONSE_CHARS = 200_000
EXTRACT_CHUNK = 64  # responses extracted per worker call in grade_many


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


def extract(text: str, kind: str) -> tuple[str | None, str | None]:
    """(answer, rule) of a capped response: the choice letter, or the math final answer."""
    if kind == "choice":
        letter = extract_choice(text)
        return letter, ("choice" if letter is not None else None)
    found = find_final_answer(text)
    return found.answer, found.rule


def judge(gold: str, extracted: str | None, kind: str) -> tuple[bool, str | None]:
    """(correct, reason) of an extracted answer against the gold (unbounded: worker side)."""
    if extracted is None:
        return False, "unextractable"
    if kind == "choice":
        return extracted == _gold_letter(gold), None
    if kind == "integer":
        pred = as_integer(extracted) if len(extracted) <= MAX_ANSWER_CHARS else None
        if pred is None:
            return False, "not_integer"
        return pred == _gold_integer(gold), None
    return compare(gold, extracted)


def _note(rule: str | None, reason: str | None) -> str | None:
    """The record's grade_note: which extraction rule fired, then why a verdict is what it is."""
    return "; ".join(part for part in (rule, reason) if part) or None


def grade_unbounded(gold: str, response_text: str, kind: str) -> Grade:
    """Grade in the calling process, without a time bound (worker side; tests)."""
    _check_args(kind, 1.0)
    extracted, rule = extract(_cap(response_text), kind)
    correct, reason = judge(gold, extracted, kind)
    return Grade(extracted, correct, _note(rule, reason))


def _bounded_extract(text: str, kind: str, timeout: float) -> tuple[str | None, str | None] | None:
    """``extract`` in a worker within ``timeout`` seconds; None if it did not finish."""
    outcome = get_pool().run("extract", [text, kind], timeout)
    return (outcome.result[0], outcome.result[1]) if outcome.status == "ok" else None


def check_gold(gold: str, kind: str) -> None:
    """A gold the kind cannot read is a data error: raised here, not reported per response."""
    if kind == "integer":
        _gold_integer(gold)
    elif kind == "choice":
        _gold_letter(gold)


def grade(gold: str, response_text: str, kind: Kind, timeout: float = 5.0) -> Grade:
    """Grade one response within ``timeout`` seconds plus a small constant (wall clock):
    extraction and comparison run in a worker that is killed when the time is up."""
    _check_args(kind, timeout)
    if not isinstance(gold, str) or not isinstance(response_text, str):
        raise TypeError("gold and response_text must be str")
    check_gold(gold, kind)
    text = _cap(response_text)
    outcome = get_pool().run("grade", [gold, text, kind], timeout)
    if outcome.status == "ok":
        extracted, correct, reason = outcome.result
        return Grade(extracted, bool(correct), reason)
    failure = "timeout" if outcome.status == "timeout" else f"error: {outcome.error or outcome.status}"
    found = _bounded_extract(text, kind, min(1.0, timeout))  # for the record: what was being judged
    extracted, rule = found if found is not None else (None, None)
    return Grade(extracted, False, _note(rule, failure))


def _judged(gold: str, extracted: str | None, rule: str | None, kind: str, timeout: float) -> Grade:
    if extracted is None:
        return Grade(None, False, _note(rule, "unextractable"))
    if kind == "choice":  # a letter comparison: no worker needed
        correct, reason = judge(gold, extracted, kind)
        return Grade(extracted, correct, _note(rule, reason))
    outcome = get_pool().run("judge", [gold, extracted, kind], timeout)
    if outcome.status == "ok":
        correct, reason = outcome.result
        return Grade(extracted, bool(correct), _note(rule, reason))
    failure = "timeout" if outcome.status == "timeout" else f"error: {outcome.error or outcome.status}"
    return Grade(extracted, False, _note(rule, failure))


def _extract_many(texts: list[str], kind: str, timeout: float, ex: ThreadPoolExecutor) -> list[tuple | None]:
    """Extraction of every text in workers: chunks of EXTRACT_CHUNK within ``timeout`` each;
    a chunk that overruns is redone text by text, each within ``timeout``."""
    chunks = [list(range(i, min(i + EXTRACT_CHUNK, len(texts)))) for i in range(0, len(texts), EXTRACT_CHUNK)]

    def run(chunk: list[int]) -> list[tuple | None]:
        outcome = get_pool().run("extract_many", [[texts[i] for i in chunk], kind], timeout)
        if outcome.status == "ok":
            return [tuple(r) for r in outcome.result]
        return [_bounded_extract(texts[i], kind, timeout) for i in chunk]

    return [found for part in ex.map(run, chunks) for found in part]


def grade_many(
    items: Iterable[tuple[str, str]],
    kind: Kind,
    timeout: float = 5.0,
    workers: int | None = None,
) -> list[Grade]:
    """Grade ``(gold, response_text)`` pairs in parallel worker processes, in order.

    ``workers`` defaults to the number of CPUs. Extraction and comparison both run in the
    workers, each bounded by ``timeout``. A grade depends only on (gold, extracted answer):
    samples that extract the same answer (common: 64 samples of one problem) are compared once.
    """
    _check_args(kind, timeout)
    pairs = list(items)
    if not pairs:
        return []
    for gold in {g for g, _ in pairs}:
        check_gold(gold, kind)
    n = max(1, min(workers or os.cpu_count() or 1, len(pairs)))
    get_pool(n)
    with ThreadPoolExecutor(max_workers=n) as ex:
        found = _extract_many([_cap(text) for _, text in pairs], kind, timeout, ex)
        first: dict[tuple, int] = {}
        slot = []
        for i, ((gold, _), f) in enumerate(zip(pairs, found)):
            key = (gold, *f) if f is not None else (gold, None, "timeout", i)
            slot.append(first.setdefault(key, i))
        unique = sorted(set(slot))

        def one(i: int) -> Grade:
            if found[i] is None:
                return Grade(None, False, "timeout")
            return _judged(pairs[i][0], found[i][0], found[i][1], kind, timeout)

        graded = dict(zip(unique, ex.map(one, unique)))
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
