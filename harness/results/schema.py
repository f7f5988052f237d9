"""The record schema: one line of ``samples.jsonl`` is one :class:`SampleRecord`.

``CORE_FIELDS`` are on every record, in the order they are written (the README lists them; a
test keeps the two equal). ``METHOD_FIELDS`` are the extras some methods add, and ``error``,
which only a failed sample has. Readers must
accept fields they do not know (a plugin method may add its own).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_type_hints


class _Core(TypedDict):
    task: str
    problem_id: str
    prompt_id: str  # the prompt's key in prompts.jsonl (with problem_id); records before it existed lack it
    method: str
    budget: int | str  # the method's parsed budget (class names, "none", K for majority_vote)
    waits: int  # budget-forcing extensions asked for
    sample: int  # 0 .. samples-1
    seed: int  # the sample's seed (the same at every budget)
    thinking_tokens: int  # every thinking token counted once, inserted "Wait"s included
    answer_tokens: int
    forced_end: bool  # the thinking was cut at the cap
    extensions: int  # times the end of thinking was suppressed
    finish_reason: str | None  # the engine's, for the answer: "stop" or "length"
    thinking_text: str
    answer_text: str  # the answer prefix after a cut, then the answer
    rounds: int  # engine requests this sample took
    context_limited: bool  # the model's context window, not the budget or the model, ended the thinking or answer
    extracted: str | None  # the answer the grader found (None: none)
    gold: str
    correct: bool  # the verdict (a grader timeout or crash is False with a grade_note; a failed sample: False)
    grade_note: str
    metadata: dict[str, Any]  # the problem's (level, subject, ...): what --by groups by


class SampleRecord(_Core, total=False):
    steps: int  # step_conditional(+bf): complete steps in the thinking
    tries: int  # rejection_sampling: candidates drawn
    candidate_tokens: int  # rejection_sampling: thinking tokens of all candidates
    unmet: bool  # rejection_sampling: no candidate within the budget after --max-tries
    thinking_budget_path: Literal["native"]  # --native-thinking-budget: vLLM capped the thinking
    error: str  # a failed sample (not graded, left out of accuracy and means): why, e.g. "http 400: ..."


class PromptRecord(TypedDict):
    """One line of ``prompts.jsonl``: a prompt a run gave the model, once per (problem_id, prompt_id)."""

    problem_id: str
    prompt_id: str  # first 16 hex digits of the sha256 of the prompt's token ids ("1,2,3")
    question: str  # the problem's question, as the task gave it
    prompt: str  # the prompt's token ids decoded: chat template, question (and a budget, for TCC/SCC)
    prompt_tokens: int


CORE_FIELDS: tuple[str, ...] = tuple(get_type_hints(_Core))
METHOD_FIELDS: tuple[str, ...] = tuple(k for k in get_type_hints(SampleRecord) if k not in CORE_FIELDS)
def is_failed_record(record: dict[str, Any]) -> bool:
    """A failed sample (its ``error`` says why): no answer, and a rerun tries it again."""
    return record.get("error") is not None


TEXT_FIELDS = ("thinking_text", "answer_text")  # the bulk of a record: left out where only numbers are read
PROMPT_FIELDS: tuple[str, ...] = tuple(get_type_hints(PromptRecord))
KEY_FIELDS = ("problem_id", "budget", "waits", "sample")  # one record per key in a results directory
