"""MATH-style equivalence of two final answers (box contents). Runs unbounded: call it
through ``budgetbench.grading.math_equal`` (a worker pool with a wall-clock bound), or directly
only in tests.

Decision procedure, first verdict wins:

1. Cheap caps: an answer longer than ``MAX_ANSWER_CHARS`` or nested deeper than
   ``MAX_DEPTH`` is wrong (``too_long`` / ``too_deep``) unless identical to the gold.
2. Normalise both (``normalize.py``: presentation, ``\\%``, ``^\\circ``, ``\\$``, units,
   ``\\text``). Identical strings are equal.
3. Labels: ``x = 5`` matches ``5``; a predicted chain ``m+n = 301+14 = 315`` is read by its
   last member; a gold equation is reduced to its value only when its left side is a label
   (a name such as ``x``, ``|AB|``, ``\\frac{NO}{BO}``), never when it is a relation between
   quantities (``a + 3z = 0`` stays an equation).
4. Plain numbers are compared exactly with ``Fraction`` (``numeric.py``), so ``1/2^{99}`` !=
   ``1/2^{98}`` and ``5`` != ``500``; the one tolerance: a decimal with 4+ places equals a
   fraction whose expansion does not terminate when it is that fraction rounded or truncated
   (``0.3333`` = 1/3, ``0.33`` != 1/3; ``_approximates``). A comma followed by one or two digits
   is a decimal comma (``1,22`` = 1.22), by three digits a thousands separator, by a space a
   list separator (``32, 349`` != 32349). An inequality in one variable equals the interval it
   describes (``x \\ge 5`` = ``[5,\\infty)``). With a percent sign on one side,
   ``x\\%`` denotes ``x`` or ``x/100``. Numbers with a base subscript compare by value when
   both carry one (``204_5`` != ``204_6``); the subscript may be omitted (``204`` matches
   ``204_5``). Astronomically large values (``9^{9^{9^9}}``) are never computed: wrong,
   ``too_large``.
5. Word answers (``\\text{East}`` vs ``east``) compare case-insensitively; a bare run of
   letters counts as a word when one side used ``\\text`` or both are 4+ letters long
   (``ab`` vs ``ba`` are products of variables, left to step 7).
6. Containers keep their type: a set ``\\{a,b\\}`` never equals an ordered pair/tuple or an
   interval, in either direction (a bare list ``a, b`` is unordered and may match a set).
   A list of assignments ``x = 2, y = 3`` compared with a tuple is the ordered tuple
   ``(2, 3)``.
7. Otherwise math-verify decides (``mvsafe.mv_equal``: LaTeX parsing only, guarded).

Returns ``(equal, reason)``; ``reason`` is None for an ordinary verdict.
"""

from __future__ import annotations

import re

from .normalize import Normalized, normalize, split_top_level
from fractions import Fraction

from .numeric import NotNumeric, TooLarge, base_literal, exact_value

__all__ = ["MAX_ANSWER_CHARS", "MAX_DEPTH", "compare"]

MAX_ANSWER_CHARS = 2_000
MAX_DEPTH = 40

_WORD = re.compile(r"\(?[A-Za-z][A-Za-z '\-]*\)?")
_VAR = r"[A-Za-z](?:_\{?\w+\}?)?"
_ASSIGNMENT = re.compile(rf"({_VAR})=(.+)")
_SPACED_LIST = re.compile(r"\d\s*,\s+-?\d")  # "32, 349": two items, not a number with a separator
_DECIMAL_COMMA = re.compile(r"-?\d+,\d{1,2}")  # "1,22": a decimal point written as a comma
_LONG_DECIMAL = re.compile(r"-?\d*\.(\d{4,})")
_INEQUALITY = re.compile(r"(?P<var>[A-Za-z])(?P<op>\\geq?|\\leq?|>|<)(?P<bound>[^<>]+)")
_BETWEEN = re.compile(r"(?P<lo>[^<>]+?)(?P<op1>\\leq?|<)(?P<var>[A-Za-z])(?P<op2>\\leq?|<)(?P<hi>[^<>]+)")


def _depth(s: str) -> int:
    depth = best = 0
    for ch in s:
        if ch in "{([":
            depth += 1
            best = max(best, depth)
        elif ch in "})]":
            depth -= 1
    return best


