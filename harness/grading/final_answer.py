"""The final answer of a math response, found the way a careful reader finds it.

Only the text after the last ``</think>`` is read. Rules, in order of preference; the first
that applies gives the answer, and its name goes into the record's ``grade_note``:

1. ``final line after box`` -- a final-answer statement (``Final Answer: 5``, ``The final answer
   is $5$``, ``答案：5``, see ``MARKERS``) that comes *after* the last box and states something
   answer-like (a number, math, or at most three words): the model corrected itself after boxing.
2. ``box`` -- the last complete ``\\boxed{...}`` / ``\\fbox{...}``, or a brace-less ``\\boxed 4``;
   a box wrapped in boxes (``\\boxed{\\boxed{204}}``) is unwrapped. ``boxes joined`` -- the last
   box and the boxes right before it, when only separators stand between them (commas,
   ``and``, ``\\quad``, ``\\text{ and }``, ``;``): one answer written in several boxes,
   ``\\boxed{1},\\boxed{2},\\boxed{3}`` gives ``1, 2, 3``. If the last box is never closed (the
   response was cut off inside it) there is no answer at all, whatever came before.
3. ``final line`` -- the last final-answer statement. What follows the keyword on its line (or
   the next non-empty line) is read as: a leading math segment (``$X$. I hope it is correct.``
   gives X); else its first sentence, and of that the part after a last ``is``/``=``
   (``The largest $n$ is 34.`` gives 34); a number that opens it and is not part of an
   expression or a list gives the number (``28 percent``, ``10 です``, ``5, since the area is 25``).
4. ``last sentence`` -- no box and no statement: the last math segment, else the last number,
   of the last concluding sentence (one that says so, therefore, is, =, ...) among the final
   two (``Therefore $x \\geq 5$ is the solution.``, ``Hence there are 12 ways.``).

Everything here is linear in the length of the text: regular expressions without nested
quantifiers, scans by index, markup stripped in bounded layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .extract import after_thinking, match_brace, strip_answer_markup

__all__ = ["Extraction", "MARKERS", "extract_answer", "find_final_answer"]

# Final-answer statements, anywhere in a line. English (Minerva's "Final Answer: The final answer
# is", "the answer is", "Answer:"), and the usual phrasings in Chinese, Japanese, German, French,
# Spanish, Italian, Portuguese and Russian.
MARKERS = re.compile(
    r"\bfinal[ \t]+answers?(?:[ \t]+(?:is|are))?(?:[ \t]*[*_]+)?[ \t]*[:：]?"
    r"|\b(?:the[ \t]+)?answers?[ \t]+(?:is|are|would[ \t]+be|should[ \t]+be)\b(?:[ \t]*[*_]+)?[ \t]*[:：]?"
    r"|\banswers?(?:[ \t]*[*_]+)?[ \t]*[:：]"
    r"|^[ \t>#*_-]*answer\b[ \t*_]*(?=[$\\\d(-])"
    r"|最终答案\s*(?:是|为|：|:)?|答案\s*(?:是|为|：|:)?|答えは|解答\s*[:：]"
    r"|\bответ\s*[:：]?|\b(?:die[ \t]+)?antwort(?:[ \t]+ist|[ \t]*[:：])"
    r"|\bla[ \t]+r[ée]ponse(?:[ \t]+est|[ \t]*[:：])|\bla[ \t]+respuesta(?:[ \t]+es|[ \t]*[:：])"
    r"|\bla[ \t]+risposta(?:[ \t]+è|[ \t]*[:：])|\ba[ \t]+resposta(?:[ \t]+é|[ \t]*[:：])",
    re.IGNORECASE | re.MULTILINE,
)
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])[ \t]*")
_BARE_BOX_TOKEN = re.compile(r"[^\s$\\{}]+|\\[A-Za-z]+")
# What may stand between two boxes of one answer.
_JOINER = re.compile(r"(?:[\s,;&$、，；]|\\quad|\\qquad|\\[,;:! ]|\\text\{\s*(?:and|or|,|;)?\s*\}|\band\b|\bor\b"
                     r"|和|与|或|及|\bund\b|\bet\b|\by\b|\be\b|\bи\b)*")
# "x = " right before a box: the box holds the value of x.
_LABEL_BEFORE = re.compile(r"(?P<var>[A-Za-z](?:_\{?\w+\}?)?)\s*=\s*$")
_MATH_OPEN = re.compile(r"\$\$|\$|\\\(|\\\[")
_MATH_CLOSE = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
# Written so that a run of spaces is entered once, at its start (no quadratic backtracking).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])|(?<=[。！？])|(?<=\S)\s+I hope\b", re.I)
_LAST_IS = re.compile(r".*(?:\bis\b|\bare\b|\bequals\b|=|\bist\b|\best\b|\bes\b|是|为)\s*", re.S | re.I)
_NUMBER_PATTERN = r"-?\d+(?:[.,]\d+)*(?:/\d+)?"  # 12, -3.5, 1,000, 3/4
_NUMBER = re.compile(_NUMBER_PATTERN)
# A number that opens a statement and stands alone (a space, punctuation or the end next):
# "28 percent", "5, since ...", "12 ways"; not "2x + 1", not "3 + 4 = 7".
_LEADING_NUMBER = re.compile(rf"[ \t*_]*(?P<n>{_NUMBER_PATTERN})(?=[\s.,;!?。、)]|$)")
_LIST_GOES_ON = re.compile(r"\s*(?:,|;|、|\band\b|\bor\b|和|或)\s*-?\d")
_OPERATOR_NEXT = re.compile(r"\s*[-+*/^=<>×÷]")
_WORDS = re.compile(r"[^\W\d_]+", re.U)
_CONCLUDING = re.compile(
    r"\b(?:therefore|thus|hence|so|answer|solutions?|result|final|total|altogether|conclude|get|obtain|gives?|"
    r"equals?|is|are|it's|think|believe|donc|also|por lo tanto|entonces|поэтому|итак|quindi|portanto)\b|=|所以|因此|因而|"
    r"したがって|よって",
    re.I)


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    rule: str | None  # which rule gave it (None: no answer)


@dataclass(frozen=True)
class _Box:
    start: int
    end: int  # just past the box
    content: str


def _boxes(text: str) -> list[_Box] | None:
    """Every top-level box, in order; None when the last one opened is never closed."""
    found: list[_Box] = []
    pos = 0
    while (m := _BOX.search(text, pos)) is not None:
        if m.end() < len(text) and text[m.end()] == "{":
            end = match_brace(text, m.end())
            if end is None:
                return None  # cut off inside the final box
            content = text[m.end() + 1:end - 1]
        else:  # \boxed 4: one token
            tok = _BARE_BOX_TOKEN.match(text, m.end())
            if tok is None:
                pos = m.end()
                continue
            end, content = tok.end(), tok.group().rstrip(".,;")
        found.append(_Box(m.start(), end, _unbox(content.strip())))
        pos = end
    return found


def _unbox(content: str) -> str:
    """``\\boxed{204}`` inside a box is the same answer: unwrap boxes spanning the content."""
    for _ in range(8):
        m = _BOX.match(content)
        if m is None or m.end() >= len(content) or content[m.end()] != "{":
            return content
        end = match_brace(content, m.end())
        if end != len(content):
            return content
        content = content[m.end() + 1:end - 1].strip()
    return content


def _label(text: str, box: _Box) -> str | None:
    """The variable a box is the value of (``$x = \\boxed{3}$`` -> ``x``), if any."""
    m = _LABEL_BEFORE.search(text, max(0, box.start - 40), box.start)
    return m.group("var") if m else None


def _last_group(text: str, boxes: list[_Box]) -> list[_Box]:
    """The last box and the boxes right before it with only joiners (and ``x =`` labels) between."""
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = text[box.end:group[0].start]
        label = _LABEL_BEFORE.search(gap, max(0, len(gap) - 40))
        if _JOINER.fullmatch(gap[: label.start()] if label else gap) is None:
            break
        group.insert(0, box)
    return group


def _joined(text: str, group: list[_Box]) -> str:
    """One answer from several boxes: ``x = 1, y = -2`` when each box is a different variable's
    value (read as the tuple (1, -2)), else the list of the contents."""
    contents = [b.content for b in group if b.content]
    labels = [_label(text, b) for b in group]
    if len(contents) == len(group) > 1 and all(labels) and len(set(labels)) == len(labels):
        return ", ".join(f"{v} = {c}" for v, c in zip(labels, contents))
    return ", ".join(contents)


def _math_segments(text: str, first_only: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, content) of the ``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` segments, in one
    left-to-right scan (linear: an opener without its closer ends the scan)."""
    found = []
    pos = 0
    while (m := _MATH_OPEN.search(text, pos)) is not None:
        close = text.find(_MATH_CLOSE[m.group()], m.end())
        if close < 0:
            break
        found.append((m.start(), close + len(_MATH_CLOSE[m.group()]), text[m.end():close].strip()))
        pos = close + len(_MATH_CLOSE[m.group()])
        if first_only:
            break
    return found


