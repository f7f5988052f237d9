"""Token-, step-, class-conditional control, rejection sampling and voting, with a scripted engine."""

from __future__ import annotations

import pytest

from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.formats import THINK_TAGS
from budgetbench.methods import load_method
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.conditional import count_steps
from budgetbench.types import Problem
from budgetbench.analysis.stats import pass_at_k
from budgetbench.analysis.votes import GOLD, maj_at_k, majority_correct, vote_key
from tests.helpers.methods import drive, thinking_part

PROBLEM = Problem("p1", "What is 6*7?", "42")


def build(name: str, policy, **config):
    tok = CharTokenizer(specials=("</think>",))
    method = load_method(name)(tok, THINK_TAGS, MethodConfig(**config))
    return method, ScriptedEngine(policy, tok)


def user_text(method, budget) -> str:
    return method.tok.decode(method.start(PROBLEM, budget, 0, 0, 0).prompt_ids)


def long_thinker(context: str) -> str:
    if "</think>" in thinking_part(context):
        return "\\boxed{42}" + EOS
    return "x" * 300 + "</think>"


def test_token_conditional_prompt_and_no_enforcement():
    method, engine = build("token_conditional", long_thinker)
    assert user_text(method, 1024) == "<user>What is 6*7?\n\nThink for up to 1024 tokens.</user><think>\n"
    trace = drive(method, engine, [method.start(PROBLEM, 100, 0, 0, 0)])[0]
    assert len(trace.thinking_ids) == 300 and trace.forced_end is False


def test_token_conditional_bf_caps_at_n():
    method, engine = build("token_conditional+bf", long_thinker)
    assert user_text(method, 64).endswith("\n\nThink for up to 64 tokens.</user><think>\n")
    trace = drive(method, engine, [method.start(PROBLEM, 100, 0, 0, 0)])[0]
    assert len(trace.thinking_ids) == 100 and trace.forced_end is True


def paragraphs(context: str) -> str:
    after = thinking_part(context)
    if "</think>" in after:
        return "\\boxed{42}" + EOS
    full = "".join(f"step {i} work\n\n" for i in range(400)) + "</think>"
    assert full.startswith(after)
    return full[len(after):]  # continue exactly where the context stops


def test_step_conditional_prompt_and_step_count():
    method, engine = build("step_conditional", paragraphs)
    assert user_text(method, 16) == "<user>What is 6*7?\n\nThink for up to 16 steps.</user><think>\n"
    trace = drive(method, engine, [method.start(PROBLEM, 4, 0, 0, 0)])[0]
    assert method.record_fields(trace)["steps"] == 400  # no enforcement


@pytest.mark.parametrize("n", [1, 3, 7, 40])
def test_step_conditional_bf_ends_after_exactly_n_steps(n):
    method, engine = build("step_conditional+bf", paragraphs)
    trace = drive(method, engine, [method.start(PROBLEM, n, 0, 0, 0)])[0]
    rec = method.record_fields(trace)
    assert rec["steps"] == n
    assert rec["thinking_text"] == "".join(f"step {i} work\n\n" for i in range(n))
    assert rec["forced_end"] is True and rec["answer_text"].startswith("\n\nFinal Answer:")


def test_step_conditional_bf_natural_end_before_n_steps_is_not_forced():
    method, engine = build("step_conditional+bf", lambda c: "\\boxed{1}" + EOS if "</think>" in thinking_part(c)
                           else "a\n\nb\n\n</think>")
    trace = drive(method, engine, [method.start(PROBLEM, 5, 0, 0, 0)])[0]
    assert trace.forced_end is False and method.record_fields(trace)["steps"] == 2


def test_step_markers_of_s1_scc_model_count_steps():
    text = "<|im_start|>3 steps left\nfoo<|im_start|>2 steps left\nbar<|im_start|>1 step left\nbaz"
    assert len(count_steps(text, "\n\n")) == 2
    assert count_steps("a\n\n\n\nb\n\nc", "\n\n") == [3, 8]  # blank paragraphs are not steps


