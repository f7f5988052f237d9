"""Budget forcing (s1), as a round-based state machine on token ids.

* **Cap.** Thinking gets at most ``budget`` tokens in total: each round asks only for what is
  left (``budget - thinking_tokens``). On a cut the trace gets a newline (unless the thinking
  already ends with one), the end-of-thinking delimiter and the format's answer prefix
  ("Final Answer:"), then one answer phase of at most ``answer_tokens`` tokens.
* **Extension.** The first ``waits`` times the model ends its thinking (delimiter or end of turn),
  the delimiter is dropped and the wait string (``Wait``) appended; it counts as thinking. If
  the wait string no longer fits in the budget, the model's own end stands.
* A natural end keeps the model's own delimiter tokens and adds nothing else.

Continuations append token ids; generated text is never re-tokenized. A multi-token delimiter
is found in the generated ids by decoding suffixes, so any tokenization of it works.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar, Sequence

from budgetbench.engines.base import EngineError, Tokenizer
from budgetbench.formats import ThinkingFormat
from budgetbench.budgets import Budget
from budgetbench.methods.base import MethodBase, MethodConfig, Trace
from budgetbench.types import Completion, GenRequest, GenResult, Problem, SamplingParams

UNCAPPED = "none"


class BudgetForcing(MethodBase):
    name: ClassVar[str] = "budget_forcing"
    label: ClassVar[str] = "BF"
    budget_unit: ClassVar[str] = "tokens"
    description: ClassVar[str] = "s1 budget forcing: cap thinking at N tokens; --waits extends it with 'Wait'"
    default_temperature: ClassVar[float] = 0.0
    shares_prefixes: ClassVar[bool] = True  # one prompt for every budget: see budgetbench.run.sharing
    native_budget: ClassVar[bool] = True  # --native-thinking-budget

    def __init__(self, tokenizer: Tokenizer, fmt: ThinkingFormat, config: MethodConfig):
        self.tok, self.fmt, self.config = tokenizer, fmt, config

    @property
    def temperature(self) -> float:
        t = self.config.temperature
        return self.default_temperature if t is None else t

    # -- budgets and prompts -------------------------------------------------------------
    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        return _positive_int(text, "a number of thinking tokens")

    def user_message(self, problem: Problem, budget: Budget) -> str:
        return problem.question

    def thinking_cap(self, trace: Trace) -> int | None:
        """Maximum thinking tokens of this trace (None: only the context limits it)."""
        return trace.budget if isinstance(trace.budget, int) else None

    def start(self, problem: Problem, budget: Budget, waits: int, sample: int, seed: int) -> Trace:
        return Trace(problem, budget, sample, seed, self.prompt_ids(self.user_message(problem, budget)), waits)

    def prompt_ids(self, user_message: str) -> tuple[int, ...]:
        """The chat prompt's token ids. The traces of one problem (every budget, wait count and
        sample) share one user message, rendered and tokenized once."""
        last = self.__dict__.get("_last_prompt")
        if last is not None and last[0] == user_message:
            return last[1]
        text = self.tok.render_chat(user_message)
        if not text.endswith(self.fmt.thinking_start):
            text += self.fmt.thinking_start
        ids = tuple(self.tok.encode(text))
        self._last_prompt = (user_message, ids)
        return ids

    # -- constant token ids (tokenized once) -----------------------------------------------
    @cached_property
    def _delimiter_ids(self) -> list[int]:
        return self.tok.encode(self.fmt.thinking_end)

    @cached_property
    def _wait_ids(self) -> list[int]:
        return self.tok.encode(self.config.wait_string)

    def _stop_ids(self, stop: str) -> list[int]:
        """A stop string's canonical token ids, encoded once per method."""
        cache = self.__dict__.setdefault("_stop_ids_cache", {})
        if stop not in cache:
            cache[stop] = self.tok.encode(stop)
        return cache[stop]

    @cached_property
    def _answer_prefix_ids(self) -> list[int]:
        return self.tok.encode(self.fmt.answer_prefix)

    @cached_property
    def _natural_suffix_ids(self) -> list[int]:
        return self.tok.encode(self.fmt.natural_suffix) if self.fmt.natural_suffix else []

    @cached_property
    def _newline_ids(self) -> list[int]:
        return self.tok.encode("\n")

    @cached_property
    def _answer_stops(self) -> tuple[str, ...]:
        return tuple(s for s in self.fmt.end_of_turn if s not in self.tok.vocab())

    # -- the state machine ---------------------------------------------------------------
    def next_request(self, trace: Trace) -> GenRequest | None:
        if trace.phase == "thinking" and self._native(trace):
            return self._native_request(trace)
        if trace.phase == "thinking":
            cap = self.thinking_cap(trace)
            remaining = 2**31 - 1 if cap is None else cap - len(trace.thinking_ids)
            if remaining <= 0:  # the cap is reached exactly (e.g. by a wait string)
                self._force_end(trace)
                return self.next_request(trace)
            return self._request(trace, remaining, (self.fmt.thinking_end, *self._answer_stops))
        if trace.phase == "answer":
            return self._request(trace, self.config.answer_tokens, self._answer_stops)
        return None

    def _request(self, trace: Trace, max_tokens: int, stop: tuple[str, ...],
                 thinking_token_budget: int | None = None) -> GenRequest:
        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.config.top_p,
            **self.config.sampling(),
            seed=trace.round_seed(),
            stop_token_ids=tuple(self.tok.eos_token_ids),
            stop=stop,
            thinking_token_budget=thinking_token_budget,
        )
        return GenRequest(trace.context(), params)

    def update(self, trace: Trace, result: GenResult) -> None:
        out = result.first
        trace.rounds += 1
        if trace.phase == "thinking" and self._native(trace):
            self._update_native(trace, out)
        elif trace.phase == "thinking":
            self._update_thinking(trace, out)
        elif trace.phase == "answer":
            trace.answer_ids = self._strip_end_of_turn(out)
            trace.finish_reason = out.finish_reason
            trace.phase = "done"

    def _strip_end_of_turn(self, out: Completion) -> list[int]:
        ids = list(out.token_ids)
        if out.finish_reason == "stop" and isinstance(out.stop_reason, str):
            return ids[: split_at_stop(ids, out.stop_reason, self.tok, self._stop_ids(out.stop_reason))]
        if out.finish_reason == "stop" and ids and ids[-1] in (out.stop_reason, *self.tok.eos_token_ids):
            return ids[:-1]  # the end-of-turn token (vLLM reports EOS as stop_reason None)
        return ids

    # -- the native path: one request, the engine ends the thinking (vLLM thinking_token_budget) --
    def _native(self, trace: Trace) -> bool:
        return self.config.native_thinking_budget and trace.waits == 0 and isinstance(trace.budget, int)

    def _native_request(self, trace: Trace) -> GenRequest:
        cap = int(trace.budget)
        room = cap + len(self._newline_ids) + len(self._delimiter_ids) + self.config.answer_tokens
        return self._request(trace, room, self._answer_stops, thinking_token_budget=cap)

    def _update_native(self, trace: Trace, out: Completion) -> None:
        """Thinking, delimiter and answer come back in one output: split at the first delimiter.
        No answer prefix is written after a cut (the engine writes only its end string)."""
        ids = self._strip_end_of_turn(out)
        delimiter = self._delimiter_ids
        at = next((i for i in range(len(ids) - len(delimiter) + 1) if ids[i : i + len(delimiter)] == delimiter), None)
        if at is None:  # the thinking never closed within max_tokens
            at, delimiter = len(ids), []
        if at > int(trace.budget):
            raise EngineError(f"the engine did not end the thinking at {trace.budget} tokens ({at} were "
                             "written): is vLLM's reasoning parser set (--engine-arg reasoning_parser=NAME)?")
        trace.thinking_ids = ids[:at]
        trace.transition_ids = ids[at : at + len(delimiter)]
        trace.answer_ids = ids[at + len(delimiter) :]
        trace.forced_end = at == int(trace.budget)
        trace.finish_reason = out.finish_reason
        trace.extra["thinking_budget_path"] = "native"
        trace.phase = "done"

    def _split_thinking(self, out: Completion) -> tuple[list[int], list[int] | None]:
        """The thinking tokens of a round's output, and the delimiter tokens that closed it
        (the model's own, or the canonical ones if it ended its turn instead); None if cut."""
        ids = list(out.token_ids)
        if out.finish_reason == "length":
            return ids, None
        if out.stop_reason == self.fmt.thinking_end:
            cut = split_at_stop(ids, self.fmt.thinking_end, self.tok, self._delimiter_ids)
            return ids[:cut], ids[cut:]
        if isinstance(out.stop_reason, str):
            cut = split_at_stop(ids, out.stop_reason, self.tok, self._stop_ids(out.stop_reason))
            return ids[:cut], list(self._delimiter_ids)
        # a stop token id (EOS), or an engine that stopped by itself
        cut = len(ids) - 1 if ids and ids[-1] in self.tok.eos_token_ids else len(ids)
        return ids[:cut], list(self._delimiter_ids)

    def _update_thinking(self, trace: Trace, out: Completion) -> None:
        thinking, own_delimiter = self._split_thinking(out)
        trace.thinking_ids.extend(thinking)
        if own_delimiter is None:  # the cap (or the context) was reached
            self._force_end(trace)
            return
        cap = self.thinking_cap(trace)
        room = cap is None or len(trace.thinking_ids) + len(self._wait_ids) < cap
        if trace.extensions < trace.waits and room:
            trace.thinking_ids.extend(self._wait_ids)
            trace.extensions += 1
            return
        self._enter_answer(trace, own_delimiter, list(self._natural_suffix_ids))

    def _force_end(self, trace: Trace) -> None:
        trace.forced_end = True
        lead = [] if self.tok.decode(trace.thinking_ids[-4:]).endswith("\n") else list(self._newline_ids)
        self._enter_answer(trace, lead + list(self._delimiter_ids), list(self._answer_prefix_ids))

    def _enter_answer(self, trace: Trace, delimiter: list[int], answer_prefix: list[int]) -> None:
        trace.transition_ids = delimiter + answer_prefix
        trace.answer_prefix_ids = answer_prefix
        trace.phase = "answer"

    # -- what goes into the record -------------------------------------------------------
    def record_fields(self, trace: Trace) -> dict[str, Any]:
        return {
            "thinking_tokens": len(trace.thinking_ids),
            "answer_tokens": len(trace.answer_ids),
            "forced_end": trace.forced_end,
            "extensions": trace.extensions,
            "finish_reason": trace.finish_reason,
            "thinking_text": self.tok.decode(trace.thinking_ids),
            "answer_text": self.tok.decode([*trace.answer_prefix_ids, *trace.answer_ids]),
            "rounds": trace.rounds,
            **({"thinking_budget_path": "native"} if trace.extra.get("thinking_budget_path") else {}),
        }