def _leading_math(text: str) -> str | None:
    """The content of a math segment that opens ``text`` (after spaces and emphasis marks)."""
    start = len(text) - len(text.lstrip(" \t*_"))
    found = _math_segments(text[start:], first_only=True) if _MATH_OPEN.match(text, start) else []
    return found[0][2] if found and found[0][0] == 0 else None


def _statement_answer(text: str, marker: re.Match[str]) -> str | None:
    """What a final-answer statement states (rule 3 of the module docstring)."""
    line_end = text.find("\n", marker.end())
    rest = text[marker.end(): len(text) if line_end < 0 else line_end]
    if not rest.strip(" \t*_:："):  # the answer is on the lines after the keyword: its paragraph
        following = text[marker.end():].lstrip("\n\r\t *_:：")
        rest = following.split("\n\n", 1)[0].replace("\n", " ") if following else ""
    lead = _leading_math(rest)
    if lead is not None:
        return lead or None
    sentence = _SENTENCE_END.split(rest, maxsplit=1)[0].strip()
    lead_number = _LEADING_NUMBER.match(sentence)
    if lead_number is not None:
        after = sentence[lead_number.end():]
        if _LIST_GOES_ON.match(after):
            return strip_answer_markup(sentence) or None  # "2 and 3", "1, 4, 9"
        if not _OPERATOR_NEXT.match(after):
            return lead_number.group("n")  # "28 percent", "5, since it is prime", "10 です", "12 ways"
    m = _LAST_IS.match(sentence)
    after = sentence[m.end():] if m else ""
    if m and (_MATH_OPEN.search(after) or _NUMBER.search(after)):
        sentence = after.strip()  # "The largest $n$ is 34." -> "34."
        lead = _leading_math(sentence)
        if lead is not None:
            return lead or None
    return strip_answer_markup(sentence) or None


