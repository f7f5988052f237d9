"""Prompt-conditional control (s1 paper §3.1): the budget is stated in the prompt.

* ``token_conditional``: "Think for up to N tokens." (no enforcement); ``token_conditional+bf``
  adds the budget-forcing cap at N tokens.
* ``step_conditional``: "Think for up to N steps." (no enforcement); ``step_conditional+bf``
  forces the end of thinking once the N-th step is complete. A step is a paragraph (text between
  ``step_delimiter``, default a blank line), or, for models that write s1-SCC's
  ``<|im_start|>k steps left`` markers, the text after each marker.
* ``class_conditional``: budgets ``short`` and ``long`` (two fixed prompts) and ``none`` (the
  question alone: the default run that the Control rule short < none < long needs).

Instructions are appended to the question after a blank line, byte-for-byte as in the paper.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

from budgetbench.budgets import Budget
from budgetbench.methods.base import Trace
from budgetbench.methods.budget_forcing import BudgetForcing, _positive_int
from budgetbench.types import Completion, GenRequest, Problem

TOKEN_PROMPT = "Think for up to {n} tokens."
STEP_PROMPT = "Think for up to {n} steps."
CLASS_PROMPTS = {
    "short": "Answer after a short amount of thinking. Do not spend excessive time double-checking your work.",
    "long": "Answer after a long amount of thinking. If you feel like you are finished early, spend the extra "
    "time trying to double-check your work until you are absolutely sure that you have the correct answer.",
}
STEP_MARKER = re.compile(r"<\|im_start\|>\d+ steps? left")
STEP_CHUNK_TOKENS = 256  # step_conditional+bf generates in chunks this long and cuts at the N-th step


def with_instruction(question: str, instruction: str) -> str:
    return f"{question}\n\n{instruction}"


class TokenConditional(BudgetForcing):
    shares_prefixes: ClassVar[bool] = False  # the prompt or the sampling differs per budget
    name: ClassVar[str] = "token_conditional"
    label: ClassVar[str] = "TCC"
    native_budget: ClassVar[bool] = False
    description: ClassVar[str] = "prompt 'Think for up to N tokens.' without enforcement"

    def user_message(self, problem: Problem, budget: Budget) -> str:
        return with_instruction(problem.question, TOKEN_PROMPT.format(n=budget))

    def thinking_cap(self, trace: Trace) -> int | None:
        return None


class TokenConditionalBF(TokenConditional):
    name: ClassVar[str] = "token_conditional+bf"
    label: ClassVar[str] = "TCC+BF"
    description: ClassVar[str] = "'Think for up to N tokens.' plus budget forcing at N tokens"

    def thinking_cap(self, trace: Trace) -> int | None:
        return int(trace.budget)


def count_steps(text: str, delimiter: str) -> list[int]:
    """End offsets (in ``text``) of each complete step.

    With s1-SCC markers, step k is complete where marker k+1 begins. Otherwise a step is a
    non-blank paragraph, complete once the delimiter after it has been written.
    """
    markers = [m.start() for m in STEP_MARKER.finditer(text)]
    if markers:
        return markers[1:]
    ends, start = [], 0
    while True:
        at = text.find(delimiter, start)
        if at < 0:
            return ends
        if text[start:at].strip():
            ends.append(at + len(delimiter))
        start = at + len(delimiter)


class StepConditional(BudgetForcing):
    shares_prefixes: ClassVar[bool] = False  # the prompt or the sampling differs per budget
    name: ClassVar[str] = "step_conditional"
    label: ClassVar[str] = "SCC"
    budget_unit: ClassVar[str] = "steps"
    tokens_per_unit: ClassVar[float | None] = 100.0  # the paper's Control counts a step as 100 tokens
    native_budget: ClassVar[bool] = False
    description: ClassVar[str] = "prompt 'Think for up to N steps.' without enforcement"

    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        return _positive_int(text, "a number of steps")

    def user_message(self, problem: Problem, budget: Budget) -> str:
        return with_instruction(problem.question, STEP_PROMPT.format(n=budget))

    def thinking_cap(self, trace: Trace) -> int | None:
        return None

    def record_fields(self, trace: Trace) -> dict[str, Any]:
        fields = super().record_fields(trace)
        text = fields["thinking_text"]
        steps = count_steps(text, self.config.step_delimiter)
        tail = text[steps[-1]:] if steps else text
        fields["steps"] = len(steps) + (1 if tail.strip() and not trace.extra.get("cut_at_step") else 0)
        return fields


class StepConditionalBF(StepConditional):
    name: ClassVar[str] = "step_conditional+bf"
    label: ClassVar[str] = "SCC+BF"
    description: ClassVar[str] = "'Think for up to N steps.' plus a forced end after the N-th step"

    def next_request(self, trace: Trace) -> GenRequest | None:
        request = super().next_request(trace)
        if request is not None and trace.phase == "thinking":
            chunk = min(request.params.max_tokens, STEP_CHUNK_TOKENS)
            request = GenRequest(request.prompt_ids, replace(request.params, max_tokens=chunk))
            trace.extra["requested"] = chunk
        return request

    def _update_thinking(self, trace: Trace, out: Completion) -> None:
        thinking, own_delimiter = self._split_thinking(out)
        combined = [*trace.thinking_ids, *thinking]
        text = self.tok.decode(combined)
        ends = count_steps(text, self.config.step_delimiter)
        n = int(trace.budget)
        # The N-th step is complete and the model went on past it: cut right after it.
        if len(ends) >= n and (own_delimiter is None or ends[n - 1] < len(text.rstrip())):
            trace.thinking_ids = combined[: _tokens_covering(self.tok, combined, ends[n - 1])]
            trace.extra["cut_at_step"] = True
            self._force_end(trace)
            return
        if own_delimiter is None and len(out.token_ids) >= trace.extra.get("requested", 0):
            trace.thinking_ids = combined  # only the chunk ended: keep thinking
            return
        super()._update_thinking(trace, out)


def _tokens_covering(tok: Any, ids: list[int], offset: int) -> int:
    """Smallest k such that ``ids[:k]`` decodes to at least ``offset`` characters."""
    lo, hi = 0, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(tok.decode(ids[:mid])) >= offset:
            hi = mid
        else:
            lo = mid + 1
    return lo


class ClassConditional(BudgetForcing):
    shares_prefixes: ClassVar[bool] = False  # the prompt or the sampling differs per budget
    name: ClassVar[str] = "class_conditional"
    label: ClassVar[str] = "CCC"
    budget_unit: ClassVar[str] = "class"
    tokens_per_unit: ClassVar[float | None] = None
    named_budgets: ClassVar[tuple[str, ...]] = ("short", "none", "long")  # shortest first
    reference_budget: ClassVar[str | None] = "none"  # the default run: CCC's Control compares with it
    native_budget: ClassVar[bool] = False
    description: ClassVar[str] = "prompt for a 'short' or 'long' amount of thinking ('none': the default run)"
    default_budgets: ClassVar[tuple[str, ...]] = ("none", "short", "long")

    @classmethod
    def parse_budget(cls, text: str) -> Budget:
        value = text.strip().lower()
        if value not in ("none", *CLASS_PROMPTS):
            raise ValueError(f"class_conditional budgets are short, long and none, not {text!r}")
        return value

    def user_message(self, problem: Problem, budget: Budget) -> str:
        if budget == "none":
            return problem.question
        return with_instruction(problem.question, CLASS_PROMPTS[str(budget)])

    def thinking_cap(self, trace: Trace) -> int | None:
        return None