def test_class_conditional_prompts_byte_for_byte():
    method, _ = build("class_conditional", long_thinker)
    short = ("Answer after a short amount of thinking. Do not spend excessive time double-checking your work.")
    long = ("Answer after a long amount of thinking. If you feel like you are finished early, spend the extra time "
            "trying to double-check your work until you are absolutely sure that you have the correct answer.")
    assert user_text(method, "short") == f"<user>What is 6*7?\n\n{short}</user><think>\n"
    assert user_text(method, "long") == f"<user>What is 6*7?\n\n{long}</user><think>\n"
    assert user_text(method, "none") == "<user>What is 6*7?</user><think>\n"
    assert method.default_budgets == ("none", "short", "long")
    with pytest.raises(ValueError):
        method.parse_budget("medium")


def length_for(seed: int) -> int:
    return 5 + (seed * 7919) % 60  # thinking length the scripted model "samples" with this seed


def sampler(context: str, seed: int) -> str:
    if "</think>" in thinking_part(context):
        return "\\boxed{42}" + EOS
    return "y" * length_for(seed) + "</think>"


def test_rejection_sampling_accepts_first_candidate_within_budget_and_counts_tries():
    method, engine = build("rejection_sampling", sampler)
    assert method.temperature == 1.0
    budget = 12
    trace = drive(method, engine, [method.start(PROBLEM, budget, 0, 0, 5)])[0]
    rec = method.record_fields(trace)
    base = (5 * 1_000_003 + 1_000) % 2**31
    first_ok = next(t for t in range(10_000) if length_for(base + t) <= budget)
    assert rec["tries"] == first_ok + 1
    assert rec["thinking_tokens"] == length_for(base + first_ok) <= budget
    assert rec["unmet"] is False and rec["forced_end"] is False
    # Every request asked for budget + 1 tokens, so a rejected candidate cost at most that.
    assert rec["candidate_tokens"] <= rec["tries"] * (budget + 1) + 64 * (budget + 1)


def test_rejection_sampling_never_accepts_over_budget_and_gives_up_at_max_tries():
    method, engine = build("rejection_sampling", sampler, max_tries=20)
    trace = drive(method, engine, [method.start(PROBLEM, 4, 0, 0, 0)])[0]  # every candidate >= 5 tokens
    rec = method.record_fields(trace)
    assert rec["unmet"] is True and rec["tries"] == 20 and rec["thinking_tokens"] == 0
    assert rec["finish_reason"] == "unmet"
    assert sum(engine.batches) == 5  # candidates 1+2+4+8+5 in five rounds, never past max_tries


def test_majority_vote_sweep_and_votes():
    method, _ = build("majority_vote", long_thinker, budget_per_sample=64)
    assert method.sweep((1, 4, 16), 1) == ((64,), 16)
    with pytest.raises(ValueError):
        method.sweep((4,), 3)


def test_maj_at_k_on_a_hand_made_vote_table():
    # 4 samples: gold, gold, "7", "7"
    keys = [GOLD, GOLD, "7", "7"]
    assert majority_correct(keys) == 0.5  # tie split evenly
    assert maj_at_k(keys, 1) == pytest.approx(0.5)
    # k=2: 6 subsets: {g,g}=1, {7,7}=0, four mixed ties=0.5 each -> (1 + 0 + 2) / 6
    assert maj_at_k(keys, 2) == pytest.approx(3 / 6)
    # k=3: 4 subsets: two with gold majority, two with 7 majority
    assert maj_at_k(keys, 3) == pytest.approx(0.5)
    assert maj_at_k([GOLD, "7", "8", None], 4) == pytest.approx(1 / 3)  # 3-way tie; None abstains
    assert vote_key(" 1 / 2", False) == "1/2" and vote_key(None, True) == GOLD and vote_key(None, False) is None


def test_pass_at_k_unbiased():
    assert pass_at_k(4, 2, 1) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)
    assert pass_at_k(4, 0, 3) == 0.0 and pass_at_k(4, 2, 3) == 1.0


def test_vote_runs_counts_an_ungraded_sample_as_not_correct():
    import pandas as pd

    from budgetbench.analysis.votes import vote_runs

    records = pd.DataFrame({
        "task": "t", "model": "m", "method": "majority_vote", "budget": 2, "waits": 0,
        "problem_id": ["p", "p"], "sample": [0, 1], "extracted": [None, None],
        "correct": [float("nan"), float("nan")], "thinking_tokens": [3, 5],
    })
    runs = vote_runs(records, (1, 2))
    assert list(runs["accuracy_pct"]) == [0.0, 0.0] and list(runs["pass_at_k_pct"]) == [0.0, 0.0]
