"""math-verify, called so that model text can never be evaluated as Python.

Audit of math-verify 0.9.0 / latex2sympy2_extended 1.11.0 (the installed versions):

* ``math_verify.parser.extract_expr`` (the ``ExprExtractionConfig`` path) calls sympy's
  ``parse_expr`` on raw text, which ``eval``s it. We only ever pass
  ``LatexExtractionConfig``, so that path is unreachable.
* latex2sympy's ANTLR grammar is a real parser, but it turns number tokens into sympy
  numbers with ``sympy.Number(text)`` (``_Latex2Sympy.parse_number`` and the module-level
  ``convert_number``), and ``Number(str)`` calls ``sympify(str)`` -> ``parse_expr`` -> ``eval``.
  The text is a lexer NUMBER token (digits, separators), but we do not rely on the lexer:
  both functions are replaced by versions that validate the text with a strict regex and
  build ``Integer``/``Float`` directly, with no ``sympify``.
* ``_Latex2Sympy.__init__`` calls ``parse_expr`` on ``variable_values`` strings; math-verify
  never passes any.
* ``logic.And`` and ``sets.FiniteSet`` call ``sympify`` on already-built sympy objects (no
  string path).

As defence in depth, ``install_guards`` also replaces ``sympy.parsing.sympy_parser.
parse_expr`` (through which every string ``sympify`` goes; sympify imports it at call time)
and math-verify's own reference to it with a guard that refuses every string except a bare
decimal literal or a plain identifier (``yotta``: sympy modules imported lazily sympify such
constant names at import time; evaluating a lone name or number runs no code). Any other
string raises, so an unforeseen path fails closed (the comparison is False) instead of
evaluating text. The lazily imported sympy modules seen on math-verify's code paths are
imported before the guard goes in, so in practice the guard is never reached at all.

The guards are process-wide, so they are installed in the grading worker processes (and by
the in-process test helpers), never as a side effect of importing ``budgetbench.grading``.
Timeouts: math-verify's own (SIGALRM-based) timeouts are disabled (``parsing_timeout=None``,
``timeout_seconds=None``); the wall-clock bound comes from the worker pool.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["guarded", "install_guards", "mv_equal", "StringParsingRefused", "uninstall_guards"]

_NUM = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HARMLESS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z][A-Za-z0-9]{0,30}")
_INSTALLED = False
_ORIGINAL_PARSE_EXPR: Any = None
_SAVED: list[tuple[Any, str, Any]] = []


class StringParsingRefused(ValueError):
    """Raised instead of evaluating a string with sympy's ``parse_expr``."""


def _guarded_parse_expr(s: Any, *args: Any, **kwargs: Any) -> Any:
    """Stand-in for ``parse_expr``: only a lone number or identifier gets through."""
    if isinstance(s, str) and _HARMLESS.fullmatch(s.strip()):
        return _ORIGINAL_PARSE_EXPR(s, *args, **kwargs)
    raise StringParsingRefused("budgetbench grading: sympy string parsing is disabled")


def _safe_sympy_number(text: str) -> Any:
    """``sympy.Number(text)`` for a validated decimal literal, without ``sympify``."""
    import sympy

    t = text.replace(",", "").replace(" ", "")
    if not _NUM.fullmatch(t):
        raise ValueError(f"not a number literal: {text[:40]!r}")
    if t.isdigit():
        return sympy.Integer(int(t))
    return sympy.Float(t)


def _safe_convert_number(number: str) -> Any:
    """Replacement for ``latex2sympy2.convert_number`` (same semantics, no sympify)."""
    if "," in number and number.startswith("0"):
        number = number.replace(",", ".")
    integer = number.translate(str.maketrans("", "", ", ")).lstrip("0")
    negative = integer.startswith("-")
    integer = integer.lstrip("-").lstrip("0") or "0"
    value = _safe_sympy_number(integer)
    return -value if negative else value


def _safe_parse_number(self: Any, text: str) -> Any:
    """Replacement for ``_Latex2Sympy.parse_number`` (same semantics, no sympify)."""
    text = text.replace(",", "")
    if text.isdigit():
        text = text.lstrip("0") or "0"
    return _safe_sympy_number(text)


def install_guards() -> None:
    """Patch latex2sympy and sympy in this process so no string reaches ``eval``."""
    global _INSTALLED, _ORIGINAL_PARSE_EXPR
    if _INSTALLED:
        return
    import latex2sympy2_extended.latex2sympy2 as l2s
    import math_verify.parser as mv_parser
    import sympy.parsing
    import sympy.parsing.sympy_parser as sympy_parser
    import sympy.physics.units  # noqa: F401  (imported lazily by sympy; sympifies names)

    _ORIGINAL_PARSE_EXPR = sympy_parser.parse_expr
    patches = [
        (l2s, "convert_number", _safe_convert_number),
        (l2s._Latex2Sympy, "parse_number", _safe_parse_number),
        (l2s, "parse_expr", _guarded_parse_expr),
        (sympy_parser, "parse_expr", _guarded_parse_expr),
        (sympy.parsing, "parse_expr", _guarded_parse_expr),
        (mv_parser, "parse_expr", _guarded_parse_expr),
    ]
    for owner, name, replacement in patches:
        _SAVED.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)
    mv_parser.parse_expr_cached.cache_clear()
    mv_parser.parse_latex_cached.cache_clear()
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _INSTALLED = True


def uninstall_guards() -> None:
    """Undo ``install_guards`` (for tests that run the comparison in their own process)."""
    global _INSTALLED
    while _SAVED:
        owner, name, original = _SAVED.pop()
        setattr(owner, name, original)
    if _INSTALLED:
        import math_verify.parser as mv_parser

        mv_parser.parse_latex_cached.cache_clear()
    _INSTALLED = False


@contextmanager
def guarded() -> Iterator[None]:
    """Run a block with the guards installed, restoring the libraries afterwards."""
    was_installed = _INSTALLED
    install_guards()
    try:
        yield
    finally:
        if not was_installed:
            uninstall_guards()


def mv_equal(gold: str, pred: str) -> bool:
    """math-verify's verdict on two box contents, LaTeX extraction only, no signal timeouts."""
    install_guards()
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]
    g = parse("\\boxed{" + gold + "}", extraction_config=config, parsing_timeout=None)
    p = parse("\\boxed{" + pred + "}", extraction_config=config, parsing_timeout=None)
    if not g or not p:
        return False
    return bool(verify(g, p, timeout_seconds=None))
