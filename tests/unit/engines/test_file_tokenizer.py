"""The openai engine's tokenizer (tokenizers + jinja2, no transformers) against transformers itself:
the same ids, decodings, vocabulary, EOS ids, special tokens and rendered prompts on the models the
tests build, on the toy model, on older configuration layouts and on chat templates that use what
transformers' template environment offers."""

from __future__ import annotations

import json
import random
import shutil
import sys

import pytest

from budgetbench.engines.base import EngineError
from budgetbench.engines.file_tokenizer import FileTokenizer, load_tokenizer
from budgetbench.toy import MODEL_DIR

TEXTS = [
    "Hello world", "What is 12+30? Think step by step.", "<|im_start|>answer\n</think>\n\nFinal Answer:",
    "结束 ‹｜end▁of▁sentence｜> café naïve", "  a=1 b+ \\boxed{42}<|im_end|>", "<think>\nWait", "\n\n\t x  \r\n",
    "<|endoftext|><|im_start|>user\n1<|im_end|>", "Ｆｕｌｌｗｉｄｔｈ é (e + combining acute)",
]
# Uses what transformers' template environment has: {% generation %}, namespace, loop controls,
# tojson (non-ASCII kept), dict(), the special-token variables, trim_blocks/lstrip_blocks.
RICH_TEMPLATE = """{%- set ns = namespace(n=0) -%}
{% for message in messages %}
    {% if message['role'] == 'system' %}{% continue %}{% endif %}
    {% set ns.n = ns.n + 1 %}
    {{ bos_token if bos_token is defined else '' }}<|im_start|>{{ message['role'] }}
{{ message['content'] | trim }}{{ eos_token }}
{% generation %}turn {{ ns.n }} {{ {'q': message['content'][:3], 'é': 1} | tojson }}{% endgeneration %}
{% endfor %}
{{ dict(a=1) | tojson }}
{% if add_generation_prompt %}<|im_start|>assistant
<think>
{% endif %}"""


def _transformers_tokenizer(path):
    pytest.importorskip("transformers")
    from budgetbench.engines.tokenizer import HFTokenizer

    return HFTokenizer.load(str(path))


def assert_same(path, exact_specials: bool = True) -> None:
    ours, theirs = FileTokenizer(path), _transformers_tokenizer(path)
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text), text
    assert ours.vocab() == theirs.vocab()
    rng = random.Random(0)
    for _ in range(200):
        ids = [rng.randrange(len(theirs.vocab())) for _ in range(rng.randrange(1, 24))]
        assert ours.decode(ids) == theirs.decode(ids), ids
    assert ours.eos_token_ids == theirs.eos_token_ids
    # the template transformers renders with (of named templates, the default one)
    assert ours.chat_template == (theirs.hf.get_chat_template() if theirs.chat_template else None)
    for question in ("What is 1+2?", "  café\n\n结束  ", ""):
        assert ours.render_chat(question) == theirs.render_chat(question)
        prompt = ours.render_chat(question)
        assert ours.encode(prompt) == theirs.encode(prompt)
    # Special: what a server's skip_special_tokens drops (transformers' named and extra ones, and
    # every added token marked special); on the models the tests build, exactly transformers' list.
    assert set(theirs.special_tokens) <= set(ours.special_tokens)
    assert set(theirs.special_ids) <= set(ours.special_ids)
    assert all(theirs.hf.decode([i], skip_special_tokens=True) == "" for i in ours.special_ids)
    if exact_specials:
        assert set(ours.special_tokens) == set(theirs.special_tokens)


@pytest.mark.parametrize("fmt", ["think", "think-split", "s1"])
def test_same_as_transformers_on_the_random_models(tiny_models, fmt):
    assert_same(tiny_models[fmt])


def test_same_as_transformers_on_the_toy_model():
    assert_same(MODEL_DIR)


def test_same_rendering_of_a_template_that_uses_the_whole_environment(tmp_path):
    model = shutil.copytree(MODEL_DIR, tmp_path / "m")
    (model / "chat_template.jinja").write_text(RICH_TEMPLATE, encoding="utf-8")
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["bos_token"] = "<|system|>"
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    assert_same(model)
    assert '{"q": "caf", "é": 1}' in FileTokenizer(model).render_chat("café")


