"""The record schema is what runs write and what the README lists."""

from __future__ import annotations

import re

from budgetbench.formats import THINK_TAGS
from budgetbench.methods import load_method
from budgetbench.methods.base import MethodConfig
from budgetbench.results.schema import CORE_FIELDS, METHOD_FIELDS
from budgetbench.run.sweep import Sweep, run_sweep
from budgetbench.tasks import Task
from budgetbench.testing.scripted import CharTokenizer, ScriptedEngine
from budgetbench.types import Problem
from tests.helpers.cli import REPO
from tests.helpers.methods import ListStore, policy

TASK = Task("t", "test", 2, "integer", "", "", lambda d: [])
PROBLEMS = [Problem("p0", "question 0", "42", {"level": 1}), Problem("p1", "question 1", "7")]


def records_of(method: str, budgets: tuple, **config) -> list[dict]:
    tok = CharTokenizer(specials=("</think>",))
    store = ListStore()
    run_sweep(ScriptedEngine(policy, tok), load_method(method)(tok, THINK_TAGS, MethodConfig(**config)), TASK,
              PROBLEMS, Sweep(budgets=budgets), store, set(), progress=False)
    return store.records


def test_records_carry_the_core_fields_in_order_and_only_known_extras():
    for method, budgets, config in (("budget_forcing", (8, 40), {}), ("step_conditional+bf", (1, 2), {}),
                                    ("rejection_sampling", (60,), {"max_tries": 3})):
        for record in records_of(method, budgets, **config):
            assert [k for k in record if k in CORE_FIELDS] == list(CORE_FIELDS), method
            assert set(record) - set(CORE_FIELDS) <= set(METHOD_FIELDS), method


def test_the_readme_lists_the_core_fields():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"with `(task, problem_id, [^`]+)`", readme).group(1)
    assert tuple(re.split(r",\s*", listed)) == CORE_FIELDS
