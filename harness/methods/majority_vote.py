"""Majority voting (parallel scaling, s1 paper Fig. 4): K samples per problem, one vote.

The budget is K, the number of samples. A sweep ``--budgets 1,2,4,8,16`` generates one set of
max(K) samples per problem (temperature 1 by default), each a plain generation or, with
``--budget-per-sample N``, budget forcing capped at N tokens (the hybrid of sequential and
parallel scaling). maj@k and pass@k for every k are computed from that one set by
``budgetbench.analysis.votes`` at report time; records are ordinary per-sample records whose ``budget`` is
the per-sample cap (``none`` when uncapped), so adding a larger K later only generates the
missing samples.
"""

from __future__ import annotations

from typing import ClassVar

from budgetbench.budgets import Budget
from budgetbench.methods.base import Trace
from budgetbench.methods.budget_forcing import UNCAPPED, BudgetForcing, _positive_int


class MajorityVote(BudgetForcing):
    name: ClassVar[str] = "majority_vote"
    label: ClassVar[str] = "MV"
    budget_unit: ClassVar[str] = "samples"
    tokens_per_unit: ClassVar[float | None] = None
    votes: ClassVar[bool] = True
    native_budget: ClassVar[bool] = False
    description: ClassVar[str] = "K samples (temperature 1), majority vote; --budget-per-sample adds a BF cap"
    default_temperature: ClassVar[float] = 1.0

    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        return _positive_int(text, "a number of samples K")

    def sweep(self, budgets: tuple[Budget, ...], samples: int) -> tuple[tuple[Budget, ...], int]:
        """What the runner generates: max(K) samples at the per-sample cap."""
        if samples != 1:
            raise ValueError("majority_vote takes its samples from --budgets (K values), not --samples")
        cap = self.config.budget_per_sample
        return ((cap if cap else UNCAPPED),), max(int(b) for b in budgets)

    def thinking_cap(self, trace: Trace) -> int | None:
        return trace.budget if isinstance(trace.budget, int) else None
