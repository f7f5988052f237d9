"""An engine error midway keeps the finished samples and says how to resume."""

from __future__ import annotations

import json

import pytest

from budgetbench.testing.scripted import EOS, CharTokenizer, ScriptedEngine
from budgetbench.errors import RunInterrupted, UserError
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute


class FlakyEngine(ScriptedEngine):
    """Answers normally, then fails like a GPU running out of memory."""

    def __init__(self, fail_on_call: int):
        super().__init__(lambda c: "\\boxed{1}" + EOS if "</think>" in c.split("<think>\n", 1)[1] else "hm</think>",
                         CharTokenizer(specials=("</think>", "<think>\n")))
        self.fail_on_call = fail_on_call

    def generate(self, requests):
        if self.stats.calls + 1 == self.fail_on_call:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().generate(requests)


@pytest.fixture
def config(tmp_path, data_dir):
    return RunConfig(task="math500", model="scripted", budgets=("40",), waits=(0, 1, 2), limit=3,
                     output=str(tmp_path / "out"), data_dir=str(data_dir), progress=False)


def test_engine_error_keeps_finished_samples_and_resume_completes(config):
    with pytest.raises(RunInterrupted, match=r"out of memory.*rerun the same command to resume \(3 new samples are saved"):
        execute(config, engine=FlakyEngine(fail_on_call=3))
    lines = open(f"{config.output}/samples.jsonl").read().splitlines()
    assert len(lines) == 3 and all(json.loads(x)["waits"] == 0 for x in lines)  # round 2 finished waits=0
    outcome = execute(config, engine=FlakyEngine(fail_on_call=-1))
    assert outcome.stats.skipped == 3 and len(outcome.records) == 9


PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    "eval(\"__import__('os').system('touch {marker}')\")",
    "(lambda: __import__('os').system('touch {marker}'))()",
    "().__class__.__bases__[0].__subclasses__()",
]


def test_hostile_model_output_through_a_whole_run_executes_nothing(tmp_path, data_dir):
    marker = tmp_path / "pwned"
    answers = [p.format(marker=marker) for p in PAYLOADS]

    def hostile(context: str) -> str:
        if "</think>" not in context.split("<think>\n", 1)[1]:
            return "thinking</think>"
        pick = answers[len(context) % len(answers)]
        return f"\\boxed{{{pick}}} and also Final Answer: {pick}" + EOS

    engine = ScriptedEngine(hostile, CharTokenizer(specials=("</think>", "<think>\n")))
    for task in ("math500", "aime24"):
        config = RunConfig(task=task, model="scripted", budgets=("50",), limit=8, output=str(tmp_path / task),
                           data_dir=str(data_dir), progress=False)
        outcome = execute(config, engine=engine)
        assert len(outcome.records) == 8 and not any(r["correct"] for r in outcome.records)
    assert not marker.exists()


def _toy_config(tmp_path, **kw):
    return RunConfig(**{"task": "toy_sum", "model": "scripted", "budgets": ("8",), "limit": 3,
                        "output": str(tmp_path / "out"), "progress": False, **kw})


@pytest.fixture
def scripted():
    return FlakyEngine(fail_on_call=-1)


@pytest.mark.parametrize("budgets", [("8", "08"), ("8", "+8")])
def test_one_budget_written_two_ways_is_refused_before_anything_is_written(tmp_path, scripted, budgets):
    with pytest.raises(UserError, match="lists budget 8 twice"):
        execute(_toy_config(tmp_path, budgets=budgets), engine=scripted)
    assert not (tmp_path / "out").exists() and scripted.stats.calls == 0


def test_a_task_whose_ids_repeat_is_refused(tmp_path, scripted):
    plugin = tmp_path / "twice.py"
    plugin.write_text(
        "from budgetbench.tasks import Task\n"
        "from budgetbench.types import Problem\n"
        "TASK = Task('twice', 'ids repeat', 3, 'integer', '', '', lambda d: "
        "[Problem('a', 'q1', '1'), Problem('b', 'q2', '2'), Problem('a', 'q3', '3')])\n")
    with pytest.raises(UserError, match="two problems with id 'a'"):
        execute(_toy_config(tmp_path, task=str(plugin)), engine=scripted)
    assert not (tmp_path / "out").exists()


def test_an_empty_thinking_end_is_refused(tmp_path, scripted):
    with pytest.raises(UserError, match="--thinking-end must not be empty"):
        execute(_toy_config(tmp_path, format_overrides={"thinking_end": ""}), engine=scripted)
    assert not (tmp_path / "out").exists()


def test_one_loaded_engine_runs_several_methods(tmp_path, scripted):
    """The notebook use: load a model once, run methods on it one after another."""
    outcomes = [execute(_toy_config(tmp_path, method=method, budgets=("8", "40"), output=str(tmp_path / method)),
                        engine=scripted)
                for method in ("budget_forcing", "token_conditional", "step_conditional")]
    assert [len(o.records) for o in outcomes] == [6, 6, 6]
    assert {r["method"] for o in outcomes for r in o.records} == {"budget_forcing", "token_conditional",
                                                                 "step_conditional"}
    assert scripted.stats.calls > 0