class NoControl(BudgetForcing):
    """Plain generation: thinking runs until the model stops or the context ends."""

    name: ClassVar[str] = "none"
    label: ClassVar[str] = "none"
    budget_unit: ClassVar[str] = "none"
    tokens_per_unit: ClassVar[float | None] = None
    named_budgets: ClassVar[tuple[str, ...]] = (UNCAPPED,)
    default_budgets: ClassVar[tuple[str, ...]] = (UNCAPPED,)
    native_budget: ClassVar[bool] = False
    description: ClassVar[str] = "no control: the model thinks until it stops (baseline)"

    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        if text.strip().lower() != UNCAPPED:
            raise ValueError(f"method 'none' takes the single budget '{UNCAPPED}', not {text!r}")
        return UNCAPPED


def split_at_stop(ids: Sequence[int], stop: str, tok: Tokenizer, canonical: Sequence[int] | None = None) -> int:
    """Index ``b`` where ``stop`` begins in the decoded ids: ``ids[:b]`` precede it.

    The last tokens usually are the canonical tokenization of ``stop``; otherwise the largest
    ``b`` whose suffix still decodes to text containing ``stop`` is taken (any tokenization).
    """
    canonical = tok.encode(stop) if canonical is None else canonical  # callers pass it tokenized once
    n = len(canonical)
    if n and list(ids[-n:]) == canonical:
        return len(ids) - n
    for b in range(len(ids) - 1, -1, -1):
        if stop in tok.decode(ids[b:]):
            return b
    return len(ids)


def _positive_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"budget {text!r} is not {what}") from None
    if value <= 0:
        raise ValueError(f"budget {text!r} must be a positive integer ({what})")
    return value
