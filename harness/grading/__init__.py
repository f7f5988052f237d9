"""Answer grading for budgetbench: extraction and MATH/AIME/multiple-choice comparison.

Public API::

    extract_boxed(text) -> str | None      # last top-level \\boxed{}/\\fbox{}, None if truncated
    extract_answer(text) -> str | None     # the final answer a careful reader takes (final_answer.py)
    find_final_answer(text) -> Extraction  # ... and which rule found it
    extract_choice(text) -> str | None     # final multiple-choice letter A-D, never a default
    math_equal(gold, pred, timeout=5.0) -> bool
    grade(gold, response_text, kind, timeout=5.0) -> Grade      # kind: math|integer|choice
    grade_many(items, kind, timeout=5.0, workers=None) -> list[Grade]
    Grade(extracted, correct, reason)     # frozen dataclass

Model output is treated as hostile: it never reaches ``eval``/``sympify``/``parse_expr``
(see ``mvsafe.py``), and every comparison runs in a worker process that is killed if it
overruns its wall-clock timeout (see ``pool.py``), from any thread or process.
Conventions are documented in ``final_answer.py``, ``extract.py``, ``choice.py``, ``normalize.py``,
``numeric.py``, ``equivalence.py`` and ``grade.py``.
"""

from .choice import extract_choice
from .extract import extract_boxed
from .final_answer import extract_answer, find_final_answer
from .grade import Grade, check_gold, grade, grade_many, math_equal
from .pool import shutdown as shutdown_pool

__all__ = [
    "Grade",
    "check_gold",
    "extract_answer",
    "extract_boxed",
    "extract_choice",
    "find_final_answer",
    "grade",
    "grade_many",
    "math_equal",
    "shutdown_pool",
]
