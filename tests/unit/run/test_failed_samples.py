"""Failed samples: a request the engine cannot complete is recorded with its reason and the run
goes on; reports count it as failed, not as a wrong answer; a rerun tries it again without
duplicating anything; an engine that fails everything stops the run instead of filling a file."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from budgetbench.analysis.runs import load_runs
from budgetbench.cli.run import summary_table
from budgetbench.engines.base import EngineError
from budgetbench.errors import RunInterrupted
from budgetbench.formats import THINK_TAGS
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.report.tables import runs_display
from budgetbench.run.config import RunConfig
from budgetbench.run.execute import execute
from budgetbench.run.sweep import Sweep, run_sweep
from budgetbench.tasks import Task
from budgetbench.testing.scripted import CharTokenizer, ScriptedEngine
from budgetbench.types import GenResult, Problem
from tests.helpers.methods import ListStore, policy

REFUSED = "http 400: This model's maximum context length is 4096 tokens"
TASK = Task("t", "test", 8, "integer", "", "", lambda d: [])
PROBLEMS = [Problem(f"p{i}", f"question {i}", "42") for i in range(8)]


class FailingEngine(ScriptedEngine):
    """The scripted model, except that requests for which ``fails(context, request)`` holds come back
    failed, as the openai engine hands back a request the server refused."""

    def __init__(self, fails=lambda context, request: False, max_model_len=None):
        super().__init__(policy, CharTokenizer(specials=("</think>", "<think>\n")), max_model_len)
        self.fails = fails
        self.failed = 0

    def generate(self, requests):
        bad = [self.fails(self.tokenizer.decode(r.prompt_ids), r) for r in requests]
        ok = [r for r, b in zip(requests, bad) if not b]
        results = iter(super().generate(ok) if ok else [])
        self.failed += sum(bad)
        return [GenResult((), error=REFUSED) if b else next(results) for b in bad]


def _plugin(tmp_path) -> str:
    plugin = tmp_path / "eight.py"
    plugin.write_text(
        "from budgetbench.tasks import Task\nfrom budgetbench.types import Problem\n"
        "TASK = Task('eight', 'eight problems', 8, 'integer', '', '', lambda d: "
        "[Problem(f'p{i}', f'question {i}', '42') for i in range(8)])\n")
    return str(plugin)


def _config(tmp_path, **kw) -> RunConfig:
    return RunConfig(**{"task": _plugin(tmp_path), "model": "scripted", "budgets": ("8", "40"),
                        "output": str(tmp_path / "out"), "progress": False,
                        "method_config": MethodConfig(answer_tokens=16), **kw})


def _keys(records):
    return Counter((r["problem_id"], str(r["budget"]), r["waits"], r["sample"]) for r in records)


def test_a_refused_sample_is_recorded_as_failed_the_run_finishes_and_a_rerun_retries_it(tmp_path):
    refuses = FailingEngine(lambda context, request: "question 3" in context or "question 7" in context)
    outcome = execute(_config(tmp_path), engine=refuses)  # returns: bench run exits 0
    assert outcome.stats.failed == 4 and len(outcome.records) == 16
    failed = [r for r in outcome.records if "error" in r]
    assert {(r["problem_id"], r["budget"]) for r in failed} == {("p3", 8), ("p3", 40), ("p7", 8), ("p7", 40)}
    assert all(r["error"] == REFUSED and r["correct"] is False and r["extracted"] is None
               and r["grade_note"] == "failed" for r in failed)
    assert all(r["correct"] for r in outcome.records if "error" not in r)

    # reports: failed samples are counted apart, not as wrong answers, and out of the means
    runs = load_runs([outcome.output], warn=lambda m: None)
    assert list(runs["n"]) == [6, 6] and list(runs["failed"]) == [2.0, 2.0]
    assert list(runs["accuracy_pct"]) == [100.0, 100.0]
    graded = [r for r in outcome.records if "error" not in r and r["budget"] == 40]
    assert runs["mean_thinking_tokens"].iloc[1] == pytest.approx(sum(r["thinking_tokens"] for r in graded) / 6)
    table = summary_table(runs).splitlines()
    assert table[0].split() == ["budget", "waits", "n", "failed", "acc", "%", "thinking_tokens", "forced", "%",
                                "no", "answer", "%"]
    assert table[2].split()[:5] == ["40", "0", "6", "2", "100.0"]
    assert list(runs_display(runs)["failed"]) == ["2", "2"]

    # the rerun tries the failed samples again: nothing duplicated, nothing lost
    with pytest.warns(UserWarning, match=r"4 failed samples are tried again \(the first failed with: http 400"):
        again = execute(_config(tmp_path), engine=FailingEngine())
    assert again.stats.finished == 4 and again.stats.failed == 0 and again.stats.skipped == 12
    assert _keys(again.records) == _keys(outcome.records) and max(_keys(again.records).values()) == 1
    assert len(again.records) == 16 and all("error" not in r and r["correct"] for r in again.records)
    before = (outcome.output / "samples.jsonl").read_bytes()
    assert execute(_config(tmp_path), engine=FailingEngine()).stats.finished == 0
    assert (outcome.output / "samples.jsonl").read_bytes() == before


def test_a_rerun_that_fails_again_keeps_one_record_with_the_new_reason(tmp_path):
    execute(_config(tmp_path), engine=FailingEngine(lambda context, request: "question 3" in context))
    with pytest.warns(UserWarning, match="2 failed samples are tried again"):
        outcome = execute(_config(tmp_path), engine=FailingEngine(lambda context, request: "question 3" in context))
    assert outcome.stats.finished == 2 and outcome.stats.failed == 2
    assert len(outcome.records) == 16 and max(_keys(outcome.records).values()) == 1
    lines = (outcome.output / "samples.jsonl").read_text().splitlines()
    assert sum('"error"' in line for line in lines) == 2 and len(lines) == 16


def _sweep(engine, budgets=(8, 40), share=True, chunk=True, problems=PROBLEMS):
    method = BudgetForcing(engine.tokenizer, THINK_TAGS, MethodConfig(answer_tokens=16))
    store = ListStore()
    stats = run_sweep(engine, method, TASK, problems, Sweep(budgets, share=share, chunk=chunk), store, set(),
                      progress=False)
    return {(r["problem_id"], r["budget"]): r for r in store.records}, stats


@pytest.mark.parametrize("share,chunk", [(True, True), (True, False), (False, False)])
def test_a_failed_leader_leaves_the_budgets_that_shared_its_thinking_exact(share, chunk):
    """Budget 8 rides on budget 40's thinking. When only budget 40's long request is refused, budget
    8's record is exactly what a run without failures writes (it goes on with its own requests)."""
    reference, _ = _sweep(FailingEngine(), share=share, chunk=chunk)
    long = next(p.id for p in PROBLEMS if reference[(p.id, 40)]["thinking_tokens"] > 12)
    engine = FailingEngine(lambda context, request: f"question {long[1:]}<" in context
                           and request.params.max_tokens > 20)  # budget 40's thinking (answers ask for 16)
    records, stats = _sweep(engine, share=share, chunk=chunk)
    assert engine.failed >= 1 and stats.failed == 1 and len(records) == 16
    assert records[(long, 40)]["error"] == REFUSED
    assert {k: r for k, r in records.items() if k != (long, 40)} == \
        {k: r for k, r in reference.items() if k != (long, 40)}


