"""AIME 2024 (I and II): 30 problems, integer answers 0-999 compared as integers.

Prompt: the problem alone (as in the s1 reference). Data: ``aime24.jsonl`` under --data-dir
(fields id, problem, answer) or the hub's ``HuggingFaceH4/aime_2024``.
"""

from __future__ import annotations

from pathlib import Path

from budgetbench.tasks import Task, integer_field, load_hub, read_jsonl, require_fields
from budgetbench.types import Problem

HUB_ID = "HuggingFaceH4/aime_2024"


def load(data_dir: Path | None) -> list[Problem]:
    rows = read_jsonl(data_dir / "aime24.jsonl") if data_dir else load_hub(HUB_ID, "train")
    problems = []
    for row in rows:
        require_fields(row, ("id", "problem", "answer"), "aime24")
        exam = "I" if integer_field(row, "id", "aime24") % 30 < 15 else "II"  # ids 60-74: AIME I, 75-89: AIME II
        problems.append(Problem(str(row["id"]), row["problem"], str(row["answer"]), {"exam": exam}))
    return problems


TASK = Task(
    name="aime24",
    description="AIME 2024 I+II, integer answers",
    size=30,
    answer_kind="integer",
    hub_id=HUB_ID,
    local_path="aime24.jsonl",
    load=load,
)
