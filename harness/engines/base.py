"""The engine protocols: token ids in, token ids out, batched or continuous.

* ``Engine.generate(requests)``: a batch in, one result per request out (as lm-eval's
  ``generate_until``). Every engine has it.
* ``ContinuousEngine``: ``submit(request, tag)`` and ``collect()``, for engines that batch
  continuously (vLLM's scheduler, a server): requests join the running batch as they are
  submitted, and each result comes back as soon as it is done, in any order. The pipeline
  (``budgetbench.run.pipeline``) submits a trace's next request the moment its last one returns.
  ``continuous(engine)`` adapts a batch-only engine: everything submitted since the last
  ``collect`` is generated in one ``generate`` call (the transformers engine's batches).

Methods never call an engine themselves; the pipeline does.

Stop semantics shared by all engines: ``Completion.token_ids`` run up to and including the
token that completed a stop string or that is a stop token id, so that prompt + token_ids is
exactly the context the model saw; ``text`` is the decoding of those ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from budgetbench.types import Completion, GenRequest, GenResult


@runtime_checkable
class Tokenizer(Protocol):
    """What methods need from a tokenizer. Text is tokenized only for constant strings
    (prompts, delimiters, extension strings); generated text is never re-tokenized."""

    eos_token_ids: tuple[int, ...]
    chat_template: str | None

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def vocab(self) -> dict[str, int]: ...

    def render_chat(self, user_message: str) -> str: ...


@dataclass
class EngineStats:
    """Work counters, for benchmarks and the progress bar."""

    calls: int = 0
    requests: int = 0
    prefill_tokens: int = 0  # prompt tokens sent (an upper bound on what a prefix cache prefills)
    decode_tokens: int = 0  # tokens generated

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Engine(Protocol):
    """Everything the runner reads from an engine (:class:`EngineBase` has the defaults)."""

    name: str
    tokenizer: Tokenizer
    max_model_len: int | None
    stats: EngineStats
    # False: the ids are the tokenizer's encoding of text the engine returned (a text-only
    # server), so the pipeline does not split requests into chunks.
    exact_token_ids: bool
    supports_thinking_budget: bool  # takes GenRequest.thinking_budget (vLLM's thinking_token_budget)

    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]: ...

    def info(self) -> dict[str, Any]:
        """What the spec records about the engine (name, model, settings)."""
        ...

    def check_format(self, delimiters: Sequence[str]) -> None:
        """Raise EngineError if the engine cannot carry these delimiters (a text-only server
        and special tokens)."""
        ...

    def check_sampling(self, settings: dict[str, float]) -> None:
        """Raise EngineError if the engine cannot apply these settings (the non-neutral top_k,
        min_p and penalties of ``SamplingParams.non_neutral``) as vLLM defines them."""
        ...


class EngineBase:
    """Defaults for the optional parts of :class:`Engine`."""

    exact_token_ids: bool = True
    supports_thinking_budget: bool = False

    def check_format(self, delimiters: Sequence[str]) -> None:
        return None

    def check_sampling(self, settings: dict[str, float]) -> None:
        return None


@runtime_checkable
class ContinuousEngine(Protocol):
    """An engine that takes requests one at a time and hands back results as they finish."""

    # How many submitted requests (completions: a request counts ``n``) to keep in flight:
    # enough to fill the engine's batch, few enough that a trace's continuation is not queued
    # behind thousands of new traces. None: no limit (a batch engine takes everything at once).
    capacity: int | None

    def submit(self, request: GenRequest, tag: Any) -> None: ...

    def collect(self) -> list[tuple[Any, GenResult]]:
        """Block until at least one submitted request is done; return every (tag, result) that
        is. Returns [] only when nothing is in flight."""
        ...

    def cancel(self) -> None:
        """Drop everything in flight (an interrupted or failed run)."""
        ...


class RoundAdapter:
    """A batch-only engine as a ContinuousEngine: ``collect`` generates everything pending."""

    capacity = None

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pending: list[tuple[GenRequest, Any]] = []

    def submit(self, request: GenRequest, tag: Any) -> None:
        self._pending.append((request, tag))

    def collect(self) -> list[tuple[Any, GenResult]]:
        pending, self._pending = self._pending, []
        if not pending:
            return []
        results = self.engine.generate([request for request, _ in pending])
        return [(tag, result) for (_, tag), result in zip(pending, results)]

    def cancel(self) -> None:
        self._pending = []


def continuous(engine: Any) -> ContinuousEngine:
    """The engine itself if it batches continuously, else a RoundAdapter around it."""
    if isinstance(engine, ContinuousEngine):
        return engine
    return RoundAdapter(engine)


class EngineError(RuntimeError):
    """An engine failed in a way the user can act on (message says how)."""


class SampleFailed(EngineError):
    """One request, not the engine, failed for good (the server refused it, or its reply stayed
    unusable after the retries): the pipeline records the sample as failed, with this message as
    its reason, and the run goes on. Engines hand it back as ``GenResult(error=...)``."""


class MissingExtraError(EngineError):
    def __init__(self, package: str, extra: str):
        super().__init__(
            f"this engine needs the '{package}' package: install it with "
            f"pip install 'budgetbench[{extra}]'"
        )


@dataclass(frozen=True)
class Row:
    """One completion to generate: a request, or one of its ``n`` completions (seed ``seed+j``,
    so a sample's tokens do not depend on how it was batched), with the tokens that fit."""

    request: GenRequest
    seed: int | None
    max_tokens: int  # <= 0: the prompt already fills the context; nothing is generated


CONTEXT_FULL = Completion((), "", "length", None)  # what a row with max_tokens <= 0 gets


def expand_rows(requests: Sequence[GenRequest], max_model_len: int | None) -> list[Row]:
    """Every engine's rows, in request order (``n`` expanded, budgets clipped to the context)."""
    rows = []
    for req in requests:
        room = req.params.max_tokens
        if max_model_len:
            room = min(room, max_model_len - len(req.prompt_ids))
        for j in range(req.params.n):
            rows.append(Row(req, None if req.params.seed is None else req.params.seed + j, room))
    return rows


def context_ended(request: GenRequest, completion: Completion, max_model_len: int | None) -> bool:
    """Did the model's context window end ``completion`` (rather than ``max_tokens`` or a stop)?
    True when the request asked for more tokens than the context had room for and the output
    ran up to the context's last token (``CONTEXT_FULL`` included)."""
    if not max_model_len or completion.finish_reason != "length":
        return False
    room = max_model_len - len(request.prompt_ids)
    return request.params.max_tokens > room and len(completion.token_ids) >= room


def group_results(requests: Sequence[GenRequest], completions: Sequence[Completion]) -> list[GenResult]:
    """Completions of ``expand_rows(requests)``, in that order, back into one result per request."""
    results, k = [], 0
    for req in requests:
        results.append(GenResult(tuple(completions[k : k + req.params.n])))
        k += req.params.n
    return results


def stop_tail_tokens(stop: Sequence[str]) -> int:
    """How many trailing tokens to decode to see any of ``stop``: its length in UTF-8 bytes, plus
    one, since a token holds at least one byte (a byte-level BPE may spell ``结束`` in 6 tokens)."""
    return max((len(s.encode("utf-8")) for s in stop), default=0) + 1


def find_stop_string(tail_text: str, stop: Sequence[str]) -> str | None:
    """The stop string that occurs in ``tail_text``, if any (first in ``stop`` order)."""
    for s in stop:
        if s and s in tail_text:
            return s
    return None
