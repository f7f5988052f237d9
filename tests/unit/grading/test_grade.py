"""Unit tests for budgetbench.grading: extraction, kinds, time bounds and hostile input.

No test here asserts a wall-clock time (the machine may be loaded): a time bound is checked by
its behaviour (the worker that overran was killed and replaced, the verdict says ``timeout``),
and pytest-timeout fails a test that hangs.
"""

from __future__ import annotations

import builtins
import threading
from pathlib import Path

import pytest

from budgetbench.grading import (
    Grade,
    extract_answer,
    extract_boxed,
    extract_choice,
    grade,
    grade_many,
    math_equal,
)

# Inputs that sympy cannot finish quickly and that the cheap pre-checks do not catch.
SLOW_PREDS = [r"\sqrt{2}^{10^{9}}", r"(x+1)^{100000}"]


# --- extraction ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        (r"so $\boxed{42}$.", "42"),
        (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}"),
        (r"first \boxed{1}, then \boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\fbox{7}", "7"),
        (r"\boxed{\boxed{5}}", r"\boxed{5}"),
        (r"The final answer is \boxed{\frac{1}{2}", None),
        (r"\boxed{3} and later \boxed{4", None),  # truncated last box: no answer
        ("no box here", None),
    ],
)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"Thus \boxed{x^{2}+1}.", "x^{2}+1"),
        (r"<think>maybe \boxed{3}</think>The result is \boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        ("Work...\nFinal Answer: $\\frac{3}{4}$.", r"\frac{3}{4}"),
        ("Work...\n**Final Answer:** 17", "17"),
        ("Work...\nanswer: **12**", "12"),
        ("Answer: 3\nMore checking.\nANSWER: 5.", "5"),
        ("Final answer:\n\n$x = 2$", "x = 2"),
        ("I could not solve it.", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{" * 10_000 + "x" * 1_000_000 + r" \boxed{" + "{" * 10_000,  # truncated huge box
        "Answer" + " " * 100_000 + "x",  # backtracking bait for the keyword patterns
        "answer" + " \t*_" * 50_000 + "!",
        "A" + " " * 100_000 + "iz",
        "\n".join(["Answer:"] * 50_000),
        r"\boxed{" * 100_000,
    ],
)
@pytest.mark.timeout(120)  # linear: about a second each here; a quadratic scan would hang and fail
def test_extract_is_linear_on_huge_text(text: str) -> None:
    assert (extract_boxed(text), extract_answer(text), extract_choice(text)) == (None, None, None)


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"\boxed{B}", "B"),
        ("Answer: (C)", "C"),
        ("**Answer:** b", "B"),
        ("The answer is: **D**", "D"),
        (r"\[\boxed{A: 3.40\ \text{eV}}\]", "A"),
        ("Option A is tempting, but the answer is (B). Options (C) and (D) fail.", "B"),
        ("Answer: A detailed look shows that the choice is C.", "C"),
        ("The answer is 42.", None),
        ("Answer: E", None),
        ("A mystery.", None),  # never default to a letter
    ],
)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text) == expected


# --- grading kinds ---------------------------------------------------------------------

def test_grade_math() -> None:
    assert grade(r"\frac{10}{9}", r"so \boxed{10/9}", "math") == Grade("10/9", True, "box")
    g = grade("5", r"\boxed{500}", "math")
    assert g.extracted == "500" and not g.correct


@pytest.mark.parametrize(
    "gold, response, correct",
    [
        ("025", r"\boxed{25}", True),
        ("25", r"\boxed{025}", True),
        ("25", r"\boxed{25.0}", True),
        ("25", r"\boxed{\text{25}}", True),
        ("204", "Final Answer: m+n = 204", True),
        ("25", r"\boxed{250}", False),
        ("250", r"\boxed{25}", False),
        ("80", r"\boxed{8}", False),
    ],
)
def test_grade_integer(gold: str, response: str, correct: bool) -> None:
    assert grade(gold, response, "integer").correct is correct


def test_grade_integer_rejects_non_integers() -> None:
    g = grade("25", r"\boxed{25.5}", "integer")
    assert (g.correct, g.reason) == (False, "box; not_integer")
    assert not grade("2", r"\boxed{\sqrt{2}}", "integer").correct


def test_grade_choice() -> None:
    assert grade("B", "Answer: (B)", "choice") == Grade("B", True, "choice")
    assert grade("(C)", r"\boxed{C}", "choice").correct
    assert grade("A", "The answer is D.", "choice") == Grade("D", False, "choice")


