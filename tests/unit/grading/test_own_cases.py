"""budgetbench's own labelled tables (``cases/``): whole responses, choice responses, bare answers.

The labels were written by reading each case, not by running a grader. Each table pins the
agreement reached when it was written; a change may move individual cases, never the count down.
``scripts/grading_agreement.py`` prints the same tables next to math-verify's agreement.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from budgetbench.grading import extract_choice, grade_many, math_equal

CASES = Path(__file__).with_name("cases")
MIN_AGREEMENT = {"math_responses": 108, "choice_responses": 58, "math_answers": 74}


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (CASES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def report(name: str, misses: list[str], total: int) -> None:
    for miss in misses:
        print(f"{name} MISS {miss}")
    agreement = total - len(misses)
    print(f"{name}: {agreement}/{total}")
    assert agreement >= MIN_AGREEMENT[name], misses


def test_whole_math_responses():
    table = rows("math_responses")
    misses = []
    for kind in ("math", "integer"):
        part = [r for r in table if r["kind"] == kind]
        for r, g in zip(part, grade_many([(r["gold"], r["response"]) for r in part], kind, timeout=5.0)):
            if g.correct != r["correct"]:
                misses.append(f"{r['id']} expected {r['correct']} got {g.extracted!r} ({g.reason}): {r['note']}")
    assert len(table) >= 100
    report("math_responses", misses, len(table))


def test_choice_responses():
    table = rows("choice_responses")
    misses = [f"{r['id']} expected {r['extracted']!r} got {got!r}: {r['note']}"
              for r in table if (got := extract_choice(r["response"])) != r["extracted"]]
    report("choice_responses", misses, len(table))


def test_bare_answers():
    table = rows("math_answers")
    with ThreadPoolExecutor(max_workers=4) as ex:
        verdicts = list(ex.map(lambda r: math_equal(r["gold"], r["pred"], timeout=5.0), table))
    misses = [f"{r['id']} expected {r['equal']}: {r['gold']!r} vs {r['pred']!r} ({r['note']})"
              for r, v in zip(table, verdicts) if v != r["equal"]]
    report("math_answers", misses, len(table))


def test_every_table_is_well_formed():
    keys = {"math_responses": {"id", "kind", "gold", "response", "correct", "note"},
            "choice_responses": {"id", "response", "gold_letter", "extracted", "note"},
            "math_answers": {"id", "gold", "pred", "equal", "note"}}
    total = 0
    for name, expected in keys.items():
        table = rows(name)
        total += len(table)
        assert all(set(r) == expected for r in table), name
        assert len({r["id"] for r in table}) == len(table), f"{name}: duplicate ids"
    assert total >= 150
