"""Multiple-choice answer extraction: the letter a reader would take as the final answer.

Conventions
-----------
* Only the text after the last ``</think>`` counts.
* An *answer statement* is one of: a ``\\boxed{}`` whose content is a letter (optionally
  followed by the option text, ``\\boxed{C: 3.40 eV}``); an answer keyword followed by a
  letter (``Answer: (B)``, ``**Answer:** b``, ``The answer is: **C**``, ``the answer must be
  C``, ``Final answer - D``, ``答案：C``); a choice keyword (``Correct choice: C``, ``the
  choice is D``, ``I choose option B``); or a letter-first verdict (``Option (B) is
  correct``, ``D is the correct answer``). Letters may be lower case after an answer
  keyword, and may be wrapped in parentheses, ``**bold**``, ``$..$``, ``\\text{}``.
* A bare letter followed by a lower-case word is read as an article or pronoun ("Answer: A
  detailed analysis...", "I believe") and is not a statement, unless the word is a
  connective ("because", "since", "is", ...).
* When several statements occur, the last one wins (mentions such as "Option A seems
  plausible" or "Options (A), (C) and (D) are wrong" are not statements). If the winning
  statement names a letter outside A-D, the result is None: the model answered something
  that is not an option. With no statement at all, a last line that is just a letter is
  taken; otherwise None. There is never a default letter.
"""

from __future__ import annotations

import re
from collections import deque

from .extract import after_thinking, match_brace

__all__ = ["extract_choice", "VALID_LETTERS"]

VALID_LETTERS = "ABCD"
NAMED_OPTION_WINDOW = 300  # characters after an answer keyword searched for "option C" / "(C)"

_CONNECTIVES = frozenset(
    "because since as is was which and or so for with given here this that then hence thus "
    "would should must seems".split()
)

# Keywords after which a letter is an answer statement. Group "kw" tells how strict to be.
_STATEMENT = re.compile(
    r"(?P<answer>\b(?:final\s+|correct\s+|best\s+|right\s+)?answer(?:\s+choice)?\b"
    r"(?:[ \t]*[*_]+)?[ \t]*(?:is|would\s+be|should\s+be|must\s+be|will\s+be|=|:|：|-|–|—)?)"
    r"|(?P<choice>\b(?:correct\s+|best\s+|final\s+|right\s+)?(?:choice|option)\s*(?:is|:|：|=|-)"
    r"|\b(?:choose|select|pick|go\s+with)\b)"
    r"|(?P<zh>答案\s*(?:是|为)?|正解は|答えは)"
    r"|(?P<intl>\b(?:(?:die\s+)?(?:richtige\s+)?antwort(?:\s+ist)?|(?:la\s+)?respuesta(?:\s+correcta)?\s+es(?:\s+la)?"
    r"|(?:la\s+)?(?:bonne\s+)?r[ée]ponse(?:\s+correcte)?\s+est|(?:la\s+)?risposta(?:\s+corretta)?\s+è"
    r"|(?:a\s+)?resposta(?:\s+correta)?\s+é|ответ)\b[ \t]*[:：-]?)"
    r"|(?P<tag><answer>)",
    re.IGNORECASE,
)
# A conclusion that names a letter and stops there: "so D.", "Therefore C.", "Ultimately, D.",
# "it must be D". Strict: the letter must end the clause ("so A is wrong" is no answer).
_CONCLUSION = re.compile(
    r"\b(?:therefore|thus|hence|so|ultimately|finally|must\s+be|it\s+is|it's|which\s+is)\b[ \t]*,?", re.I)
_CLAUSE_END = re.compile(r"[*_$)\]}\\]*(?:[.!;,)]|\s*$|\s*\n|\s*</)")
# After an answer keyword that is not followed by a letter ("Answer: Based on the table,
# option C ..."), the first option named later on the same line.
_NAMED_OPTION = re.compile(r"(?:option|choice)\s*\(?(?P<a>[A-Da-d])\)?(?![\w'’])|\((?P<b>[A-Da-d])\)")
# Letter-first verdicts: "Option (B) is correct", "(C) is the correct answer", "D is correct".
_VERDICT = re.compile(
    r"(?i:\b(?:option|choice)\s*\(?(?P<letter>[A-Z])\)?\s+is\s+(?:the\s+)?(?:correct|right|best|answer)\b)"
    r"|(?:\((?P<letter2>[A-Za-z])\)|\b(?P<letter3>[A-Z]))\s+is\s+(?:the\s+)?"
    r"(?:(?i:correct|right|best)|(?i:only)\s+(?:\w+\s+)?(?i:option|choice|answer))\b",
)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_OPENERS = ("\\boxed{", "\\text{", "\\textbf{", "\\mathrm{", "\\mathbf{", "\\(", "\\[",
            "<answer>", "**", "*", "__", "$", "(", "[", "{", ":", "：")
