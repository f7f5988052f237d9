#!/usr/bin/env python
"""Agreement of budgetbench's grader, and of plain math-verify, with the labelled dev cases.

    python scripts/grading_agreement.py [--grading-dir ../shared/grading] [--show]

* math:   ``math_equal(gold, pred)`` vs the ``equal`` labels; math-verify baseline is
          ``verify(parse("\\boxed{gold}"), parse("\\boxed{pred}"))`` with its defaults (how the
          dev file's README measured it; trusted label data, run in this process).
* choice: ``extract_choice(response)`` vs ``extracted``; math-verify has no multiple-choice
          extractor (n/a).
* boxed:  ``extract_boxed(response)`` vs ``expected_boxed``; for math-verify, which parses
          rather than extracts strings, a case agrees when ``parse(response)`` verifies
          against ``parse("\\boxed{expected}")`` (or is empty when nothing is expected).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from budgetbench.grading import extract_boxed, extract_choice, math_equal  # noqa: E402


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mv_math(rows: list[dict]) -> int:
    from math_verify import parse, verify

    def box(s: str) -> str:
        return "\\boxed{" + s + "}"

    return sum(verify(parse(box(r["gold"])), parse(box(r["pred"]))) == r["equal"] for r in rows)


def _mv_boxed(rows: list[dict]) -> int:
    from math_verify import parse, verify

    agree = 0
    for r in rows:
        got = parse(r["response"])
        if r["expected_boxed"] is None:
            agree += not got
        else:
            agree += bool(got) and verify(parse("\\boxed{" + r["expected_boxed"] + "}"), got)
    return agree


def _show_misses(got: list, rows: list[dict], label: str, describe) -> None:
    """Print the cases where the grader disagrees with the label ``rows[i][label]``."""
    for g, r in zip(got, rows):
        if g != r[label]:
            print(f"  expected {r[label]!r} got {g!r}: {describe(r)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grading-dir", type=Path, default=ROOT.parent / "shared" / "grading")
    ap.add_argument("--show", action="store_true", help="list budgetbench's disagreements")
    ap.add_argument("--no-baseline", action="store_true", help="skip the math-verify baseline")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    d: Path = args.grading_dir
    if not d.is_dir():
        print(f"grading dir not found: {d}", file=sys.stderr)
        return 2

    math_rows = _rows(d / "math-cases-dev.jsonl")
    ours = [math_equal(r["gold"], r["pred"]) for r in math_rows]
    math_ok = sum(v == r["equal"] for v, r in zip(ours, math_rows))
    mv = "skipped" if args.no_baseline else f"{_mv_math(math_rows)}/{len(math_rows)}"
    print(f"math: budgetbench {math_ok}/{len(math_rows)}, math-verify {mv}")
    if args.show:
        _show_misses(ours, math_rows, "equal", lambda r: f"{r['gold']!r} vs {r['pred']!r} ({r['note']})")

    choice_rows = _rows(d / "choice-cases-dev.jsonl")
    got_choice = [extract_choice(r["response"]) for r in choice_rows]
    choice_ok = sum(g == r["extracted"] for g, r in zip(got_choice, choice_rows))
    print(f"choice: budgetbench {choice_ok}/{len(choice_rows)}, math-verify n/a")
    if args.show:
        _show_misses(got_choice, choice_rows, "extracted", lambda r: r["note"])

    boxed_rows = _rows(d / "boxed-cases-dev.jsonl")
    got_boxed = [extract_boxed(r["response"]) for r in boxed_rows]
    boxed_ok = sum(g == r["expected_boxed"] for g, r in zip(got_boxed, boxed_rows))
    mv = "skipped" if args.no_baseline else f"{_mv_boxed(boxed_rows)}/{len(boxed_rows)} (parsed value)"
    print(f"boxed: budgetbench {boxed_ok}/{len(boxed_rows)}, math-verify {mv}")
    if args.show:
        _show_misses(got_boxed, boxed_rows, "expected_boxed", lambda r: r["note"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