_HEDGE = re.compile(r"\b(?:not\s+sure|unsure|whether|either|maybe|perhaps|might|could)\b", re.I)


def _hedged(text: str, marker: re.Match[str]) -> bool:
    """A marker in a hedge ("I'm not sure whether the answer is 5 or 6") states nothing."""
    window = max(0, marker.start() - 60)
    line_start = text.rfind("\n", window, marker.start()) + 1
    return _HEDGE.search(text, max(line_start, window), marker.start()) is not None


def _answer_like(answer: str) -> bool:
    """A statement's answer that can override a box: a number, math, or at most three words."""
    return bool(re.search(r"[\d\\$^_=]", answer)) or len(_WORDS.findall(answer)) <= 3


def _last_sentence_answer(text: str) -> str | None:
    """Rule 4: the last math segment or number of the last concluding sentence (one of the final
    two that says "so", "therefore", "is", "=", ...) that has one."""
    sentences = [s for s in re.split(r"(?<=[.!?。])\s+|\n+", text.strip()) if s.strip()][-2:]
    for sentence in reversed(sentences):
        if _CONCLUDING.search(sentence) is None:
            continue
        segments = _math_segments(sentence)
        last_math = segments[-1] if segments else None
        # the last number outside math: after the last segment, or (none there) before it
        outside = sentence[last_math[1]:] if last_math else sentence
        numbers = _NUMBER.findall(outside)
        if numbers:
            return numbers[-1]
        if last_math is not None:
            return last_math[2] or None
    return None


def find_final_answer(text: str) -> Extraction:
    """The final answer of a response and the rule that found it (see the module docstring)."""
    if not text:
        return Extraction(None, None)
    tail = after_thinking(text)
    boxes = _boxes(tail)
    if boxes is None:
        return Extraction(None, None)  # the final box was cut off
    markers = [m for m in MARKERS.finditer(tail) if not _hedged(tail, m)]
    last_marker = markers[-1] if markers else None
    if boxes:
        if last_marker is not None and last_marker.start() >= boxes[-1].end:
            stated = _statement_answer(tail, last_marker)
            if stated and _answer_like(stated):
                return Extraction(stated, "final line after box")
        group = _last_group(tail, boxes)
        answer = _joined(tail, group)
        return Extraction(answer or None, "boxes joined" if len(group) > 1 else "box")
    if last_marker is not None:
        stated = _statement_answer(tail, last_marker)
        if stated:
            return Extraction(stated, "final line")
    answer = _last_sentence_answer(tail)
    return Extraction(answer, "last sentence" if answer else None)


def extract_answer(text: str) -> str | None:
    """The final answer of a response (``find_final_answer`` without the rule)."""
    return find_final_answer(text).answer
