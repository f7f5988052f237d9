"""A model's tokenizer read from its files with ``tokenizers`` and ``jinja2``: no torch, no transformers.

The openai engine's tokenizer (``pip install 'budgetbench[openai]'``). What it reads, as
transformers' ``AutoTokenizer`` reads it for a ``tokenizer.json`` model:

* ``tokenizer.json``, loaded by the Rust ``tokenizers`` library (the same backend transformers'
  fast tokenizers wrap); tokens named in ``tokenizer_config.json`` (``added_tokens_decoder``, the
  named special tokens and ``extra_special_tokens``/``additional_special_tokens``) that the file
  lacks are added as transformers adds them;
* special tokens from ``tokenizer_config.json`` (or the legacy ``special_tokens_map.json``);
* the chat template from ``chat_template.jinja``, else ``tokenizer_config.json``'s
  ``chat_template`` (a string, or a list of named templates: ``default``), rendered by
  ``chat_template.py``.

Where transformers 5 departs from tokenizer.json it is not followed: it rebuilds some families'
tokenizers from their own class (a ``qwen2`` model gets Qwen2's pre-tokenizer whatever the file
says; real checkpoints' files already have it) and may patch old Mistral regexes. A vLLM server's
``/tokenize`` is compared with this tokenizer at start, so such a difference stops a run there.

Encoding never adds a BOS (``add_special_tokens=False``); decoding keeps special tokens. A folder
is read offline; a hub id is fetched (only the tokenizer files) with ``huggingface_hub``, the
``hub`` extra. tests/unit/engines/test_file_tokenizer.py checks ids, decodings, vocabularies, EOS
ids and rendered prompts against transformers on the models the tests build.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from budgetbench.engines.base import EngineError, MissingExtraError
from budgetbench.engines.chat_template import compile_template, render_chat_template

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
NAMED_SPECIALS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
EXTRA_EOS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<｜end▁of▁sentence｜>")  # as HFTokenizer


class FileTokenizer:
    """The harness's Tokenizer protocol on ``tokenizer.json`` and its configuration files."""

    def __init__(self, folder: str | Path, name: str | None = None):
        try:
            from tokenizers import AddedToken, Tokenizer
        except ImportError as exc:
            raise MissingExtraError("tokenizers", "openai") from exc
        folder = Path(folder)
        self.name = name or str(folder)
        if not (folder / "tokenizer.json").is_file():
            raise EngineError(f"{folder} has no tokenizer.json")
        try:
            self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001  (the Rust library raises plain Exceptions)
            raise EngineError(f"cannot read {folder / 'tokenizer.json'}: {_first_line(exc)}") from None
        config = _read_json(folder / "tokenizer_config.json")
        if "added_tokens_decoder" not in config:  # transformers reads the legacy map only then
            config.update(_read_json(folder / "special_tokens_map.json"))
        self._named = {key: _content(config.get(key)) for key in NAMED_SPECIALS if _content(config.get(key))}
        # Model-specific named tokens (image_token...) are passed to the chat template too.
        self._named.update({key: _content(value) for key, value in config.items()
                            if key.endswith("_token") and key not in self._named and _content(value)})
        extra = config.get("extra_special_tokens") or config.get("additional_special_tokens") or []
        if isinstance(extra, dict):  # named model-specific tokens, as transformers reads them
            self._named.update({k: _content(v) for k, v in extra.items() if isinstance(k, str) and _content(v)})
            extra = []
        self._extra = [_content(t) for t in extra if _content(t)] if isinstance(extra, list) else []
        self._add_missing(config, AddedToken)
        self._vocab: dict[str, int] = self._tok.get_vocab(with_added_tokens=True)
        self.chat_template: str | None = _chat_template(folder, config, self.name)
        if self.chat_template:
            compile_template(self.chat_template)  # at load: jinja2 missing, or a template that does not parse
        eos: list[int] = []
        eos_id = self._tok.token_to_id(self._named["eos_token"]) if "eos_token" in self._named else None
        if eos_id is not None:
            eos.append(int(eos_id))
        for token in EXTRA_EOS:
            if token in self._vocab and self._vocab[token] not in eos:
                eos.append(int(self._vocab[token]))
        self.eos_token_ids: tuple[int, ...] = tuple(eos)
        decoder = self._tok.get_added_tokens_decoder()
        named = [self._named[k] for k in NAMED_SPECIALS if k in self._named] + self._extra
        # What a server's skip_special_tokens drops: the added tokens marked special (and the named ones).
        specials = [t.content for _, t in sorted(decoder.items()) if t.special]
        self.special_tokens: tuple[str, ...] = tuple(dict.fromkeys(named + specials))
        self.special_ids: tuple[int, ...] = tuple(
            i for i in (self._tok.token_to_id(t) for t in self.special_tokens) if i is not None)

    @classmethod
    def load(cls, model: str, revision: str | None = None) -> FileTokenizer:
        """From a local folder (offline), else the tokenizer files of a hub repository."""
        if Path(model).is_dir():
            return cls(model, model)
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise EngineError(f"'{model}' is not a local folder, and fetching its tokenizer from the hub needs "
                              "huggingface_hub: pip install 'budgetbench[hub]', or pass --tokenizer FOLDER") from None
        try:
            folder = snapshot_download(model, revision=revision, allow_patterns=list(TOKENIZER_FILES))
        except Exception as exc:  # noqa: BLE001  (network, auth, missing repository: one line)
            raise EngineError(f"cannot fetch the tokenizer of '{model}' from the hub: {_first_line(exc)} "
                              "(pass --tokenizer FOLDER to use a local copy)") from None
        if not (Path(folder) / "tokenizer.json").is_file():  # a slow (sentencepiece) tokenizer only
            return _through_transformers(model, revision)
        return cls(folder, model)

    def _add_missing(self, config: dict[str, Any], added_token: Any) -> None:
        """Tokens the configuration names and tokenizer.json lacks, added as transformers adds them."""
        have = {t.content for t in self._tok.get_added_tokens_decoder().values()}
        todo = []
        declared = config.get("added_tokens_decoder") or {}
        declared = declared if isinstance(declared, dict) else {}
        rows = [(int(k), v) for k, v in declared.items() if str(k).isdigit() and isinstance(v, dict)]
        for _, spec in sorted(rows, key=lambda row: row[0]):
            if spec.get("content") and spec["content"] not in have:
                fields = ("single_word", "lstrip", "rstrip", "normalized", "special")
                todo.append(added_token(spec["content"], **{f: bool(spec[f]) for f in fields if f in spec}))
                have.add(spec["content"])
        for token in [*self._named.values(), *self._extra]:
            if token not in have:
                todo.append(added_token(token, special=True))
                have.add(token)
        if todo:
            self._tok.add_tokens(todo)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def vocab(self) -> dict[str, int]:
        return self._vocab

    def render_chat(self, user_message: str) -> str:
        """The chat prompt for one user turn, ending where the assistant starts writing."""
        if not self.chat_template:
            return user_message + "\n"
        return render_chat_template(self.chat_template, [{"role": "user", "content": user_message}],
                                    add_generation_prompt=True, special_tokens=self._named, name=self.name)

    def render_messages(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        """A whole chat (lm-eval's histories); without the generation prompt the text ends inside
        the last message, to be continued."""
        return render_chat_template(self.chat_template or "", messages, add_generation_prompt=add_generation_prompt,
                                    special_tokens=self._named, name=self.name,
                                    continue_final_message=not add_generation_prompt)


def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """The openai engine's tokenizer: from the files with ``tokenizers``; through transformers only
    for what needs it (a tokenizer with remote code, a folder without tokenizer.json)."""
    if trust_remote_code or (Path(name).is_dir() and not (Path(name) / "tokenizer.json").is_file()):
        return _through_transformers(name, revision, trust_remote_code)
    return FileTokenizer.load(name, revision=revision)


def _through_transformers(name: str, revision: str | None, trust_remote_code: bool = False) -> Any:
    from budgetbench.engines.tokenizer import HFTokenizer

    try:
        return HFTokenizer.load(name, revision=revision, trust_remote_code=trust_remote_code)
    except MissingExtraError:
        why = "its tokenizer runs remote code" if trust_remote_code else "it has no tokenizer.json"
        raise EngineError(f"the tokenizer of '{name}' needs transformers ({why}): "
                          "pip install 'budgetbench[hf]'") from None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {path}: {_first_line(exc)}") from None
    return data if isinstance(data, dict) else {}


def _content(token: Any) -> str | None:
    """A token as the configuration writes it: a string or ``{"content": ...}``."""
    if isinstance(token, dict):
        token = token.get("content")
    return token if isinstance(token, str) and token else None


def _chat_template(folder: Path, config: dict[str, Any], name: str) -> str | None:
    path = folder / "chat_template.jinja"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one is the chat
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        if "default" not in named:
            raise EngineError(f"the tokenizer of {name} has named chat templates ({', '.join(map(str, named))}) "
                              "and none called default")
        template = named["default"]
    return template if isinstance(template, str) and template else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
