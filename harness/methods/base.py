"""The method contract, the per-sample trace, and the settings methods share.

A method never calls the engine. For each live trace the pipeline asks ``next_request`` (None =
finished), submits it, and hands the result to ``update`` the moment it returns. That keeps the
engine's batch full, makes resume natural (finished traces are on disk) and lets one run mix
budgets freely.

:class:`Method` lists everything budgetbench reads from a method: a plugin that implements exactly
it runs. :class:`MethodBase` gives the optional parts their defaults.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from budgetbench.budgets import Budget
from budgetbench.types import NEUTRAL_SAMPLING, GenRequest, GenResult, Problem


@dataclass(frozen=True)
class MethodConfig:
    """Settings shared by all methods (command-line flags)."""

    answer_tokens: int = 1024
    wait_string: str = "Wait"
    temperature: float | None = None  # None: the method's default (0, or 1 for sampling methods)
    top_p: float = 1.0
    # vLLM's SamplingParams, with vLLM's meanings and neutral defaults (top_k 0 or -1: off)
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    max_tries: int = 1000
    step_delimiter: str = "\n\n"
    budget_per_sample: int | None = None  # majority_vote: a budget-forcing cap on each sample
    native_thinking_budget: bool = False  # budget_forcing caps through vLLM's thinking_token_budget

    def __post_init__(self) -> None:
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < -1:
            raise ValueError(f"top_k must be an integer >= 1, or 0 or -1 (off), got {self.top_k!r}")
        if self.top_k == -1:
            object.__setattr__(self, "top_k", 0)
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}")
        if not (math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0):
            raise ValueError(f"repetition_penalty must be a finite number > 0, got {self.repetition_penalty}")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2.0 <= getattr(self, name) <= 2.0:
                raise ValueError(f"{name} must be in [-2, 2], got {getattr(self, name)}")

    def sampling(self) -> dict[str, float]:
        """top_k, min_p and the penalties, as SamplingParams keywords."""
        return {name: getattr(self, name) for name in NEUTRAL_SAMPLING}

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if not out["native_thinking_budget"]:  # absent unless used: older specs stay comparable
            del out["native_thinking_budget"]
        for name, off in NEUTRAL_SAMPLING.items():  # likewise: only a setting that changes decoding
            if out[name] == off:
                del out[name]
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
    # Set by the pipeline, not by methods: the model's context window ended a round's output (the
    # thinking or the answer), and a request of this trace failed for good (then it is done).
    context_limited: bool = False
    error: str | None = None

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


@runtime_checkable
class Method(Protocol):
    """What the runner, the CLI and the tables read from a method (class attributes, then the
    instance that ``cls(tokenizer, fmt, config)`` makes)."""

    name: ClassVar[str]  # the --method name
    description: ClassVar[str]  # one line for `bench methods`
    label: ClassVar[str]  # short name in tables and figures (the paper's BF, TCC, ...)
    budget_unit: ClassVar[str]  # tokens | steps | class | samples | none
    tokens_per_unit: ClassVar[float | None]  # token cap of one budget unit (Control); None: no cap
    named_budgets: ClassVar[tuple[str, ...]]  # budgets that are words, in display order
    reference_budget: ClassVar[str | None]  # a budget that is the reference point, not a member (CCC)
    default_budgets: ClassVar[tuple[str, ...]]  # used when --budgets is not given; () = required
    shares_prefixes: ClassVar[bool]  # one prompt for every budget: nested budgets share thinking
    votes: ClassVar[bool]  # records are samples of a vote: the budget is K (reports count maj@K)
    native_budget: ClassVar[bool]  # can cap through the engine's thinking_token_budget
    temperature: float  # the temperature in effect (recorded in the spec)

    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        """One ``--budgets`` item; raises ValueError with a readable reason. A classmethod:
        budgets are checked before the model is loaded."""
        ...

    def sweep(self, budgets: tuple[Budget, ...], samples: int) -> tuple[tuple[Budget, ...], int]:
        """(budgets, samples per budget) the runner generates for the user's budgets and --samples;
        raises ValueError for a combination the method does not take."""
        ...

    def start(self, problem: Problem, budget: Budget, waits: int, sample: int, seed: int) -> Trace: ...

    def next_request(self, trace: Trace) -> GenRequest | None: ...

    def update(self, trace: Trace, result: GenResult) -> None: ...

    def record_fields(self, trace: Trace) -> dict[str, Any]: ...


class MethodBase:
    """Defaults for the optional parts of :class:`Method` (subclass it, or define them all)."""

    label: ClassVar[str] = ""  # "": the name
    budget_unit: ClassVar[str] = "tokens"
    tokens_per_unit: ClassVar[float | None] = 1.0
    named_budgets: ClassVar[tuple[str, ...]] = ()
    reference_budget: ClassVar[str | None] = None
    default_budgets: ClassVar[tuple[str, ...]] = ()
    shares_prefixes: ClassVar[bool] = False
    votes: ClassVar[bool] = False
    native_budget: ClassVar[bool] = False

    def sweep(self, budgets: tuple[Budget, ...], samples: int) -> tuple[tuple[Budget, ...], int]:
        return budgets, samples
