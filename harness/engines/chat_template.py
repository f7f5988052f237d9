"""Chat templates rendered with jinja2 alone, the way transformers' ``apply_chat_template`` does.

A model's chat template is untrusted code from its files: it runs in jinja2's immutable sandbox
with the environment transformers gives it (``trim_blocks``, ``lstrip_blocks``, loop controls,
the ``{% generation %}`` tag, ``tojson`` without HTML escaping, ``raise_exception``,
``strftime_now``, a ``dict`` and a ``namespace`` that refuse underscore names) and the variables
transformers passes (``messages``, ``tools``, ``documents``, ``add_generation_prompt`` and the
tokenizer's named special tokens). tests/unit/engines/test_file_tokenizer.py checks that the
rendering equals transformers' on templates that use each of these.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from budgetbench.engines.base import EngineError, MissingExtraError

MIN_JINJA = (3, 1, 6)  # older releases have known sandbox escapes (transformers refuses them too)


CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "  # transformers' marker for continue_final_message


def render_chat_template(source: str, messages: list[dict[str, Any]], *, add_generation_prompt: bool,
                         special_tokens: dict[str, str], name: str = "the model",
                         continue_final_message: bool = False) -> str:
    """``source`` rendered for ``messages``; a template that raises is one EngineError line.

    ``continue_final_message``: the text ends inside the last message (what the template writes
    after its content is cut), as transformers does it: a marker appended to the content, cut."""
    template = compile_template(source)
    import jinja2

    messages = [{k: v for k, v in m.items() if v is not None} for m in messages]  # as transformers
    final = ""
    if continue_final_message:
        final = messages[-1].get("content") if messages else None
        if not isinstance(final, str) or "content" not in source:
            raise EngineError(f"the chat template of {name} cannot continue a final message")
        messages[-1] = {**messages[-1], "content": final + CONTINUE_TAG}
    try:
        text = template.render(messages=messages, tools=None, documents=None,
                               add_generation_prompt=add_generation_prompt, **special_tokens)
    except jinja2.TemplateError as exc:
        raise EngineError(f"the chat template of {name} failed: {exc}") from None
    if not continue_final_message:
        return text
    if final.strip() not in text or CONTINUE_TAG.strip() not in text:
        raise EngineError(f"the chat template of {name} drops part of the final message, which cannot be continued")
    at = text.rindex(CONTINUE_TAG.strip())
    return text[:at] if text[at : at + len(CONTINUE_TAG)] == CONTINUE_TAG else text[:at].rstrip()


@lru_cache(maxsize=16)
def compile_template(source: str) -> Any:
    """The compiled template (cached): jinja2 missing or a template that does not parse is one error."""
    try:
        import jinja2
        import jinja2.ext
        import jinja2.nodes
        import jinja2.utils
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:
        raise MissingExtraError("jinja2", "openai") from exc
    version = tuple(int(p) for p in jinja2.__version__.split(".")[:3] if p.isdigit())
    if version < MIN_JINJA:
        raise EngineError(f"chat templates need jinja2>={'.'.join(map(str, MIN_JINJA))} (older releases have "
                          f"sandbox escapes), found {jinja2.__version__}: pip install -U jinja2")

    class Generation(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}`` (assistant-mask markers): the body as it is."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    class TemplateDict:
        """``dict(...)`` without attribute access to the type."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        """``namespace(...)`` that refuses underscore names (no way to CPython internals)."""

        def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805  (jinja's own signature trick)
            self, args = args[0], args[1:]
            for key in dict(*args, **kwargs):
                TemplateNamespace._check(key)
            jinja2.utils.Namespace.__init__(self, dict(*args, **kwargs))

        def __setitem__(self, key: str, value: Any) -> None:
            TemplateNamespace._check(key)
            jinja2.utils.Namespace.__setitem__(self, key, value)

        @staticmethod
        def _check(key: Any) -> None:
            if isinstance(key, str) and key.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"a chat template may not set {key!r} on a namespace")

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now, dict=TemplateDict(),
                       namespace=TemplateNamespace)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise EngineError(f"the chat template does not parse (line {exc.lineno}): {exc.message}") from None