def _is_label(lhs: str) -> bool:
    """A name rather than a quantity: ``x``, ``|AB|``, ``\\frac{NO}{BO}``, ``V_{1}:V_{2}``."""
    stripped = re.sub(r"_\{?\w+\}?", "", lhs)
    return bool(lhs) and re.search(r"[\d+\-]", stripped) is None


def _equation_parts(s: str) -> list[str]:
    """``a = b = c`` -> [a, b, c]; a list (top-level commas) is not an equation."""
    return [s] if len(split_top_level(s)) > 1 else split_top_level(s, "=")


def _value_side(n: Normalized, other: Normalized, is_gold: bool) -> str:
    """The part of an answer to compare as a value (labels and chains removed)."""
    parts = _equation_parts(n.text)
    if len(parts) < 2:
        return n.text
    other_parts = _equation_parts(other.text)
    if len(other_parts) >= 2:
        # both equations: same label on the left -> compare the values
        return parts[-1] if parts[0] == other_parts[0] else n.text
    if not is_gold or _is_label(parts[0]):
        return parts[-1]
    return n.text


def _numeric_verdict(g: Normalized, p: Normalized, gs: str, ps: str) -> bool | None:
    """Exact numeric comparison, or None when either side is not a plain number."""
    gb, pb = base_literal(gs), base_literal(ps)
    if gb or pb:
        try:
            if gb and pb:
                return int(gb[0], gb[1]) == int(pb[0], pb[1])
            digits = (gb or pb)[0]  # type: ignore[index]
            plain = ps if gb else gs
            return plain.isdigit() and int(plain) == int(digits)
        except ValueError:  # digit not valid in that base
            return None
    try:
        gv, pv = exact_value(gs), exact_value(ps)
    except (NotNumeric, RecursionError, ZeroDivisionError, ValueError):
        return None
    if g.percent == p.percent:
        return gv == pv or _approximates(gs, gv, ps, pv)
    # exactly one side wrote a percent sign: "x%" may be read as x or as x/100
    return pv in (gv, gv / 100) if g.percent else gv in (pv, pv / 100)


def _approximates(gs: str, gv, ps: str, pv) -> bool:
    """A decimal with at least 4 places equals a fraction whose expansion does not terminate
    when it is that fraction rounded or truncated at its last place (``0.3333``, ``0.6667``,
    ``0.0833333333333333``). Two places are too few to tell 1/3 from 0.33; a terminating
    fraction (1/8) must be given exactly, and irrational golds never reach here."""
    for literal, value, other in ((ps, pv, gv), (gs, gv, pv)):
        m = _LONG_DECIMAL.fullmatch(literal)
        if m is None or _terminates(other):
            continue
        scale = 10 ** len(m.group(1))
        target, exact = abs(value) * scale, abs(other) * scale
        if target.denominator == 1 and (value < 0) == (other < 0):
            floor = exact.numerator // exact.denominator
            rounded = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
            if target.numerator in (floor, rounded):
                return True
    return False