def test_same_on_an_older_configuration_layout(tmp_path):
    """Template inside tokenizer_config.json (as named templates), tokens as {"content": ...},
    added tokens and a special token that tokenizer.json lacks, a legacy special_tokens_map.json."""
    model = shutil.copytree(MODEL_DIR, tmp_path / "m")
    template = (model / "chat_template.jinja").read_text()
    (model / "chat_template.jinja").unlink()
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("extra_special_tokens")
    config["chat_template"] = [{"name": "default", "template": template}, {"name": "tool_use", "template": "x"}]
    config["eos_token"] = {"content": "<|end|>", "lstrip": False, "rstrip": False, "normalized": False}
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    (model / "special_tokens_map.json").write_text(json.dumps({
        "additional_special_tokens": ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"],
        "eos_token": {"content": "<|end|>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False}}))
    assert_same(model)
    assert "<|tool|>" in FileTokenizer(model).vocab()  # added, as transformers adds it

    # As transformers 4 writes it: every added token of tokenizer.json, here plus one it lacks.
    added = json.loads((model / "tokenizer.json").read_text())["added_tokens"]
    config["added_tokens_decoder"] = {str(t.pop("id")): t for t in added}
    config["added_tokens_decoder"]["384"] = {"content": "<|extra|>", "special": True, "normalized": False,
                                             "lstrip": False, "rstrip": False, "single_word": False}
    config["chat_template"] = template
    config["eos_token"] = {"__type": "AddedToken", **config["eos_token"], "single_word": False, "special": True}
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    assert_same(model, exact_specials=False)  # transformers now ignores the map's extra specials
    assert FileTokenizer(model).encode("a<|extra|>")[-1] == 384


def test_a_template_that_raises_or_escapes_is_one_error(tmp_path):
    model = shutil.copytree(MODEL_DIR, tmp_path / "m")
    (model / "chat_template.jinja").write_text("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(EngineError, match="chat template of .* failed: roles must alternate"):
        FileTokenizer(model).render_chat("q")
    (model / "chat_template.jinja").write_text("{% set ns = namespace() %}{% set ns._x = 1 %}")
    with pytest.raises(Exception, match="_x"):
        FileTokenizer(model).render_chat("q")
    (model / "chat_template.jinja").write_text("{{ ''.__class__.__mro__ }}")
    with pytest.raises(Exception, match="unsafe|__class__"):
        FileTokenizer(model).render_chat("q")


def test_a_hub_id_without_huggingface_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(EngineError, match=r"budgetbench\[hub\].*--tokenizer"):
        load_tokenizer("some-org/some-model")


def test_a_folder_without_tokenizer_json_needs_transformers(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(EngineError, match=r"no tokenizer\.json.*budgetbench\[hf\]"):
        load_tokenizer(str(tmp_path))
    with pytest.raises(EngineError, match=r"remote code.*budgetbench\[hf\]"):
        load_tokenizer(str(MODEL_DIR), trust_remote_code=True)


def test_loading_needs_no_torch_and_no_transformers(monkeypatch):
    for name in ("torch", "transformers"):
        monkeypatch.setitem(sys.modules, name, None)
    tok = load_tokenizer(str(MODEL_DIR))
    assert isinstance(tok, FileTokenizer) and tok.decode(tok.encode("a=1 b+")) == "a=1 b+"


@pytest.mark.parametrize("template", [None, RICH_TEMPLATE])
def test_a_whole_chat_renders_as_transformers_renders_it(tmp_path, template):
    """lm-eval's histories: with the generation prompt, and continuing the last message."""
    model = shutil.copytree(MODEL_DIR, tmp_path / "m")
    if template:
        (model / "chat_template.jinja").write_text(template, encoding="utf-8")
    ours, theirs = FileTokenizer(model), _transformers_tokenizer(model)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a=1 b=2 "},
            {"role": "assistant", "content": "a+b=3"}, {"role": "user", "content": "café  "}]
    for messages in (chat, chat[:3]):
        for add in (True, False):
            assert ours.render_messages(messages, add) == theirs.render_messages(messages, add), (len(messages), add)


def test_a_hub_id_fetches_only_the_tokenizer_files(monkeypatch):
    import types

    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, tuple(allow_patterns)))
        return str(MODEL_DIR)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    tok = load_tokenizer("org/model", revision="abc")
    assert isinstance(tok, FileTokenizer) and tok.name == "org/model"
    [(repo, revision, patterns)] = calls
    assert (repo, revision) == ("org/model", "abc") and "tokenizer.json" in patterns
    assert not any(p.endswith((".safetensors", ".bin")) for p in patterns)


@pytest.mark.parametrize("package", ["tokenizers", "jinja2"])
def test_a_missing_package_names_the_openai_extra_at_load(monkeypatch, package):
    from budgetbench.engines import chat_template

    chat_template.compile_template.cache_clear()
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(EngineError, match=rf"'{package}' package.*budgetbench\[openai\]"):
        load_tokenizer(str(MODEL_DIR))
    chat_template.compile_template.cache_clear()


def test_a_template_that_does_not_parse_is_refused_at_load(tmp_path):
    model = shutil.copytree(MODEL_DIR, tmp_path / "m")
    (model / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}")
    with pytest.raises(EngineError, match="does not parse"):
        FileTokenizer(model)