_OPTION_WORD = re.compile(r"(?:option|choice)\s+", re.IGNORECASE)
_FOLLOW_WORD = re.compile(r"[ \t]+([a-z]+)")


def _letter_at(text: str, pos: int, allow_lower: bool) -> tuple[int, str] | None:
    """Parse a letter token at ``text[pos:]`` (after whitespace and wrappers).

    Returns (index of the letter, the letter upper-cased), or None when what follows is not
    a standalone letter.
    """
    n = len(text)
    wrapped = False
    for _ in range(12):  # bounded: wrappers are few
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        for opener in _OPENERS:
            if text.startswith(opener, pos):
                pos += len(opener)
                wrapped = wrapped or opener not in (":", "：")
                break
        else:
            m = _OPTION_WORD.match(text, pos)
            if m is None:
                break
            pos = m.end()
    if pos >= n or not text[pos].isascii() or not text[pos].isalpha():
        return None
    letter = text[pos]
    nxt = text[pos + 1] if pos + 1 < n else ""
    if nxt and (nxt.isalnum() or nxt in "_'’"):
        return None  # part of a word or a symbol name
    if letter.islower() and not allow_lower:
        return None
    after = text[pos + 1:pos + 1 + 40]
    closers = after.lstrip("*_$)]}\\")
    wrapped = wrapped or len(closers) != len(after)
    if not wrapped:
        m = _FOLLOW_WORD.match(after)
        if m is not None and m.group(1) not in _CONNECTIVES:
            return None  # "A detailed analysis", "I believe": an article or pronoun
    return pos, letter.upper()


def _box_letters(text: str) -> list[tuple[int, str]]:
    """Letters given as the content of top-level boxes: ``\\boxed{B}``, ``\\boxed{(C) ...}``."""
    found: list[tuple[int, str]] = []
    pos = 0
    while (m := _BOX.search(text, pos)) is not None:
        end = match_brace(text, m.end() - 1)
        if end is None:
            break
        content = text[m.end():end - 1]
        tok = _letter_at(content, 0, allow_lower=True)
        if tok is not None:
            rest = content[tok[0] + 1:].lstrip(" )}*$\\")
            if not rest or rest[0] in ":.)," or content[tok[0] + 1:].startswith(")"):
                found.append((m.end() + tok[0], tok[1]))
        pos = end
    return found


class _NamedOptions:
    """The first option named ("option C", "(C)") within ``NAMED_OPTION_WINDOW`` characters after
    a position, on the same line. Positions are asked in increasing order and every character
    is scanned at most once, so a text full of keywords stays linear."""

    def __init__(self, text: str):
        self.text, self.scanned = text, 0
        self.hits: deque[tuple[int, str]] = deque()  # (position, letter), in order

    def after(self, pos: int) -> tuple[int, str] | None:
        end = min(len(self.text), pos + NAMED_OPTION_WINDOW)
        start = max(pos, self.scanned)
        for m in _NAMED_OPTION.finditer(self.text, start, end):
            group = "a" if m.group("a") else "b"
            self.hits.append((m.start(group), m.group(group).upper()))
        self.scanned = max(self.scanned, end)
        while self.hits and self.hits[0][0] < pos:
            self.hits.popleft()
        if not self.hits or self.hits[0][0] >= end or "\n" in self.text[pos:self.hits[0][0]]:
            return None
        return self.hits[0]


def _statements(text: str) -> list[tuple[int, str]]:
    """(position, letter) of every answer statement in ``text``."""
    found = _box_letters(text)
    named = _NamedOptions(text)
    for m in _STATEMENT.finditer(text):
        tok = _letter_at(text, m.end(), allow_lower=m.group("choice") is None)
        if tok is None and (m.group("answer") or m.group("intl") or m.group("zh")):
            tok = named.after(m.end())
        if tok is not None:
            found.append(tok)
    for m in _CONCLUSION.finditer(text):
        tok = _letter_at(text, m.end(), allow_lower=False)
        if tok is not None and _CLAUSE_END.match(text, tok[0] + 1):
            found.append(tok)
    for m in _VERDICT.finditer(text):
        group = next(g for g in ("letter", "letter2", "letter3") if m.group(g))
        found.append((m.start(group), m.group(group).upper()))
    return found


def _bare_last_line(text: str) -> str | None:
    """The letter when the last non-empty line is only a letter (``B``, ``(B)``, ``**B.**``)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line:
            m = re.fullmatch(r"[*_$(\[\s]*([A-Za-z])[)\].*_$\s]*", line)
            return m.group(1).upper() if m else None
    return None


def extract_choice(text: str) -> str | None:
    """The letter A-D the response gives as its final answer, or None when there is none."""
    if not text:
        return None
    tail = after_thinking(text)
    found = _statements(tail)
    if found:
        letter = max(found)[1]
    else:
        letter = _bare_last_line(tail)
    return letter if letter is not None and letter in VALID_LETTERS else None
