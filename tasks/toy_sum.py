"""toy_sum: add 2-12 labelled one-digit numbers (synthetic, seeded; made for the toy model).

Problems come from ``budgetbench.toy.make_problems`` (500 of them, fixed seed), not from files:
``--data-dir`` is ignored. Stratify on ``terms``: the number of terms, hence the length of the
step-by-step trace (about 6 tokens per term) that the toy model ``harness/toy/model`` writes.
"""

from __future__ import annotations

from pathlib import Path

from budgetbench.tasks import Task
from budgetbench.toy import EVAL_SEED, EVAL_SIZE, make_problems
from budgetbench.types import Problem


def load(data_dir: Path | None) -> list[Problem]:
    return make_problems(EVAL_SIZE, EVAL_SEED)


TASK = Task(
    name="toy_sum",
    description="Synthetic: add 2-12 one-digit numbers, writing each running total (for the toy model)",
    size=EVAL_SIZE,
    answer_kind="integer",
    hub_id="",
    local_path="",
    load=load,
)