@pytest.mark.parametrize("kind", ["math", "integer", "choice"])
def test_unextractable_is_wrong(kind: str) -> None:
    gold = "A" if kind == "choice" else "12"
    response = "I ran out of time thinking about 12 and A"
    assert grade(gold, response, kind) == Grade(None, False, "unextractable")


def test_grade_many_matches_grade() -> None:
    items = [
        ("1/2", r"\boxed{0.5}"),
        ("3", r"\boxed{4}"),
        ("7", "no answer"),
        (r"\pi", r"\boxed{\pi}"),
    ]
    grades = grade_many(items, "math", workers=2)
    assert [g.correct for g in grades] == [True, False, False, True]
    assert grades[2].reason == "unextractable"
    assert grade_many([], "math") == []


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError):
        grade("1", r"\boxed{1}", "essay")  # type: ignore[arg-type]


# --- time bounds -----------------------------------------------------------------------

@pytest.fixture
def warm_pool() -> None:
    """Start two workers first, so that the tests below see a pool of two ready workers."""
    grade_many([("1", r"\boxed{2}")] * 2, "math", workers=2)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every task the grading workers run, as (worker, op, outcome status), in order."""
    from budgetbench.grading import pool

    seen: list[tuple] = []
    original = pool._Worker.call

    def call(worker, op, args, timeout):
        outcome = original(worker, op, args, timeout)
        seen.append((worker, op, outcome.status))
        return outcome

    monkeypatch.setattr(pool._Worker, "call", call)
    return seen


def assert_overran_workers_replaced(calls: list[tuple], expected: int) -> None:
    """``expected`` tasks timed out; each one's worker was killed, and live workers took their place."""
    from budgetbench.grading.pool import get_pool

    overran = [worker for worker, _, status in calls if status == "timeout"]
    assert len(overran) == expected, [(op, status) for _, op, status in calls]
    assert all(worker.proc.poll() is not None for worker in overran)  # killed, not left computing
    pool = get_pool()
    assert len(pool._idle) == pool._count >= 2  # as many workers as before, all idle again
    assert all(w.proc.poll() is None and w not in overran for w in pool._idle)


@pytest.mark.timeout(120)  # a timeout that does not hold hangs here: the test fails instead
def test_timeout_holds_in_a_thread(warm_pool: None, calls: list[tuple]) -> None:
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(math_equal("2", SLOW_PREDS[0], timeout=1.0)))
    thread.start()
    thread.join()
    assert results == [False]
    assert [(op, status) for _, op, status in calls] == [("equal", "timeout")]
    assert_overran_workers_replaced(calls, 1)


@pytest.mark.timeout(120)
def test_timeout_holds_in_grade_many(warm_pool: None, calls: list[tuple]) -> None:
    pathological = [
        r"\boxed{9^{9^{9^{9}}}}",
        r"\boxed{" + "1" * 1_000_000 + "}",
        r"\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
        *(r"\boxed{" + p + "}" for p in SLOW_PREDS),
    ]
    items = [("2", text) for text in pathological] + [("1/2", r"\boxed{\frac{1}{2}}")]
    grades = grade_many(items, "math", timeout=1.0, workers=2)
    assert [g.correct for g in grades] == [False] * len(pathological) + [True]
    assert all(g.reason is not None for g in grades[:-1]), grades
    assert {g.reason for g in grades[-len(SLOW_PREDS) - 1:-1]} == {"box; timeout"}
    # only the slow comparisons overran: their workers were killed and replaced
    assert_overran_workers_replaced(calls, len(SLOW_PREDS))
    assert {op for _, op, status in calls if status == "timeout"} == {"judge"}


# --- hostile input ---------------------------------------------------------------------

def _payloads(marker: Path) -> list[str]:
    cmd = f"touch {marker}"
    return [
        f"__import__('os').system('{cmd}')",
        f"eval(\"__import__('os').system('{cmd}')\")",
        f"exec('import os; os.system(\"{cmd}\")')",
        f"lambda: __import__('os').system('{cmd}')",
        "().__class__.__bases__[0].__subclasses__()",
        f"(lambda: __import__('subprocess').run(['touch', '{marker}']))()",
        f"\\text{{__import__('os').system('{cmd}')}} + 1",
    ]


def test_hostile_input_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned_grading"
    payloads = _payloads(marker)
    for p in payloads:
        assert math_equal("5", p) is False
        assert math_equal(p, "5") is False
        g = grade("5", r"\boxed{" + p + "}", "math")
        assert g.correct is False
        assert grade("5", f"Answer: {p}", "integer").correct is False
    grades = grade_many([("5", r"\boxed{" + p + "}") for p in payloads], "math", workers=2)
    assert not any(g.correct for g in grades)
    assert not marker.exists()


