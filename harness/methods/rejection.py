"""Rejection sampling (s1 paper §3.1): resample until the thinking ends by itself within budget.

A candidate is generated with ``max_tokens = budget + 1``: one that reaches it, or that ends its
thinking after more than ``budget`` tokens, is rejected, so a rejected candidate costs at most
``budget + 1`` tokens. Candidates of all problems ride in the runner's batched rounds; a problem
still unmet after a round asks for twice as many candidates next round (n = 1, 2, 4, ... 64, as
one request with ``n``), and the first accepted candidate in try order is taken, so ``tries`` is
exactly what sequential resampling would have counted. After ``max_tries`` the sample is recorded
as unmet: no answer, graded wrong, ``unmet: true``. Temperature defaults to 1.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from budgetbench.methods.base import Trace
from budgetbench.methods.budget_forcing import BudgetForcing
from budgetbench.types import GenRequest, GenResult

MAX_CANDIDATES_PER_ROUND = 64


class RejectionSampling(BudgetForcing):
    shares_prefixes: ClassVar[bool] = False  # the prompt or the sampling differs per budget
    name: ClassVar[str] = "rejection_sampling"
    label: ClassVar[str] = "RS"
    native_budget: ClassVar[bool] = False
    budget_unit: ClassVar[str] = "tokens"
    description: ClassVar[str] = "resample (temperature 1) until thinking ends by itself within N tokens"
    default_temperature: ClassVar[float] = 1.0

    def start(self, *args: Any) -> Trace:
        trace = super().start(*args)
        trace.extra.update(tries=0, candidate_tokens=0, next_n=1, unmet=False)
        return trace

    def next_request(self, trace: Trace) -> GenRequest | None:
        if trace.phase != "thinking":
            return super().next_request(trace)
        x = trace.extra
        n = min(x["next_n"], self.config.max_tries - x["tries"])
        request = self._request(trace, int(trace.budget) + 1, (self.fmt.thinking_end, *self._answer_stops))
        # Candidate t (0-based, over all rounds) is sampled with seed base + t.
        seed = (trace.seed * 1_000_003 + 1_000 + x["tries"]) % 2**31
        return GenRequest(request.prompt_ids, replace(request.params, n=n, seed=seed))

    def update(self, trace: Trace, result: GenResult) -> None:
        if trace.phase != "thinking":
            return super().update(trace, result)
        x = trace.extra
        trace.rounds += 1
        for candidate in result.completions:
            x["tries"] += 1
            x["candidate_tokens"] += len(candidate.token_ids)
            thinking, own_delimiter = self._split_thinking(candidate)
            if own_delimiter is not None and len(thinking) <= int(trace.budget):
                trace.thinking_ids = thinking
                self._enter_answer(trace, own_delimiter, [])
                return
        if x["tries"] >= self.config.max_tries:
            x["unmet"] = True
            trace.phase, trace.finish_reason = "done", "unmet"
            return
        x["next_n"] = min(2 * x["next_n"], MAX_CANDIDATES_PER_ROUND)

    def record_fields(self, trace: Trace) -> dict[str, Any]:
        fields = super().record_fields(trace)
        x = trace.extra
        fields.update(tries=x["tries"], candidate_tokens=x["candidate_tokens"], unmet=x["unmet"])
        return fields
