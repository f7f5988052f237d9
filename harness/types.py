"""The shared vocabulary: problems, engine requests and their results.

Everything here is a frozen dataclass, so that a method, an engine and a task can be written
and tested without knowing each other. (A record's fields: ``results.schema``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Problem:
    """One benchmark item, as a task plugin loads it.

    ``question`` is the text shown to the model (already formatted by the task, e.g. GPQA's
    shuffled choices); ``gold`` is the reference answer in the form the task's grader expects.
    ``metadata`` carries per-problem fields users may stratify on (level, subject, domain...).
    """

    id: str
    question: str
    gold: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one engine request, named as vLLM names them."""

    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0 (or -1, as vLLM quietly accepts): off
    min_p: float = 0.0
    repetition_penalty: float = 1.0  # on tokens of the prompt and the output (vLLM's definition)
    presence_penalty: float = 0.0  # on tokens of this request's output (OpenAI's and vLLM's definition)
    frequency_penalty: float = 0.0
    seed: int | None = None
    stop_token_ids: tuple[int, ...] = ()
    stop: tuple[str, ...] = ()
    n: int = 1
    # vLLM's native thinking budget (SamplingParams.thinking_token_budget): the engine itself ends
    # the thinking after this many tokens. Only engines that say so (supports_thinking_budget) take it.
    thinking_token_budget: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.top_k == -1:  # vLLM's other spelling of "off"
            object.__setattr__(self, "top_k", 0)

    def non_neutral(self) -> dict[str, float]:
        """The settings among top_k, min_p and the penalties that change decoding (by vLLM's name)."""
        return {name: getattr(self, name) for name, off in NEUTRAL_SAMPLING.items() if getattr(self, name) != off}


# The values at which top_k, min_p and the penalties change nothing (vLLM's defaults).
NEUTRAL_SAMPLING: dict[str, float] = {"top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0, "presence_penalty": 0.0,
                                      "frequency_penalty": 0.0}


@dataclass(frozen=True)
class GenRequest:
    """Continue ``prompt_ids`` (the full context so far, as token ids) under ``params``."""

    prompt_ids: tuple[int, ...]
    params: SamplingParams


@dataclass(frozen=True)
class Completion:
    """What an engine generated for one request (one of its ``n`` completions).

    ``token_ids`` include the token(s) that triggered a stop, so that appending them to the
    prompt reproduces the model's context exactly. ``stop_reason`` says which stop fired:
    the stop token id, the stop string, or None (length, or the engine's own EOS).
    """

    token_ids: tuple[int, ...]
    text: str
    finish_reason: FinishReason
    stop_reason: int | str | None = None


@dataclass(frozen=True)
class GenResult:
    """All completions of one request, in order (``len == params.n``), or, when ``error`` is set,
    none: the request failed for good (a failed sample, e.g. ``"http 400: prompt too long"``)."""

    completions: tuple[Completion, ...]
    error: str | None = None

    @property
    def first(self) -> Completion:
        return self.completions[0]
