"""Thinking formats: how a model opens and closes its thinking, and how a cut is announced.

Two families are built in:

* ``s1``: Qwen2.5 chat template, assistant turn ``<|im_start|>think ... <|im_start|>answer ...``
  (the harness appends ``<|im_start|>think`` itself, as the s1 reference code does);
* ``think``: ``<think> ... </think>`` of DeepSeek-R1, QwQ and Qwen3.

A format is chosen from the tokenizer (its vocabulary and chat template) and can be overridden
field by field from the command line. Delimiters may span several tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from budgetbench.errors import UserError


@dataclass(frozen=True)
class ThinkingFormat:
    name: str
    thinking_start: str  # appended to the chat prompt unless the template already ends with it
    thinking_end: str  # the end-of-thinking delimiter the model writes
    answer_prefix: str  # written after the delimiter when thinking was cut ("Final Answer:")
    natural_suffix: str = ""  # written after the delimiter when thinking ended by itself
    end_of_turn: tuple[str, ...] = ()  # strings that end the answer (besides the tokenizer's EOS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "thinking_start": self.thinking_start,
            "thinking_end": self.thinking_end,
            "answer_prefix": self.answer_prefix,
            "natural_suffix": self.natural_suffix,
            "end_of_turn": list(self.end_of_turn),
        }


S1 = ThinkingFormat(
    name="s1",
    thinking_start="<|im_start|>think",
    thinking_end="<|im_start|>answer",
    answer_prefix="\nFinal Answer:",
    end_of_turn=("<|im_end|>", "<|endoftext|>"),
)

THINK_TAGS = ThinkingFormat(
    name="think",
    thinking_start="<think>\n",
    thinking_end="</think>",
    answer_prefix="\n\nFinal Answer:",
    end_of_turn=("<|im_end|>", "<|endoftext|>", "<｜end▁of▁sentence｜>"),
)

FORMATS = {f.name: f for f in (S1, THINK_TAGS)}


def detect_format(vocab: set[str] | dict[str, int], chat_template: str | None) -> ThinkingFormat:
    """Pick the thinking format a model was trained with, from its tokenizer.

    ``</think>`` in the vocabulary or the chat template means the R1/QwQ/Qwen3 family.
    Otherwise a ChatML vocabulary (``<|im_start|>``) is taken as s1 (a Qwen2.5 tokenizer, whose
    template says nothing about thinking). Anything else gets think tags, written as text.
    """
    template = chat_template or ""
    if "</think>" in vocab or "</think>" in template:
        return THINK_TAGS
    if "<|im_start|>" in vocab:
        return S1
    return THINK_TAGS


def with_overrides(fmt: ThinkingFormat, **overrides: str | None) -> ThinkingFormat:
    """Return ``fmt`` with the given non-None fields replaced (command-line overrides)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return fmt
    return replace(fmt, name=f"{fmt.name}+custom", **changes)


def check_format_name(name: str, flag: str = "--thinking-format") -> None:
    if name not in ("auto", *FORMATS):
        raise UserError(f"unknown {flag} '{name}': use auto, {', '.join(FORMATS)}")


def resolve_format(name: str, tokenizer: Any, overrides: dict[str, str | None] | None = None) -> ThinkingFormat:
    """The format ``name`` (``auto``: detected from the tokenizer), with ``overrides`` applied."""
    check_format_name(name)
    fmt = FORMATS[name] if name != "auto" else detect_format(tokenizer.vocab(), tokenizer.chat_template)
    return with_overrides(fmt, **(overrides or {}))