def _aime_plugin(tmp_path, gold: str) -> str:
    plugin = tmp_path / "badgold.py"
    plugin.write_text(
        "from budgetbench.tasks import Task\n"
        "from budgetbench.types import Problem\n"
        f"TASK = Task('badgold', 'a gold that is no integer', 2, 'integer', '', '', lambda d: "
        f"[Problem('a', 'q1', '1'), Problem('b', 'q2', {gold!r})])\n")
    return str(plugin)


def test_a_bad_gold_is_refused_before_generating(tmp_path, scripted):
    with pytest.raises(UserError, match=r"problem b: integer gold must be an integer, got 'abc'"):
        execute(_toy_config(tmp_path, task=_aime_plugin(tmp_path, "abc")), engine=scripted)
    assert scripted.stats.calls == 0 and not (tmp_path / "out").exists()


def test_bad_budgets_and_a_busy_directory_are_refused_before_the_model_loads(tmp_path, scripted):
    """No engine is given and the model does not exist: the error must be about the flag or the lock."""
    with pytest.raises(UserError, match="--budgets: .*2k"):
        execute(_toy_config(tmp_path, budgets=("2k",), model="/no/such/model"))
    execute(_toy_config(tmp_path), engine=scripted)  # a finished run in tmp_path/out
    import fcntl
    import os

    fd = os.open(tmp_path / "out" / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another writer holds it
    try:
        with pytest.raises(UserError, match="another bench process is writing"):
            execute(_toy_config(tmp_path, model="no-such-org/no-such-model"))  # a hub id: loading would fail
    finally:
        os.close(fd)


def test_a_run_too_large_to_plan_is_refused(tmp_path, scripted):
    with pytest.raises(UserError, match="would plan 300,000,000 samples"):
        execute(_toy_config(tmp_path, samples=100_000_000), engine=scripted)
    assert scripted.stats.calls == 0


def test_majority_vote_warns_when_k_looks_like_a_token_budget(tmp_path, scripted):
    with pytest.warns(UserWarning, match="K=512 draws 512 samples per problem"):
        with pytest.raises(UserError):  # stop it before it draws them: the size check fires too
            execute(_toy_config(tmp_path, method="majority_vote", budgets=("512",), limit=3,
                                waits=tuple(range(10_000))), engine=scripted)


def test_a_budget_that_leaves_no_room_for_the_answer_is_refused(tmp_path):
    """Prompt + budget + answer beyond the context: the context, not the budget, would end the
    thinking and the answer would get no tokens. Refused before anything is written."""
    from budgetbench.methods.base import MethodConfig

    small = FlakyEngine(fail_on_call=-1)
    small.max_model_len = 200
    with pytest.raises(UserError, match=r"prompt \(\d+ tokens\) \+ budget 100 .* exceed the model's context of 200"):
        execute(_toy_config(tmp_path, budgets=("8", "100")), engine=small)  # --answer-tokens 1024
    assert small.stats.calls == 0 and not (tmp_path / "out").exists()
    outcome = execute(_toy_config(tmp_path, budgets=("8", "100"), method_config=MethodConfig(answer_tokens=16)),
                      engine=small)
    assert len(outcome.records) == 6


def test_default_output_folders_of_two_models_with_one_name_differ():
    from budgetbench.run.config import default_output

    a, b = default_output("aime24", "org-a/s1.1-32B", "budget_forcing"), default_output("aime24", "org-b/s1.1-32B", "x")
    assert a.parts[2] == "org-a__s1.1-32B" and b.parts[2] == "org-b__s1.1-32B"
    assert default_output("t", "/models/qwq/", "token_conditional+bf").parts[2:] == ("models__qwq", "token_conditional_bf")


def test_the_spec_records_a_hash_of_the_data_and_a_resume_on_other_data_is_refused(tmp_path, scripted):
    plugin = tmp_path / "task.py"
    source = ("from budgetbench.tasks import Task\nfrom budgetbench.types import Problem\n"
              "TASK = Task('t', 't', 3, 'integer', '', '', lambda d: [Problem(f'p{{i}}', 'q{gold}', '1') for i in range(3)])\n")
    plugin.write_text(source.format(gold=""))
    outcome = execute(_toy_config(tmp_path, task=str(plugin), limit=2), engine=scripted)
    assert len(json.loads((outcome.output / "spec.json").read_text())["data_sha256"]) == 64
    assert len(execute(_toy_config(tmp_path, task=str(plugin), limit=3), engine=scripted).records) == 3  # --limit grows
    plugin.write_text(source.format(gold=" (revised)"))  # the same ids, other questions
    with pytest.raises(UserError, match="data_sha256: "):
        execute(_toy_config(tmp_path, task=str(plugin), limit=3), engine=scripted)
