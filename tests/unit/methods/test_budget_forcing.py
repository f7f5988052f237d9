"""Budget-forcing semantics, pinned with a scripted engine (character-level tokens)."""

from __future__ import annotations

import pytest

from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.formats import S1, THINK_TAGS, ThinkingFormat
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing, split_at_stop
from tests.helpers.methods import PROBLEM, drive, thinking_part


def make(policy, fmt: ThinkingFormat = THINK_TAGS, specials=("</think>",), **config):
    tok = CharTokenizer(specials=specials)
    engine = ScriptedEngine(policy, tok)
    return BudgetForcing(tok, fmt, MethodConfig(**config)), engine


def rambler(context: str) -> str:
    """Never ends its thinking by itself; answers 42 once the thinking is closed."""
    if "</think>" in thinking_part(context):
        return " \\boxed{42}" + EOS
    return "step " * 100


def test_cap_cuts_thinking_at_budget_and_forces_answer_prefix():
    method, engine = make(rambler)
    trace = drive(method, engine, [method.start(PROBLEM, 12, 0, 0, 7)])[0]
    rec = method.record_fields(trace)
    assert rec["thinking_tokens"] == 12
    assert rec["thinking_text"] == "step step st"
    assert rec["forced_end"] is True
    assert rec["answer_text"] == "\n\nFinal Answer: \\boxed{42}"
    assert rec["finish_reason"] == "stop"
    # The forced transition: newline (thinking did not end with one), delimiter, answer prefix.
    assert engine.tokenizer.decode(trace.transition_ids) == "\n</think>\n\nFinal Answer:"
    assert engine.batches == [1, 1]  # one thinking round, one answer round


def test_no_extra_newline_when_cut_lands_after_one():
    method, engine = make(lambda c: " \\boxed{1}" + EOS if "</think>" in thinking_part(c) else "abc\n" * 50)
    trace = drive(method, engine, [method.start(PROBLEM, 8, 0, 0, 0)])[0]
    assert engine.tokenizer.decode(trace.transition_ids) == "</think>\n\nFinal Answer:"


def early_stopper(context: str) -> str:
    """Thinks 'abc' then closes its thinking, every round; then answers."""
    after = thinking_part(context)
    if "</think>" in after:
        return "The answer is \\boxed{42}." + EOS
    return "abc</think>"


def test_waits_extend_exactly_k_times_and_count_wait_as_thinking():
    method, engine = make(early_stopper, specials=("</think>",))
    trace = drive(method, engine, [method.start(PROBLEM, 1000, 2, 0, 0)])[0]
    rec = method.record_fields(trace)
    assert rec["extensions"] == 2
    assert rec["thinking_text"] == "abcWaitabcWaitabc"
    assert rec["thinking_tokens"] == 3 + 4 + 3 + 4 + 3
    assert rec["forced_end"] is False
    assert rec["answer_text"] == "The answer is \\boxed{42}."  # natural end: no "Final Answer:"
    assert engine.batches == [1, 1, 1, 1]


def test_each_round_gets_only_the_remaining_budget():
    method, engine = make(early_stopper)
    requests = []
    original = engine.generate

    def spy(reqs):
        requests.extend(r.params.max_tokens for r in reqs)
        return original(reqs)

    engine.generate = spy
    trace = drive(method, engine, [method.start(PROBLEM, 12, 5, 0, 0)])[0]
    # 12 -> abc (3) + Wait (4) = 7 used -> 5 left -> abc (3) = 10 -> Wait no longer fits (10+4 >= 12).
    assert requests[:2] == [12, 5]
    assert trace.extensions == 1
    assert len(trace.thinking_ids) == 10 and trace.forced_end is False


def test_cap_reached_exactly_by_model_then_forced():
    method, engine = make(lambda c: "x" * 5 + "</think>" if "</think>" not in thinking_part(c) else "\\boxed{1}" + EOS)
    trace = drive(method, engine, [method.start(PROBLEM, 5, 0, 0, 0)])[0]
    # Five tokens fill the budget before the model can write its delimiter: a cut.
    assert len(trace.thinking_ids) == 5 and trace.forced_end is True


@pytest.mark.parametrize("specials", [("</think>",), ()], ids=["single-token", "split-across-tokens"])
def test_multi_token_delimiter_is_found_and_kept_out_of_thinking(specials):
    method, engine = make(early_stopper, specials=specials)
    trace = drive(method, engine, [method.start(PROBLEM, 100, 0, 0, 0)])[0]
    assert method.record_fields(trace)["thinking_text"] == "abc"
    assert engine.tokenizer.decode(trace.transition_ids) == "</think>"
    assert len(trace.thinking_ids) == 3


def test_s1_format_two_token_delimiter():
    def s1_policy(context: str) -> str:
        after = context.split("<|im_start|>think", 1)[1]
        if "<|im_start|>answer" in after:
            return " 42" + EOS
        return "\nlet me see<|im_start|>answer"

    tok = CharTokenizer(specials=("<|im_start|>",))
    engine = ScriptedEngine(s1_policy, tok)
    method = BudgetForcing(tok, S1, MethodConfig())
    trace = drive(method, engine, [method.start(PROBLEM, 100, 1, 0, 0)])[0]
    rec = method.record_fields(trace)
    assert rec["thinking_text"] == "\nlet me seeWait\nlet me see"
    assert rec["extensions"] == 1
    assert tok.decode(trace.transition_ids) == "<|im_start|>answer"


def test_end_of_turn_during_thinking_counts_as_end_of_thinking():
    def eos_thinker(context: str) -> str:
        after = thinking_part(context)
        return ("Answer: 42" + EOS) if "</think>" in after else ("hmm" + EOS)

    method, engine = make(eos_thinker)
    trace = drive(method, engine, [method.start(PROBLEM, 100, 1, 0, 0)])[0]
    assert method.record_fields(trace)["thinking_text"] == "hmmWaithmm"
    assert engine.tokenizer.decode(trace.transition_ids) == "</think>"  # closed for the model
    assert method.record_fields(trace)["answer_text"] == "Answer: 42"


def test_all_samples_finish_early_no_empty_engine_call():
    method, engine = make(early_stopper)
    traces = [method.start(PROBLEM, b, w, 0, 0) for b, w in [(3, 0), (100, 0), (100, 3), (5, 1)]]
    drive(method, engine, traces)
    assert all(t.phase == "done" for t in traces)
    assert 0 not in engine.batches  # the scripted engine raises on an empty call anyway
    assert engine.batches[0] == 4  # every budget's trace rides in the same first call


def test_thinking_never_exceeds_budget_over_many_settings():
    method, engine = make(early_stopper)
    traces = [method.start(PROBLEM, b, w, 0, 0) for b in range(1, 30) for w in range(4)]
    drive(method, engine, traces)
    for t in traces:
        assert len(t.thinking_ids) <= t.budget
        assert t.extensions <= t.waits


def test_split_at_stop_with_noncanonical_tokenization():
    tok = CharTokenizer(specials=("</think>",))
    ids = tok.encode("ab") + [tok._offset + ord(c) for c in "</think>"]  # spelled out char by char
    assert split_at_stop(ids, "</think>", tok) == 2
    assert split_at_stop(tok.encode("ab</think>"), "</think>", tok) == 2


def test_context_limit_counts_as_cut():
    tok = CharTokenizer(specials=("</think>",))
    engine = ScriptedEngine(rambler, tok, max_model_len=60)
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig())
    trace = drive(method, engine, [method.start(PROBLEM, 1000, 0, 0, 0)])[0]
    assert trace.forced_end is True and len(trace.thinking_ids) < 1000
