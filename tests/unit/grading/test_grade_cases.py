"""Regression tables for grading, read at test time from ``shared/grading`` beside the repo.

The data files are never copied into the repository; without them these tests skip.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from budgetbench.grading import extract_boxed, extract_choice, math_equal
from tests.helpers.cli import SHARED

GRADING_DIR = SHARED / "grading"
# math-verify 0.9.0 agrees with 330 of the 339 labels; budgetbench must do at least as well.
MIN_MATH_AGREEMENT = 330


def _rows(name: str) -> list[dict]:
    path = GRADING_DIR / name
    if not path.is_file():
        pytest.skip(f"grading regression data not found at {path} (shared/ goes beside the repository)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_math_cases_agreement() -> None:
    rows = _rows("math-cases-dev.jsonl")
    with ThreadPoolExecutor(max_workers=4) as ex:  # math_equal is thread-safe
        verdicts = list(ex.map(lambda r: math_equal(r["gold"], r["pred"], timeout=5.0), rows))
    disagreements = [(r, v) for r, v in zip(rows, verdicts) if v != r["equal"]]
    for r, v in disagreements:
        print(f"DISAGREE label={r['equal']} got={v}: {r['gold']!r} vs {r['pred']!r} ({r['note']})")
    agreement = len(rows) - len(disagreements)
    print(f"math: budgetbench {agreement}/{len(rows)}")
    assert agreement >= MIN_MATH_AGREEMENT


def test_choice_cases() -> None:
    rows = _rows("choice-cases-dev.jsonl")
    failures = [(r["note"], r["extracted"], extract_choice(r["response"])) for r in rows]
    failures = [f for f in failures if f[1] != f[2]]
    assert not failures, failures


def test_boxed_cases() -> None:
    rows = _rows("boxed-cases-dev.jsonl")
    failures = [(r["note"], r["expected_boxed"], extract_boxed(r["response"])) for r in rows]
    failures = [f for f in failures if f[1] != f[2]]
    assert not failures, failures
