"""Nested budgets share their thinking: same records as separate runs, far fewer decoded tokens."""

from __future__ import annotations

import pytest

from budgetbench.testing.scripted import CharTokenizer, ScriptedEngine
from budgetbench.formats import THINK_TAGS
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.run.sweep import Sweep, run_sweep
from budgetbench.tasks import Task
from budgetbench.types import Problem
from tests.helpers.methods import ListStore, policy  # policy: continues its own output the same way

TASK = Task("t", "test", 6, "integer", "", "", lambda d: [])
PROBLEMS = [Problem(f"p{i}", f"question {i}", "42") for i in range(6)]


def sweep_records(share: bool, budgets, waits):
    tok = CharTokenizer(specials=("</think>",))
    engine = ScriptedEngine(policy, tok)
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig(answer_tokens=16))
    store = ListStore()
    run_sweep(engine, method, TASK, PROBLEMS, Sweep(budgets, waits, samples=2, share=share), store, set(),
              progress=False)
    key = lambda r: (r["problem_id"], r["budget"], r["waits"], r["sample"])  # noqa: E731
    return sorted(store.records, key=key), engine.stats


@pytest.mark.parametrize("budgets,waits", [((5, 10, 20, 40, 80, 160), (0,)), ((60,), (1, 2, 4)),
                                           ((8, 30, 200), (0, 1, 3))])
def test_shared_records_equal_separate_records(budgets, waits):
    shared, s_stats = sweep_records(True, budgets, waits)
    separate, n_stats = sweep_records(False, budgets, waits)
    assert shared == separate
    assert s_stats.decode_tokens < n_stats.decode_tokens


def test_shared_sweep_decodes_about_the_largest_budget_only():
    budgets = (5, 10, 20, 40, 80, 160)
    _, shared = sweep_records(True, budgets, (0,))
    _, separate = sweep_records(False, budgets, (0,))
    assert shared.decode_tokens / separate.decode_tokens < 0.55
