"""Nested budgets share their prefixes: a sweep's thinking is generated once, at the largest budget.

Why it is exact. For one (problem, sample), the budget-forcing traces at caps B1 < ... < Bm and wait
counts w1 < ... < wk start from the same prompt and seed, and ask the engine for the same thing
round after round (same context, same per-round seed, same stops) until one of them leaves the
thinking phase; only ``max_tokens`` differs. Generation is a per-step process, so the output of a
request with ``max_tokens = r`` is the first ``r`` tokens of the output with a larger limit (or the
same output, if it stopped before ``r``). The trace with the largest cap and the most waits (the
*leader*) leaves the thinking phase last: a smaller cap is cut first, fewer waits run out first, and
a wait string that does not fit a larger cap does not fit a smaller one. So each other trace (a
*follower*) can be driven by the leader's outputs, each cut to the follower's own ``max_tokens``,
through the method's own ``update``: the follower's record is the one a separate run would write.
Under greedy decoding that holds token for token; under sampling each follower is an exact sample
of its capped process, drawn with the same per-sample seed (its first tokens are the leader's).

A follower that ended its thinking where the leader did asks for the same answer as the leader;
the pipeline sends identical requests in flight to the engine once.
"""

from __future__ import annotations

from typing import Sequence

from budgetbench.engines.base import context_ended
from budgetbench.methods.base import Trace
from budgetbench.types import Completion, GenRequest, GenResult


def families(traces: Sequence[Trace]) -> tuple[list[Trace], dict[int, list[Trace]]]:
    """Split traces into the ones that run (leaders and loners) and, per leader, its followers.

    Traces of one (problem, sample) are taken largest (cap, waits) first; each joins the first
    leader that dominates it (cap and waits both at least its own), else becomes a leader.
    """
    groups: dict[tuple[str, int], list[Trace]] = {}
    for t in traces:
        groups.setdefault((t.problem.id, t.sample), []).append(t)
    runners, followers = [], {}
    for group in groups.values():
        leaders: list[Trace] = []
        for t in sorted(group, key=lambda t: (_cap(t), t.waits), reverse=True):
            leader = next((lead for lead in leaders if _cap(lead) >= _cap(t) and lead.waits >= t.waits), None)
            if leader is None:
                leaders.append(t)
                followers[id(t)] = []
            else:
                followers[id(leader)].append(t)
        runners.extend(leaders)
    return runners, followers


def _cap(trace: Trace) -> float:
    return trace.budget if isinstance(trace.budget, int) else float("inf")


def truncate(completion: Completion, max_tokens: int, decode) -> Completion:
    """What an engine returns for the same request with a smaller ``max_tokens``."""
    if len(completion.token_ids) <= max_tokens:
        return completion
    ids = completion.token_ids[:max_tokens]
    return Completion(ids, decode(ids), "length", None)


def shadow_step(method, follower: Trace, leader_request: GenRequest, result: GenResult,
                request: GenRequest | None = None, max_model_len: int | None = None) -> bool:
    """Advance a follower by the leader's thinking round; False once it has left the thinking phase.
    ``request``: the follower's own request for this round, if the caller asked for it already;
    ``max_model_len``: the context, whose edge sets the follower's ``context_limited``."""
    if request is None:
        request = method.next_request(follower)  # may force an end when the cap is reached exactly
    if request is None or follower.phase != "thinking":
        return False
    if len(request.prompt_ids) != len(leader_request.prompt_ids) or request.params.seed != leader_request.params.seed:
        raise AssertionError("a follower lost step with its leader")  # the dominance argument failed
    cut = GenResult(tuple(truncate(c, request.params.max_tokens, method.tok.decode) for c in result.completions))
    if len(cut.completions) == 1 and context_ended(request, cut.first, max_model_len):
        follower.context_limited = True
    method.update(follower, cut)
    return follower.phase == "thinking"