def test_no_string_evaluation_with_model_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In-process: sympify/parse_expr/eval/exec never see model text during grading."""
    import sys

    import sympy
    import sympy.parsing.sympy_parser as sympy_parser

    from budgetbench.grading.grade import grade_unbounded
    from budgetbench.grading.mvsafe import guarded

    answers = [r"\frac{1}{2}", "x^2+1", r"\{1,2\}", "(1, 2]", "3.5", "1,000", r"\text{east}"]
    answers += ["y = 2x + 3"]
    answers += _payloads(tmp_path / "pwned_inproc")
    seen: list[str] = []

    def recorder(name: str, original):
        def wrapper(*args, **kwargs):
            if args and isinstance(args[0], str):
                seen.append(f"{name}: {args[0][:80]}")
            return original(*args, **kwargs)

        return wrapper

    sympify_mod = sys.modules["sympy.core.sympify"]
    # patches are undone before the guards are, so both leave sympy as they found it
    with guarded(), monkeypatch.context() as mp:
        mp.setattr(sympy_parser, "parse_expr", recorder("parse_expr", sympy_parser.parse_expr))
        mp.setattr(sympify_mod, "sympify", recorder("sympify", sympify_mod.sympify))
        mp.setattr(sympy, "sympify", recorder("sympify", sympy.sympify))
        mp.setattr(builtins, "eval", recorder("eval", builtins.eval))
        mp.setattr(builtins, "exec", recorder("exec", builtins.exec))
        for ans in answers:
            grade_unbounded("5", r"\boxed{" + ans + "}", "math")
            grade_unbounded(ans, r"\boxed{5}", "math")
            grade_unbounded("5", f"Answer: {ans}", "integer")
    # sympy's polys generate helper code with exec (fixed templates, no input text): allowed
    fragments = ["__import__", "__class__", "pwned", "lambda", "east", "x^2", "2x"]
    leaked = [s for s in seen if any(f in s for f in fragments)]
    assert not leaked, leaked
    parsed = [s for s in seen if s.startswith(("parse_expr", "sympify"))]
    assert not parsed, parsed  # in fact no string reaches sympy's parser at all
    assert not (tmp_path / "pwned_inproc").exists()


def test_guards_are_scoped() -> None:
    """The in-process guards restore sympy afterwards (other code may need parse_expr)."""
    import sympy.parsing.sympy_parser as sympy_parser

    from budgetbench.grading.mvsafe import guarded

    original = sympy_parser.parse_expr
    with guarded():
        assert sympy_parser.parse_expr is not original
    assert sympy_parser.parse_expr is original


N = 200_000  # MAX_RESPONSE_CHARS: what a response is cut to before grading
ADVERSARIAL = {
    "markup": "Answer: " + "**" * (N // 4) + "5" + "**" * (N // 4),
    "spaces": "Final Answer:" + " " * N + "x",
    "keywords": "Answer: " * (N // 8),
    "statements": "The final answer is " * (N // 20),
    "options": "the answer is option " * (N // 21),
    "unclosed math": "Answer: " + "\\(" * (N // 2),
    "boxes": "\\boxed{1} and " * (N // 14),
    "labels": "x = \\boxed{1} " * (N // 14),
    "sentence": "so $1$ 2 " * (N // 9),
    "cjk": "答案" * (N // 2),
}


@pytest.mark.timeout(120)  # three grades of at most a second each (and two for a timeout's note)
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_grading_returns_a_wrong_verdict_on_adversarial_text(warm_pool: None, calls: list[tuple],
                                                             monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Extraction is linear and runs in the bounded worker too: no input stalls a grade, because
    the calling process never reads the text itself (its extraction is made to fail here)."""
    import importlib

    grade_module = importlib.import_module("budgetbench.grading.grade")  # the module, not the function
    def no_extraction_here(*args, **kwargs):
        raise AssertionError("the caller extracted an answer outside the bounded workers")

    monkeypatch.setattr(grade_module, "extract", no_extraction_here)
    monkeypatch.setattr(grade_module, "judge", no_extraction_here)
    text = ADVERSARIAL[name]
    for kind, gold in (("math", "5"), ("integer", "5"), ("choice", "B")):
        g = grade(gold, text, kind, timeout=1.0)
        assert not g.correct, (name, kind, g)
    assert calls and all(op in ("grade", "extract") for _, op, _ in calls)  # all in the workers
