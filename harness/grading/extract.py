"""Extraction primitives: the answer part of a response, boxes, answer markup.

(The rules that pick a math response's final answer are ``final_answer.py``'s.)

Conventions
-----------
* Only the text after the last ``</think>`` is considered (the answer, not the reasoning),
  when the response contains one.
* ``extract_boxed`` returns the content of the *last top-level* ``\\boxed{...}`` (or
  ``\\fbox{...}``). Braces are matched with escapes honoured: ``\\{`` and ``\\}`` are literal
  braces and do not count, ``\\\\`` is a line break. Boxes nested inside a box belong to it
  (``\\boxed{\\boxed{5}}`` gives ``\\boxed{5}``, which the comparison then unwraps).
* Decision on truncation: if the last box that was opened is never closed (the response
  was cut off inside it), the result is ``None`` even when an earlier complete box exists.
  A truncated final answer is not an answer, and an earlier box is one the model went on
  past; crediting it would reward a cut-off response for an intermediate result.
* ``strip_answer_markup`` removes markdown emphasis, ``$...$`` / ``\\(...\\)`` / ``\\[...\\]``
  delimiters and a trailing period around an answer.

Every function here runs in time linear in the length of its input (no backtracking-heavy
regular expressions), so hostile text cannot stall extraction.
"""

from __future__ import annotations

import re

__all__ = ["after_thinking", "extract_boxed", "match_brace", "strip_answer_markup"]

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_THINK_END = "</think>"


def after_thinking(text: str) -> str:
    """The part of ``text`` after the last ``</think>`` (all of it when there is none)."""
    idx = text.rfind(_THINK_END)
    return text if idx < 0 else text[idx + len(_THINK_END):]


def match_brace(text: str, open_idx: int) -> int | None:
    """Index just past the ``}`` closing the ``{`` at ``open_idx``, or None if unbalanced.

    A backslash escapes the next character, so ``\\{``/``\\}`` are not counted.
    """
    depth = 0
    i, n = open_idx, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def extract_boxed(text: str) -> str | None:
    """Content of the last top-level ``\\boxed{}``/``\\fbox{}`` in ``text``, stripped.

    Returns None when there is no box, or when the last box opened is unbalanced
    (truncated output), whatever came before it.
    """
    if not text:
        return None
    result: str | None = None
    pos = 0
    while True:
        m = _BOX_START.search(text, pos)
        if m is None:
            return result
        open_idx = m.end() - 1
        end = match_brace(text, open_idx)
        if end is None:
            return None  # the final box was cut off: no answer
        result = text[open_idx + 1:end - 1].strip()
        pos = end


_MATH_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACE = re.compile(r"\s*")
MAX_MARKUP_LAYERS = 64  # layers of emphasis/math/periods peeled at most (a real answer has a few)


def strip_answer_markup(s: str) -> str:
    """Strip markdown emphasis, math delimiters and a trailing period (also ``。``) around an answer.

    Works on indices into ``s`` (no copies), at most ``MAX_MARKUP_LAYERS`` layers, so it is
    linear in ``len(s)`` whatever the input: 200k characters of ``*`` take milliseconds.
    """
    lo, hi = 0, len(s)

    def trim(lo: int, hi: int) -> tuple[int, int]:
        lo = _SPACE.match(s, lo, hi).end()
        while hi > lo and s[hi - 1].isspace():
            hi -= 1
        return lo, hi

    lo, hi = trim(lo, hi)
    for _ in range(MAX_MARKUP_LAYERS):
        before = (lo, hi)
        for mark in ("**", "__", "*"):
            if hi - lo > 2 * len(mark) and s.startswith(mark, lo, hi) and s.endswith(mark, lo, hi):
                lo, hi = trim(lo + len(mark), hi - len(mark))
        if s.startswith("**", lo, hi) and s.find("**", lo + 2, hi) == -1:  # unbalanced bold opener
            lo, hi = trim(lo + 2, hi)
        if s.endswith("**", lo, hi) and s.find("**", s.find("**", lo, hi) + 2, hi) == -1:  # ... closer
            lo, hi = trim(lo, hi - 2)
        for left, right in _MATH_DELIMITERS:  # one layer of $..$, $$..$$, \(..\), \[..\]
            if hi - lo >= len(left) + len(right) and s.startswith(left, lo, hi) and s.endswith(right, lo, hi):
                lo, hi = trim(lo + len(left), hi - len(right))
                break
        if (s.endswith(".", lo, hi) and not s.endswith("..", lo, hi)) or s.endswith(("。", "．"), lo, hi):
            lo, hi = trim(lo, hi - 1)
        if (lo, hi) == before:
            break
    return s[lo:hi]
