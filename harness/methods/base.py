"""The round-based method protocol, the per-sample trace, and the method registry.

A method never calls the engine. For each live trace the runner asks ``next_request`` (None =
finished), sends the requests of every live trace in one engine call, and hands each result to
``update``. That keeps batches full, makes resume natural (finished traces are on disk) and lets
the runner mix budgets freely.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, ClassVar, Protocol

from budgetbench.engines.base import Tokenizer
from budgetbench.formats import ThinkingFormat
from budgetbench.types import GenRequest, GenResult, Problem

Budget = int | str


@dataclass(frozen=True)
class MethodConfig:
    """Settings shared by all methods (command-line flags)."""

    answer_tokens: int = 1024
    waits: int = 0
    wait_string: str = "Wait"
    temperature: float | None = None  # None: the method's default (0, or 1 for sampling methods)
    top_p: float = 1.0
    max_tries: int = 1000
    step_delimiter: str = "\n\n"
    budget_per_sample: int | None = None  # majority_vote: a budget-forcing cap on each sample
    native_thinking_budget: bool = False  # budget_forcing caps through vLLM's thinking_token_budget

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if not out["native_thinking_budget"]:  # absent unless used: older specs stay comparable
            del out["native_thinking_budget"]
        return out


@dataclass
class Trace:
    """Mutable state of one (problem, budget, waits, sample) as it moves through rounds.

    The model's context is always ``prompt_ids + thinking_ids + transition_ids + answer_ids``:
    ``thinking_ids`` are the thinking tokens (generated or inserted extension strings, each
    counted once), ``transition_ids`` the end-of-thinking delimiter and what follows it before the
    answer (answer prefix after a cut), ``answer_ids`` the tokens the model generated as answer.
    """

    problem: Problem
    budget: Budget
    sample: int
    seed: int
    prompt_ids: tuple[int, ...]
    waits: int = 0
    phase: str = "thinking"  # thinking -> answer -> done
    thinking_ids: list[int] = field(default_factory=list)
    transition_ids: list[int] = field(default_factory=list)
    answer_prefix_ids: list[int] = field(default_factory=list)  # part of transition after the delimiter
    answer_ids: list[int] = field(default_factory=list)
    extensions: int = 0
    forced_end: bool = False
    finish_reason: str | None = None
    rounds: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int, int]:
        return run_key(self.problem.id, self.budget, self.waits, self.sample)

    def context(self) -> tuple[int, ...]:
        return (*self.prompt_ids, *self.thinking_ids, *self.transition_ids, *self.answer_ids)

    def round_seed(self) -> int:
        """A seed per (sample, round): rounds differ, budgets of one sample agree."""
        return (self.seed * 1_000_003 + self.rounds) % 2**31


def run_key(problem_id: str, budget: Budget, waits: int, sample: int) -> tuple[str, str, int, int]:
    """The identity of one record in a results directory (budget as text: 512 and "512" agree)."""
    return (str(problem_id), str(budget), int(waits), int(sample))


def sample_seed(seed: int, problem_id: str, sample: int) -> int:
    """Per-sample seed, independent of the budget and of the order problems are run in."""
    return zlib.crc32(f"{seed}:{problem_id}:{sample}".encode()) & 0x7FFFFFFF


class Method(Protocol):
    name: ClassVar[str]
    budget_unit: ClassVar[str]  # tokens | steps | class | samples
    description: ClassVar[str]

    def parse_budget(self, text: str) -> Budget: ...

    def start(self, problem: Problem, budget: Budget, waits: int, sample: int, seed: int) -> Trace: ...

    def next_request(self, trace: Trace) -> GenRequest | None: ...

    def update(self, trace: Trace, result: GenResult) -> None: ...

    def record_fields(self, trace: Trace) -> dict[str, Any]: ...


MethodFactory = Callable[[Tokenizer, ThinkingFormat, MethodConfig], Method]

_BUILTIN: dict[str, str] = {
    "budget_forcing": "budgetbench.methods.budget_forcing:BudgetForcing",
    "none": "budgetbench.methods.budget_forcing:NoControl",
    "token_conditional": "budgetbench.methods.conditional:TokenConditional",
    "token_conditional+bf": "budgetbench.methods.conditional:TokenConditionalBF",
    "step_conditional": "budgetbench.methods.conditional:StepConditional",
    "step_conditional+bf": "budgetbench.methods.conditional:StepConditionalBF",
    "class_conditional": "budgetbench.methods.conditional:ClassConditional",
    "rejection_sampling": "budgetbench.methods.rejection:RejectionSampling",
    "majority_vote": "budgetbench.methods.majority_vote:MajorityVote",
}


def available_methods() -> dict[str, str]:
    """Method name -> 'module:attribute', built-ins first, then the ``budgetbench.methods``
    entry-point group (how a third party adds a method without editing the harness)."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="budgetbench.methods"):
        found.setdefault(ep.name, ep.value)
    return found


def load_method_class(name: str) -> type:
    import importlib

    methods = available_methods()
    if name not in methods:
        raise KeyError(name)
    module, _, attr = methods[name].partition(":")
    return getattr(importlib.import_module(module), attr)
