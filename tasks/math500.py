"""MATH-500 (the PRM800K test subset): 500 problems, levels 1-5, seven subjects.

Prompt: the problem alone. Answers are LaTeX, compared by sympy-backed equivalence.
Data: ``math500.jsonl`` under --data-dir or the hub's ``HuggingFaceH4/MATH-500``.
"""

from __future__ import annotations

from pathlib import Path

from budgetbench.tasks import Task, load_hub, read_jsonl, require_fields
from budgetbench.types import Problem

HUB_ID = "HuggingFaceH4/MATH-500"


def load(data_dir: Path | None) -> list[Problem]:
    rows = read_jsonl(data_dir / "math500.jsonl") if data_dir else load_hub(HUB_ID, "test")
    problems = []
    for row in rows:
        require_fields(row, ("problem", "answer", "unique_id"), "math500")
        meta = {"level": row.get("level"), "subject": row.get("subject")}
        problems.append(Problem(row["unique_id"], row["problem"], row["answer"], meta))
    return problems


TASK = Task(
    name="math500",
    description="MATH-500 (PRM800K test split), LaTeX answers",
    size=500,
    answer_kind="math",
    hub_id=HUB_ID,
    local_path="math500.jsonl",
    load=load,
)
