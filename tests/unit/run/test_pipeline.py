"""The pipeline: no round barrier, results in any order, records stream, followers leave at their caps."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest

from budgetbench.engines.base import RoundAdapter
from budgetbench.testing.scripted import EOS, CharTokenizer, OutOfOrderEngine, ScriptedEngine
from budgetbench.formats import THINK_TAGS
from budgetbench.methods.base import MethodConfig
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.run.pipeline import Job, Pipeline
from budgetbench.run.sweep import Sweep, run_sweep
from budgetbench.tasks import Task
from budgetbench.types import Problem
from tests.helpers.methods import ListStore, policy
from tests.helpers.results import as_pinned

TASK = Task("t", "test", 8, "integer", "", "", lambda d: [])
PROBLEMS = [Problem(f"p{i}", f"question {i}", "42") for i in range(8)]

# sha256 of the sorted records that the round-based runner (before the pipeline) wrote for these
# sweeps with `policy` below, samples=2 (computed with that runner; shared and --no-share agreed).
ROUND_RUNNER_DIGESTS = {
    (("</think>",), (5, 10, 20, 40, 80, 160), (0, 1, 2)): "e757b6266dc4d037ee493a182e957653a5da03bacf151a684f5b6925f284b632",
    (("</think>",), (8, 30, 200), (0, 1, 3)): "6ad014656a440eb0478a07ff70c0db5479e16d99e4c3eb046f3f2f9c6352d279",
    ((), (5, 10, 20, 40, 80, 160), (0, 1, 2)): "c7f994f109af762f832f216584e002216354d3b39dce3631eb37bdf9b593c107",
    ((), (8, 30, 200), (0, 1, 3)): "be6374dc0137005991b328d0675d23c79651675ed27d2ed7127363494b50250d",
}


def digest(records) -> str:
    ordered = sorted(as_pinned(records), key=lambda r: (r["problem_id"], r["budget"], r["waits"], r["sample"]))
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def sweep(engine, budgets, waits, *, share=True, chunk=True, store=None, samples=2):
    method = BudgetForcing(engine.tokenizer, THINK_TAGS, MethodConfig(answer_tokens=16))
    store = store if store is not None else ListStore()
    stats = run_sweep(engine, method, TASK, PROBLEMS, Sweep(budgets, waits, samples=samples, share=share,
                                                             chunk=chunk), store, set(), progress=False)
    return store.records, stats


@pytest.mark.parametrize("specials,budgets,waits", list(ROUND_RUNNER_DIGESTS))
@pytest.mark.parametrize("share,chunk", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("order", [None, 0, 1, 2])
def test_records_equal_the_round_runners_in_any_completion_order(specials, budgets, waits, share, chunk, order):
    tok = CharTokenizer(specials=specials)  # specials=(): '</think>' is 8 tokens and chunks can split it
    if order is None:
        engine = ScriptedEngine(policy, tok)  # batch-only: driven through RoundAdapter
    else:
        engine = OutOfOrderEngine(policy, tok, order_seed=order, capacity=(None, 1, 7)[order])
    records, _ = sweep(engine, budgets, waits, share=share, chunk=chunk)
    assert digest(records) == ROUND_RUNNER_DIGESTS[(specials, budgets, waits)]


def test_capacity_bounds_what_is_in_flight():
    engine = OutOfOrderEngine(policy, CharTokenizer(specials=("</think>",)), capacity=5)
    sweep(engine, (8, 30, 200), (0, 1))
    # Admission stops at the capacity; continuations and released followers may exceed it briefly.
    assert engine.max_in_flight <= 5 + 2 * 3 * 2


def test_a_stop_string_split_by_a_chunk_end_is_found():
    """Thinking 'abcdefgh</think>' (char tokens) with a follower at 10: the first chunk ends
    inside '</think>' ('abcdefgh</'); the merged output must still stop at the delimiter."""

    def short(context: str) -> str:
        after = context.split("<think>\n", 1)[1]
        if "</think>" in after:
            return " \\boxed{42}" + EOS
        return "abcdefgh</think>"[len(after):] + "tail that must never be seen"

    tok = CharTokenizer(specials=())
    engine = ScriptedEngine(short, tok)
    records, _ = sweep(engine, (10, 100), (0,), samples=1)
    by_budget = {r["budget"]: r for r in records if r["problem_id"] == "p0"}
    assert by_budget[100]["thinking_text"] == "abcdefgh" and not by_budget[100]["forced_end"]
    assert by_budget[10]["thinking_text"] == "abcdefgh</" and by_budget[10]["forced_end"]
    separate, _ = sweep(ScriptedEngine(short, tok), (10, 100), (0,), share=False, samples=1)
    assert digest(records) == digest(separate)


def test_followers_finish_before_their_leader_when_chunked():
    def long_thinker(context: str) -> str:
        after = context.split("<think>\n", 1)[1]
        if "</think>" in after:
            return " \\boxed{42}" + EOS
        return ("x" * 150)[len(after):] + "</think>"

    tok = CharTokenizer(specials=("</think>",))
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig(answer_tokens=16))
    for chunk in (True, False):
        leader_phase = {}
        traces = [method.start(PROBLEMS[0], b, 0, 0, 1) for b in (10, 200)]
        leader, follower = traces[1], traces[0]

        def done(job):
            leader_phase[job.trace.budget] = leader.phase

        pipeline = Pipeline(ScriptedEngine(long_thinker, tok), on_done=done, chunk=chunk)
        pipeline.run([[Job(method, leader, [follower])]])
        # chunked: the follower's answer was done while the leader was still thinking
        assert (leader_phase[10] == "thinking") is chunk, leader_phase
        assert pipeline.chunks == (1 if chunk else 0)
        assert follower.forced_end and len(follower.thinking_ids) == 10 and len(leader.thinking_ids) == 150


def test_sampled_thinking_is_not_chunked():
    tok = CharTokenizer(specials=("</think>",))
    engine = ScriptedEngine(policy, tok)
    method = BudgetForcing(tok, THINK_TAGS, MethodConfig(answer_tokens=16, temperature=0.7))
    traces = [method.start(PROBLEMS[0], b, 0, 0, 1) for b in (5, 200)]
    pipeline = Pipeline(engine, on_done=lambda job: None)
    pipeline.run([[Job(method, traces[1], [traces[0]])]])
    assert pipeline.chunks == 0 and all(t.phase == "done" for t in traces)


class SlowOutOfOrder(OutOfOrderEngine):
    def collect(self):
        time.sleep(0.02)
        return super().collect()


def test_records_reach_the_store_while_generation_goes_on():
    engine = SlowOutOfOrder(policy, CharTokenizer(specials=("</think>",)), capacity=4)
    store = ListStore(engine)
    records, _ = sweep(engine, (8, 30, 200), (0, 1), store=store)
    assert len(records) == len(PROBLEMS) * 3 * 2 * 2
    total_calls = engine.stats.calls
    assert len(store.calls_at_append) > 1
    assert store.calls_at_append[0] < total_calls / 2  # the first records landed early in the run


def test_nothing_to_do_sends_nothing():
    engine = ScriptedEngine(policy, CharTokenizer(specials=("</think>",)))
    method = BudgetForcing(engine.tokenizer, THINK_TAGS, MethodConfig())
    done = {(p.id, "8", 0, 0) for p in PROBLEMS}
    stats = run_sweep(engine, method, TASK, PROBLEMS, Sweep((8,)), ListStore(), done, progress=False)
    assert engine.stats.calls == 0 and stats.skipped == len(PROBLEMS) and stats.finished == 0


def test_an_engine_that_loses_requests_is_an_error():
    class Forgetful(OutOfOrderEngine):
        def collect(self):
            return []

    engine = Forgetful(policy, CharTokenizer(specials=("</think>",)))
    with pytest.raises(RuntimeError, match="returned nothing"):
        sweep(engine, (8,), (0,))


def test_a_failing_store_stops_the_run():
    class FullDisk(ListStore):
        def append(self, records):
            raise OSError(28, "No space left on device")

    engine = SlowOutOfOrder(policy, CharTokenizer(specials=("</think>",)), capacity=2)
    with pytest.raises(OSError, match="No space"):
        sweep(engine, (8, 30, 200), (0, 1), store=FullDisk())
    assert not [t for t in threading.enumerate() if t.name == "bench-records"]


def test_round_adapter_generates_everything_pending_in_one_call():
    engine = ScriptedEngine(policy, CharTokenizer(specials=("</think>",)))
    adapter = RoundAdapter(engine)
    assert adapter.collect() == []
    method = BudgetForcing(engine.tokenizer, THINK_TAGS, MethodConfig())
    for i, problem in enumerate(PROBLEMS[:3]):
        adapter.submit(method.next_request(method.start(problem, 8, 0, 0, 1)), i)
    assert [tag for tag, _ in adapter.collect()] == [0, 1, 2] and engine.batches == [3]