def test_an_engine_failing_every_request_stops_the_run_and_writes_nothing(tmp_path):
    everything = FailingEngine(lambda context, request: True)
    with pytest.raises(EngineError, match=r"the samples of 5 problems in a row failed, none succeeded in between "
                                          r"\(http 400: .*\); they are not recorded"):
        _sweep(everything)
    few = FailingEngine(lambda context, request: True)
    with pytest.raises(EngineError, match=r"every sample of this run failed \(http 400: .*\); none is recorded"):
        _sweep(few, problems=PROBLEMS[:3])
    with pytest.raises(RunInterrupted, match=r"the run stopped: EngineError: the samples of 5 problems in a row "
                                             r"failed.*rerun the same command to resume \(0 new samples"):
        execute(_config(tmp_path), engine=FailingEngine(lambda context, request: True))
    assert (tmp_path / "out" / "samples.jsonl").read_text() == ""
    outcome = execute(_config(tmp_path), engine=FailingEngine())  # the server is fixed: all of it runs
    assert len(outcome.records) == 16 and outcome.stats.failed == 0


def test_failed_samples_among_successes_are_written_whenever_they_come():
    """Held back while no sample has succeeded since, then written: the last problem's too."""
    records, stats = _sweep(FailingEngine(lambda context, request: "question 0" in context
                                          or "question 7" in context))
    assert stats.failed == 4 and len(records) == 16
    assert {k for k, r in records.items() if "error" in r} == {("p0", 8), ("p0", 40), ("p7", 8), ("p7", 40)}


def test_bench_score_leaves_failed_samples_ungraded(tmp_path):
    from budgetbench.results.rescore import rescore
    from budgetbench.tasks import get_task

    question = get_task("toy_sum").load(None)[3].question  # a task bench score finds by name
    outcome = execute(_config(tmp_path, task="toy_sum", limit=8),
                      engine=FailingEngine(lambda context, request: question in context))
    before = [json.loads(line) for line in (outcome.output / "samples.jsonl").read_text().splitlines()]
    result = rescore(outcome.output)
    after = [json.loads(line) for line in (outcome.output / "samples.jsonl").read_text().splitlines()]
    assert result.records == 14 and result.changed == 0
    assert [r for r in after if "error" in r] == [r for r in before if "error" in r]