def _terminates(value) -> bool:
    """Whether a fraction has a finite decimal expansion (its denominator is 2^a 5^b)."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _as_interval(s: str) -> str | None:
    """``x\\ge5`` -> ``[5,\\infty)``, ``2<x\\le3`` -> ``(2,3]``: an inequality in one variable as the
    interval it describes (None when ``s`` is not one)."""
    m = _BETWEEN.fullmatch(s)
    if m is not None:
        left = "[" if m.group("op1").startswith("\\le") else "("
        right = "]" if m.group("op2").startswith("\\le") else ")"
        return f"{left}{m.group('lo')},{m.group('hi')}{right}"
    m = _INEQUALITY.fullmatch(s)
    if m is None:
        return None
    op, bound = m.group("op"), m.group("bound")
    if op in (">", "\\ge", "\\geq"):
        return ("[" if op != ">" else "(") + bound + ",\\infty)"
    return "(-\\infty," + bound + ("]" if op != "<" else ")")


def _bracketed(s: str) -> bool:
    """Written like an interval: ``(a,b)``, ``[a,b)``, ... (two items in brackets)."""
    return len(s) >= 5 and s[0] in "([" and s[-1] in ")]" and len(split_top_level(s[1:-1])) == 2


def _spaced_list_vs_number(gold: str, pred: str, gs: str, ps: str) -> bool:
    """One side is a list written with ", " and the other a plain number: they differ."""
    for raw, other in ((pred, gs), (gold, ps)):
        if _SPACED_LIST.search(raw) and "," not in other:
            try:
                exact_value(other)
            except (NotNumeric, TooLarge, RecursionError, ValueError, ZeroDivisionError):
                continue
            return True
    return False


def _decimal_comma(raw: str, s: str, other: str) -> str:
    """``1,22`` read as 1.22 when unambiguous: one comma, one or two digits after it, no
    space, and the other side is not a list."""
    if _DECIMAL_COMMA.fullmatch(s) and not _SPACED_LIST.search(raw) and "," not in other:
        return s.replace(",", ".")
    return s


def _container(s: str) -> str:
    """'set', 'tuple' (parenthesised, could be an open interval), 'interval', or 'other'.

    Only whole-string containers count: ``\\{1\\}\\cup(2,3)`` is 'other'.
    """
    if s == "\\emptyset" or (s.startswith("\\{") and s.endswith("\\}") and _spans(s)):
        return "set"
    if "\\cup" in s:
        return "other"  # a union: compared as a set by math-verify
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _spans(s):
        items = split_top_level(s[1:-1])
        if len(items) > 1 and all(items):
            return "tuple" if s[0] == "(" and s[-1] == ")" else "interval"
    return "other"


def _spans(s: str) -> bool:
    """Whether the bracket opened at the start of ``s`` (``\\{`` included) closes at its end."""
    depth = 0
    i, n = 0, len(s)
    while i < n:
        if s[i] == "\\":
            pair = s[i:i + 2]
            depth += (pair == "\\{") - (pair == "\\}")
            i += 2
            if pair == "\\}" and depth == 0:
                return i == n
            continue
        depth += (s[i] in "([{") - (s[i] in ")]}")
        i += 1
        if s[i - 1] in ")]}" and depth == 0:
            return i == n
    return False


def _assignments_as_tuple(s: str) -> str | None:
    """``x=2,y=3`` (distinct variables) -> ``(2,3)``; None when ``s`` is not such a list."""
    items = split_top_level(s)
    if len(items) < 2:
        return None
    names, values = [], []
    for item in items:
        m = _ASSIGNMENT.fullmatch(item)
        if m is None:
            return None
        names.append(m.group(1))
        values.append(m.group(2))
    if len(set(names)) != len(names):
        return None
    return "(" + ",".join(values) + ")"


def compare(gold: str, pred: str) -> tuple[bool, str | None]:
    """Whether ``pred`` is MATH-equivalent to ``gold`` (see the module docstring)."""
    if gold.strip() == pred.strip():
        return True, None
    for s in (gold, pred):
        if len(s) > MAX_ANSWER_CHARS:
            return False, "too_long"
        if _depth(s) > MAX_DEPTH:
            return False, "too_deep"
    g, p = normalize(gold), normalize(pred)
    if not p.text:
        return False, None
    if g.text == p.text:
        return True, None
    gs, ps = _value_side(g, p, is_gold=True), _value_side(p, g, is_gold=False)
    if gs == ps:
        return True, None
    if _spaced_list_vs_number(gold, pred, gs, ps):
        return False, None
    gs, ps = _decimal_comma(gold, gs, ps), _decimal_comma(pred, ps, gs)
    if _bracketed(ps) and (gi := _as_interval(gs)) is not None:  # an inequality against an interval
        gs = gi
    elif _bracketed(gs) and (pi := _as_interval(ps)) is not None:
        ps = pi
    try:
        verdict = _numeric_verdict(g, p, gs, ps)
    except TooLarge:
        return False, "too_large"
    if verdict is not None:
        return verdict, None
    if _WORD.fullmatch(gs) and _WORD.fullmatch(ps):
        # words, not products of variables: written in \text, or both at least 4 letters long
        if g.had_text or p.had_text or min(len(gs), len(ps)) >= 4:
            return _word_key(gs) == _word_key(ps), None
    gc, pc = _container(g.text), _container(p.text)
    if gc == "other" and pc == "tuple":
        gs = _assignments_as_tuple(g.text) or gs
        gc = _container(gs)
    elif pc == "other" and gc == "tuple":
        ps = _assignments_as_tuple(p.text) or ps
        pc = _container(ps)
    kinds = {gc, pc}
    if "set" in kinds and kinds & {"tuple", "interval"}:
        return False, None
    from .mvsafe import mv_equal

    return mv_equal(gs, ps), None


def _word_key(s: str) -> str:
    return " ".join(s.strip("()").lower().split())
