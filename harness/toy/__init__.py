"""The toy reasoning task and model: add a list of small numbers, one running total per line.

A problem labels its terms with letters so that each line of the thinking can find its term::

    question:  Add: a=7 b=2 c=9 d=4
    thinking:  a+7=7\\nb+2=9\\nc+9=18\\nd+4=22\\n
    answer:    \\boxed{22}

The shipped model (``MODEL_DIR``, trained by ``scripts/train_toy_model.py``) writes this trace
after ``<think>`` and then ``</think>\\n\\n\\boxed{22}``. Cut short (budget forcing appends
``</think>`` and ``Final Answer:``), it answers with the last running total it wrote in full
(``cut_answer``), so its accuracy grows with the thinking budget. Its tokenizer keeps digits
apart and has one token per step label (``c+``) and per term (``c=9``): a line is 5-6 tokens,
a whole trace at most 72, and thinking budgets 8,16,32,48,64,80 span 0% to ~99% accuracy.

Both the task plugin (``tasks/toy_sum.py``) and the training script use these generators;
everything is seeded by ``random.Random(seed)``, so the same seed gives the same problems.
"""

from __future__ import annotations

import random
from pathlib import Path

from budgetbench.types import Problem

MODEL_DIR = Path(__file__).resolve().parent / "model"
LABELS = "abcdefghijkl"
MIN_TERMS, MAX_TERMS = 2, len(LABELS)  # terms per problem
MIN_VALUE, MAX_VALUE = 1, 9  # each term
EVAL_SEED = 2024  # the task's problems (the training script draws from other seeds)
EVAL_SIZE = 500


def sample_values(rng: random.Random, terms: int | None = None) -> list[int]:
    """The terms of one problem (their number drawn uniformly from MIN_TERMS..MAX_TERMS)."""
    n = terms if terms is not None else rng.randint(MIN_TERMS, MAX_TERMS)
    return [rng.randint(MIN_VALUE, MAX_VALUE) for _ in range(n)]


def question(values: list[int]) -> str:
    return "Add: " + " ".join(f"{label}={v}" for label, v in zip(LABELS, values))


def running_totals(values: list[int]) -> list[int]:
    totals, total = [], 0
    for v in values:
        total += v
        totals.append(total)
    return totals


def trace_lines(values: list[int]) -> list[str]:
    """The thinking, one line per term (without newlines): ``label+term=running total``."""
    return [f"{label}+{v}={t}" for label, v, t in zip(LABELS, values, running_totals(values))]


def thinking(values: list[int]) -> str:
    """The gold thinking: every line ends with a newline."""
    return "".join(line + "\n" for line in trace_lines(values))


def cut_answer(values: list[int], cut: int) -> int:
    """What to answer when the gold thinking is cut after ``cut`` characters: the last running
    total written in full (its newline may be missing: budget forcing adds one), else 0."""
    answer, end = 0, 0
    for line, total in zip(trace_lines(values), running_totals(values)):
        end += len(line)  # the line's text ends here, its newline follows
        if end > cut:
            break
        answer = total
        end += 1
    return answer


def make_problems(count: int = EVAL_SIZE, seed: int = EVAL_SEED) -> list[Problem]:
    """``count`` seeded problems, with their number of terms as the ``terms`` metadata."""
    rng = random.Random(seed)
    problems = []
    for i in range(count):
        values = sample_values(rng)
        gold = str(sum(values))
        problems.append(Problem(f"toy-{i:04d}", question(values), gold, {"terms": len(values)}))
    return problems
