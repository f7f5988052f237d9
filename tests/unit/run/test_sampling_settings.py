"""top_k, min_p and the penalties: recorded in the spec, a resume with others refused, refused by an
engine that cannot apply them before anything is written, and never chunked when they count output."""

from __future__ import annotations

import json

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.errors import UserError
from budgetbench.formats import THINK_TAGS
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute
from budgetbench.run.pipeline import Job, Pipeline
from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.types import Problem

TOK = CharTokenizer(specials=("</think>", "<think>\n"))


def answer(context: str) -> str:
    return "\\boxed{1}" + EOS if "</think>" in context.split("<think>\n", 1)[1] else "hm</think>"


class Accepting(ScriptedEngine):
    """A scripted engine that takes the settings (its policy has no logits: tests of bookkeeping)."""

    def __init__(self, policy=answer):
        super().__init__(policy, TOK)
        self.asked: list = []

    def check_sampling(self, settings):
        self.asked.append(dict(settings))


def _config(tmp_path, **sampling):
    return RunConfig(task="toy_sum", model="scripted", budgets=("8",), limit=2, output=str(tmp_path / "out"),
                     progress=False, method_config=MethodConfig(answer_tokens=16, **sampling))


def test_the_spec_records_non_neutral_settings_and_a_resume_with_others_is_refused(tmp_path):
    engine = Accepting()
    outcome = execute(_config(tmp_path, top_k=20, repetition_penalty=1.1), engine=engine)
    method_config = json.loads((outcome.output / "spec.json").read_text())["method_config"]
    assert (method_config["top_k"], method_config["repetition_penalty"]) == (20, 1.1)
    assert "min_p" not in method_config and "presence_penalty" not in method_config  # neutral: absent
    assert engine.asked[0] == {"top_k": 20, "repetition_penalty": 1.1}  # before the run, then per request
    assert all(asked == engine.asked[0] for asked in engine.asked)
    with pytest.raises(UserError, match=r"method_config.repetition_penalty: 1.1 -> 1.3"):
        execute(_config(tmp_path, top_k=20, repetition_penalty=1.3), engine=engine)
    with pytest.raises(UserError, match=r"method_config.top_k"):
        execute(_config(tmp_path, repetition_penalty=1.1), engine=engine)
    assert len(execute(_config(tmp_path, top_k=20, repetition_penalty=1.1), engine=engine).records) == 2


def test_neutral_settings_leave_the_spec_as_before(tmp_path):
    outcome = execute(_config(tmp_path, top_k=-1), engine=Accepting())
    method_config = json.loads((outcome.output / "spec.json").read_text())["method_config"]
    assert not {"top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty"} & set(method_config)


def test_an_engine_that_cannot_apply_a_setting_refuses_it_before_anything_is_written(tmp_path):
    engine = ScriptedEngine(answer, TOK)
    with pytest.raises(EngineError, match="cannot apply min_p"):
        execute(_config(tmp_path, min_p=0.1), engine=engine)
    assert engine.stats.calls == 0 and not (tmp_path / "out" / "spec.json").exists()


@pytest.mark.parametrize("bad", [dict(top_k=-2), dict(min_p=1.5), dict(repetition_penalty=0.0),
                                 dict(presence_penalty=2.5), dict(frequency_penalty=-3.0)])
def test_out_of_range_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        MethodConfig(**bad)


def test_a_request_with_a_presence_or_frequency_penalty_is_not_chunked():
    """They count the request's own output: a continuation chunk would count the chunk so far as
    prompt and decode otherwise, so the leader runs whole and its follower waits for it."""
    def long_thinker(context: str) -> str:
        after = context.split("<think>\n", 1)[1]
        return " \\boxed{42}" + EOS if "</think>" in after else ("x" * 150)[len(after):] + "</think>"

    problem = Problem("p", "q", "42")
    for sampling, chunks in ((dict(), 1), (dict(presence_penalty=0.5), 0), (dict(frequency_penalty=0.1), 0),
                             (dict(repetition_penalty=1.2), 1)):  # prompt + output: a chunk changes nothing
        method = BudgetForcing(TOK, THINK_TAGS, MethodConfig(answer_tokens=16, **sampling))
        leader, follower = method.start(problem, 200, 0, 0, 1), method.start(problem, 10, 0, 0, 1)
        pipeline = Pipeline(Accepting(long_thinker), on_done=lambda job: None)
        pipeline.run([[Job(method, leader, [follower])]])
        assert pipeline.chunks == chunks, sampling
        assert len(follower.thinking_ids) == 10 and len(leader.thinking_ids) == 150
