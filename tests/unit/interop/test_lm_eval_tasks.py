"""lm-eval interop without a model: task references, local lm-eval tasks, grading, gen_kwargs."""

from __future__ import annotations


import pytest

from budgetbench.errors import UserError
from budgetbench.interop.lm_eval_tasks import INCLUDE_ENV, LmEvalTaskRef, parse_ref
from budgetbench.toy import make_problems
from tests.helpers.lm_eval import write_local_task


# -- references (no lm-eval needed) -------------------------------------------------------------
def test_reference_forms(tmp_path):
    assert parse_ref("lm_eval:gsm8k", env={}) == LmEvalTaskRef("gsm8k")
    assert parse_ref(f"lm_eval:mine@{tmp_path}", env={}) == LmEvalTaskRef("mine", (str(tmp_path),))
    assert parse_ref("lm_eval:mine?grader=math", env={INCLUDE_ENV: str(tmp_path)}) == LmEvalTaskRef(
        "mine", (str(tmp_path),), "math")
    other = tmp_path / "more"
    other.mkdir()
    both = parse_ref(f"lm_eval:mine@{tmp_path}?grader=integer", env={INCLUDE_ENV: f"{other}:"})
    assert both.include == (str(tmp_path), str(other)) and both.grader == "integer"


@pytest.mark.parametrize("text,message", [
    ("lm_eval:", "name an lm-eval task"),
    ("lm_eval:mine?grader=vibes", "grader must be one of"),
    ("lm_eval:mine?filter=x", "unknown option"),
    ("lm_eval:mine@/no/such/folder", "does not exist"),
])
def test_bad_references_are_one_line_errors(text, message):
    with pytest.raises(UserError, match=message):
        parse_ref(text, env={})


# -- local lm-eval tasks -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lm_eval_installed():
    return pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install 'budgetbench[lm-eval]')")


def test_local_task_loads_prompts_targets_and_grades_with_its_metric(lm_eval_installed, tmp_path):
    from budgetbench.tasks import get_task

    folder = write_local_task(tmp_path / "tasks")
    task = get_task(f"lm_eval:bb_toy_sum@{folder}")
    problems = task.load(None)
    toy = make_problems(6, seed=7)
    assert task.name == "lm_eval:bb_toy_sum" and task.size == 6 and task.grader is not None
    assert [p.question for p in problems] == [p.question for p in toy]  # doc_to_text
    assert [p.gold for p in problems] == [p.gold for p in toy]  # doc_to_target
    assert "bb_toy_sum" in task.source(None) and "grader: task" in task.source(None)
    right, wrong, none = (f"\n\n\\boxed{{{toy[0].gold}}}", "\n\nFinal Answer: \\boxed{1}", "no box at all")
    grades = task.grader([(problems[0], right), (problems[0], wrong), (problems[1], none)])
    assert [g.correct for g in grades] == [True, False, False]
    assert grades[0].extracted == toy[0].gold and grades[1].extracted == "1"  # the task's regex filter
    assert grades[1].reason == "exact_match=0"


def test_grader_option_uses_budgetbench_grading(lm_eval_installed, tmp_path, monkeypatch):
    from budgetbench.tasks import get_task

    folder = write_local_task(tmp_path / "tasks")
    monkeypatch.setenv(INCLUDE_ENV, str(folder))
    task = get_task("lm_eval:bb_toy_sum?grader=integer")
    assert task.grader is None and task.answer_kind == "integer"


def test_non_generative_and_unknown_tasks_are_refused(lm_eval_installed, tmp_path):
    from budgetbench.tasks import get_task

    folder = write_local_task(tmp_path / "tasks", name="bb_choice", output_type="multiple_choice")
    with pytest.raises(UserError, match="generate_until tasks only"):
        get_task(f"lm_eval:bb_choice@{folder}")


# -- the lm-eval model's helpers ---------------------------------------------------------------
def test_gen_kwargs_map_to_method_settings(lm_eval_installed):
    from budgetbench.interop.lm_eval_model import GenSettings

    s = GenSettings.from_gen_kwargs({"method": "budget_forcing", "budget": 2048, "waits": 1, "wait_string": "Wait",
                                     "until": ["Question:"], "max_gen_toks": 256, "do_sample": False})
    assert (s.method, s.budget, s.waits, s.until) == ("budget_forcing", "2048", 1, ("Question:",))
    assert s.method_config.answer_tokens == 256 and s.method_config.temperature == 0.0
    assert GenSettings.from_gen_kwargs({"answer_tokens": 9, "max_gen_toks": 99}).method_config.answer_tokens == 9
    assert GenSettings.from_gen_kwargs({}).method_config.temperature is None  # the method's default
    with pytest.raises(UserError, match="waits must be >= 0"):
        GenSettings.from_gen_kwargs({"waits": -1})


def test_until_cuts_the_answer_after_its_leading_whitespace(lm_eval_installed):
    from budgetbench.interop.lm_eval_model import cut_at_until

    assert cut_at_until("\n\n\\boxed{3}\n\nQuestion: next", ["\n\n", "Question:"]) == "\n\n\\boxed{3}"
    assert cut_at_until("\n\n42", []) == "\n\n42"


def test_rendered_context_detection(lm_eval_installed):
    from budgetbench.formats import THINK_TAGS
    from budgetbench.interop.lm_eval_model import is_rendered

    suffix = "<|end|>\n<|assistant|>\n<think>\n"
    assert is_rendered("<|user|>\nAdd: a=1<|end|>\n<|assistant|>\n<think>\n", suffix, THINK_TAGS)
    assert is_rendered("<|user|>\nAdd: a=1<|end|>\n<|assistant|>\n", suffix, THINK_TAGS)
    assert not is_rendered("Add: a=1", suffix, THINK_TAGS)
    assert not is_rendered("Add: a=1\n", "\n", THINK_TAGS)  # no chat template: never rendered
