"""Records say when the model's context window, not the budget or the model, ended the thinking or
the answer (``context_limited``), for capped and uncapped methods alike, shared thinking included."""

from __future__ import annotations

import pytest

from budgetbench.analysis.metrics import summarize_runs
from budgetbench.engines.base import CONTEXT_FULL, context_ended
from budgetbench.formats import THINK_TAGS
from budgetbench.methods import load_method
from budgetbench.methods.base import MethodConfig
from budgetbench.run.sweep import Sweep, run_sweep
from budgetbench.tasks import Task
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.types import Completion, GenRequest, Problem, SamplingParams
from tests.helpers.methods import ListStore, thinking_part

TASK = Task("t", "test", 2, "integer", "", "", lambda d: [])
PROBLEMS = [Problem("p0", "question 0", "42"), Problem("p1", "question 1", "42")]
CONTEXT = 120  # the prompt "<user>question 0</user><think>\n" is 24 tokens


def endless(context: str) -> str:
    """Thinks on and on (never ends its thinking), then answers briefly."""
    return " \\boxed{42}" + EOS if "</think>" in thinking_part(context) else "x" * 1000


def chatty(context: str) -> str:
    """Ends its thinking at once, then answers on and on."""
    return "y" * 1000 if "</think>" in thinking_part(context) else "ok</think>"


def records(policy, method: str, budgets: tuple, *, context=CONTEXT, answer_tokens=16, share=True):
    engine = ScriptedEngine(policy, CharTokenizer(specials=("</think>", "<think>\n")), max_model_len=context)
    m = load_method(method)(engine.tokenizer, THINK_TAGS, MethodConfig(answer_tokens=answer_tokens))
    store = ListStore()
    run_sweep(engine, m, TASK, PROBLEMS, Sweep(budgets, share=share), store, set(), progress=False)
    return {(r["problem_id"], r["budget"]): r for r in store.records}


@pytest.mark.parametrize("method,budget", [("none", "none"), ("token_conditional", 50),
                                           ("class_conditional", "none"), ("step_conditional", 3)])
def test_an_uncapped_thinking_ended_by_the_context_is_flagged(method, budget):
    for r in records(endless, method, (budget,)).values():
        assert r["context_limited"] is True and r["forced_end"] is True and r["answer_tokens"] == 0
    for r in records(chatty, method, (budget,), context=None).values():  # no context: nothing to flag
        assert r["context_limited"] is False


@pytest.mark.parametrize("share", [True, False])
def test_capped_budgets_sharing_thinking_are_flagged_only_where_the_context_ended_them(share):
    """Budgets 50, 80 and 100 ride on 1000's thinking. The context leaves 96 thinking tokens: 100 and
    1000 are cut by the context (the follower's own cut decides); 80 by its cap, but its answer then
    finds the context full; 50 and its 16-token answer fit."""
    got = records(endless, "budget_forcing", (50, 80, 100, 1000), share=share)
    for p in PROBLEMS:
        flags = {b: got[(p.id, b)]["context_limited"] for b in (50, 80, 100, 1000)}
        assert flags == {50: False, 80: True, 100: True, 1000: True}
        assert [got[(p.id, b)]["thinking_tokens"] for b in (50, 80, 100, 1000)] == [50, 80, 96, 96]
        assert got[(p.id, 50)]["answer_tokens"] > 0 and got[(p.id, 80)]["answer_tokens"] == 0
        assert all(got[(p.id, b)]["forced_end"] for b in (50, 80, 100, 1000))


def test_an_answer_ended_by_the_context_is_flagged_and_one_ended_by_answer_tokens_is_not():
    by_context = records(chatty, "budget_forcing", (8,), answer_tokens=1000)
    assert all(r["context_limited"] and not r["forced_end"] and r["finish_reason"] == "length"
               for r in by_context.values())
    by_cap = records(chatty, "budget_forcing", (8,), answer_tokens=16)
    assert all(not r["context_limited"] and r["answer_tokens"] == 16 for r in by_cap.values())


def test_the_runs_table_gives_the_share_ended_by_the_context():
    import pandas as pd

    got = list(records(endless, "budget_forcing", (50, 1000)).values())
    runs = summarize_runs(pd.DataFrame(got).assign(model="m"))
    assert dict(zip(runs["budget"], runs["context_limited_pct"])) == {50: 0.0, 1000: 100.0}


def test_a_prompt_longer_than_the_context_is_flagged():
    """class_conditional's 'long' instruction makes the prompt longer than 120 tokens: nothing fits."""
    for r in records(endless, "class_conditional", ("long",)).values():
        assert r["context_limited"] is True and r["thinking_tokens"] == 0 and r["answer_tokens"] == 0


def test_context_ended():
    ask = GenRequest(tuple(range(30)), SamplingParams(max_tokens=100))
    full = Completion(tuple(range(90)), "", "length")
    assert context_ended(ask, full, 120) and context_ended(ask, CONTEXT_FULL, 30)
    assert not context_ended(ask, full, None)  # no known context
    assert not context_ended(ask, Completion(tuple(range(90)), "", "stop"), 120)  # the model stopped there
    assert not context_ended(GenRequest(ask.prompt_ids, SamplingParams(max_tokens=90)), full, 120)  # the cap fit
