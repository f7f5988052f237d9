#!/usr/bin/env python
"""Agreement of budgetbench's grader, and of plain math-verify, with every labelled table.

    python scripts/grading_agreement.py [--grading-dir ../shared/grading] [--show]

Tables are read by their shape, from ``--grading-dir`` (``../shared/grading``) and from the
project's own ``tests/unit/grading/cases``:

* answers ``{gold, pred, equal}``: ``math_equal(gold, pred)``; math-verify is
  ``verify(parse("\\boxed{gold}"), parse("\\boxed{pred}"))`` with its defaults.
* responses ``{kind, gold, response, correct}``: budgetbench's ``grade_many`` (extraction, then
  comparison); math-verify is ``verify(parse("$gold$"), parse(response))`` with its default
  extraction (it finds the answer in the whole response itself).
* choice ``{response, extracted}``: ``extract_choice``; math-verify has no multiple-choice
  extractor (n/a).
* boxed ``{response, expected_boxed}``: ``extract_boxed``; math-verify agrees when
  ``parse(response)`` verifies against ``parse("\\boxed{expected}")`` (or is empty when nothing
  is expected).

Labelled data is trusted input: math-verify runs in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from budgetbench.grading import extract_boxed, extract_choice, grade_many, math_equal

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "tests" / "unit" / "grading" / "cases"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mv(gold: str, response: str) -> bool:
    from math_verify import parse, verify

    try:
        return bool(verify(parse(gold), parse(response)))
    except Exception:  # noqa: BLE001  (a math-verify failure is a non-match)
        return False


def answers(rows: list[dict], baseline: bool) -> tuple[list, int | None]:
    ours = [math_equal(r["gold"], r["pred"]) for r in rows]
    mv = sum(_mv("\\boxed{" + r["gold"] + "}", "\\boxed{" + r["pred"] + "}") == r["equal"] for r in rows)
    return [(v == r["equal"], r, v) for v, r in zip(ours, rows)], mv if baseline else None


def responses(rows: list[dict], baseline: bool) -> tuple[list, int | None]:
    out = []
    for kind in sorted({r["kind"] for r in rows}):
        part = [r for r in rows if r["kind"] == kind]
        grades = grade_many([(r["gold"], r["response"]) for r in part], kind)
        out += [(g.correct == r["correct"], r, f"{g.extracted!r} ({g.reason})") for r, g in zip(part, grades)]
    mv = sum(_mv("$" + r["gold"] + "$", r["response"]) == r["correct"] for r in rows)
    return out, mv if baseline else None


def choices(rows: list[dict], baseline: bool) -> tuple[list, int | None]:
    return [((got := extract_choice(r["response"])) == r["extracted"], r, got) for r in rows], None


def boxed(rows: list[dict], baseline: bool) -> tuple[list, int | None]:
    mv = 0
    for r in rows:
        if r["expected_boxed"] is None:
            from math_verify import parse

            mv += not parse(r["response"])
        else:
            mv += _mv("\\boxed{" + r["expected_boxed"] + "}", r["response"])
    return [((got := extract_boxed(r["response"])) == r["expected_boxed"], r, got) for r in rows], mv


def _shape(row: dict):
    if "pred" in row:
        return answers
    if "correct" in row and "kind" in row:
        return responses
    if "expected_boxed" in row:
        return boxed
    if "extracted" in row:
        return choices
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grading-dir", type=Path, default=ROOT.parent / "shared" / "grading")
    ap.add_argument("--show", action="store_true", help="list budgetbench's disagreements")
    ap.add_argument("--no-baseline", action="store_true", help="skip the math-verify baseline")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    tables = sorted(args.grading_dir.glob("*.jsonl")) if args.grading_dir.is_dir() else []
    if not tables:
        print(f"no tables in {args.grading_dir} (shared/ goes beside the repository); own tables only",
              file=sys.stderr)
    totals = [0, 0, 0, 0, 0]  # ours, math-verify, cases where math-verify applies, all cases, ours there
    for path in [*tables, *sorted(OWN.glob("*.jsonl"))]:
        rows = _rows(path)
        score = _shape(rows[0]) if rows else None
        if score is None:
            continue
        results, mv = score(rows, not args.no_baseline)
        ours = sum(ok for ok, _, _ in results)
        shown = "n/a" if mv is None and score is choices else ("skipped" if mv is None else f"{mv}/{len(rows)}")
        print(f"{path.parent.name}/{path.name}: budgetbench {ours}/{len(rows)}, math-verify {shown}")
        totals[0] += ours
        totals[3] += len(rows)
        if mv is not None:
            totals[1] += mv
            totals[2] += len(rows)
            totals[4] += ours
        if args.show:
            for ok, r, got in results:
                if not ok:
                    print(f"  got {got}: {r.get('id', '')} {r.get('note', '')}")
    print(f"all tables: budgetbench {totals[0]}/{totals[3]}; where math-verify applies: budgetbench "
          f"{totals[4]}/{totals[2]}, math-verify {totals[1]}/{totals[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
