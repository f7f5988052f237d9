"""Budget forcing through an engine's native thinking budget (vLLM ``thinking_token_budget``),
pinned on a scripted engine that does what vLLM does: after ``budget`` thinking tokens it writes
its end string itself, and the model goes on to answer in the same request."""

from __future__ import annotations

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.formats import THINK_TAGS
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.types import Completion, GenRequest, GenResult
from tests.helpers.methods import PROBLEM, drive


class NativeBudgetEngine(ScriptedEngine):
    """vLLM's semantics for ``thinking_token_budget``: thinking stops at the budget, the end
    string is forced, and generation continues (answer) within ``max_tokens``."""

    supports_thinking_budget = True

    def __init__(self, policy, tokenizer, honour: bool = True):
        super().__init__(policy, tokenizer)
        self.honour = honour
        self.requests: list[GenRequest] = []

    def generate(self, requests):
        self.requests.extend(requests)
        results = []
        for req in requests:
            budget = req.params.thinking_token_budget
            context = self.tokenizer.decode(req.prompt_ids)
            text = self.policy(context)
            end = "</think>"
            thinking = text.split(end, 1)[0]
            if budget is not None and self.honour and len(self.tokenizer.encode(thinking)) > budget:
                cut = self.tokenizer.decode(self.tokenizer.encode(thinking)[:budget])
                text = cut + end + self.policy(context + cut + end)
            ids = self.tokenizer.encode(text)[: req.params.max_tokens]
            stop = "stop" if ids and ids[-1] in req.params.stop_token_ids else "length"
            results.append(GenResult((Completion(tuple(ids), self.tokenizer.decode(ids), stop,
                                                 ids[-1] if stop == "stop" else None),)))
        return results


def thinker(length: int):
    def policy(context: str) -> str:
        if "</think>" in context.split("<think>\n", 1)[1]:
            return " \\boxed{42}" + EOS
        return "a" * length + "</think>" + " \\boxed{42}" + EOS
    return policy


def _run(length: int, budget: int, honour: bool = True):
    tok = CharTokenizer(specials=("</think>",))
    engine = NativeBudgetEngine(thinker(length), tok, honour)
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig(answer_tokens=20, native_thinking_budget=True))
    trace = drive(method, engine, [method.start(PROBLEM, budget, 0, 0, 7)])[0]
    return method.record_fields(trace), engine


def test_native_cap_is_one_request_with_the_budget_and_records_the_path():
    rec, engine = _run(length=50, budget=12)
    [req] = engine.requests
    assert req.params.thinking_token_budget == 12
    assert rec["thinking_tokens"] == 12 and rec["forced_end"] is True and rec["rounds"] == 1
    assert rec["thinking_text"] == "a" * 12 and rec["answer_text"] == " \\boxed{42}"
    assert rec["thinking_budget_path"] == "native" and rec["finish_reason"] == "stop"


def test_native_natural_end_under_the_budget():
    rec, _ = _run(length=5, budget=12)
    assert rec["thinking_tokens"] == 5 and rec["forced_end"] is False
    assert rec["answer_text"] == " \\boxed{42}"


def test_an_engine_that_ignores_the_budget_is_a_loud_error():
    with pytest.raises(EngineError, match="did not end the thinking at 12 tokens"):
        _run(length=50, budget=12, honour=False)


def test_waits_still_go_through_rounds():
    tok = CharTokenizer(specials=("</think>",))
    engine = NativeBudgetEngine(thinker(5), tok)
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig(answer_tokens=20, native_thinking_budget=True))
    trace = drive(method, engine, [method.start(PROBLEM, 40, 1, 0, 7)])[0]
    rec = method.record_fields(trace)
    assert all(r.params.thinking_token_budget is None for r in engine.requests)
    assert rec["extensions"] == 1 and "thinking_budget_path" not in rec


def test_spec_of_a_run_without_it_is_unchanged():
    assert "native_thinking_budget" not in MethodConfig().to_dict()
    assert MethodConfig(native_thinking_budget=True).to_dict()["native_thinking_budget"] is True
