"""A Hugging Face tokenizer behind the harness's small Tokenizer protocol."""

from __future__ import annotations

from typing import Any, Sequence

from budgetbench.engines.base import EngineError, MissingExtraError

_DEFAULT_TEMPLATE_WARNING = "has no chat template; the prompt is the question followed by a newline"


class HFTokenizer:
    """Wraps ``transformers.AutoTokenizer``; special tokens are kept when decoding."""

    def __init__(self, hf_tokenizer: Any):
        self.hf = hf_tokenizer
        self.chat_template: str | None = getattr(hf_tokenizer, "chat_template", None)
        eos: list[int] = []
        if hf_tokenizer.eos_token_id is not None:
            eos.append(int(hf_tokenizer.eos_token_id))
        vocab = hf_tokenizer.get_vocab()
        for name in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<｜end▁of▁sentence｜>"):
            if name in vocab and vocab[name] not in eos:
                eos.append(int(vocab[name]))
        self.eos_token_ids: tuple[int, ...] = tuple(eos)
        self._vocab = vocab
        # The Rust tokenizer itself, when there is one: transformers' encode/decode wrappers cost
        # ~10x more per call (argument conversion), and the harness calls decode per chunk.
        self._fast = getattr(hf_tokenizer, "backend_tokenizer", None) if getattr(hf_tokenizer, "is_fast", False) else None

    @classmethod
    def load(cls, model: str, revision: str | None = None, trust_remote_code: bool = False) -> HFTokenizer:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingExtraError("transformers", "hf") from exc
        try:
            tok = AutoTokenizer.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot load the tokenizer of '{model}': {_first_line(exc)}") from exc
        return cls(tok)

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """The special tokens (named and extra) as strings: what a server's text output drops."""
        return tuple(t for t in getattr(self.hf, "all_special_tokens", ()) if t)

    @property
    def special_ids(self) -> tuple[int, ...]:
        return tuple(getattr(self.hf, "all_special_ids", ()))

    def encode(self, text: str) -> list[int]:
        if self._fast is not None:
            return self._fast.encode(text, add_special_tokens=False).ids
        return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        if self._fast is not None:
            return self._fast.decode(list(ids), skip_special_tokens=False)
        return self.hf.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def vocab(self) -> dict[str, int]:
        return self._vocab

    def render_chat(self, user_message: str) -> str:
        """The chat prompt for one user turn, ending where the assistant starts writing."""
        if not self.chat_template:
            return user_message + "\n"
        messages = [{"role": "user", "content": user_message}]
        return self.hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def render_messages(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        """A whole chat (lm-eval's histories); without the generation prompt the text ends inside
        the last message, to be continued."""
        return self.hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                           continue_final_message=not add_generation_prompt)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
