"""Exact evaluation of plain numeric answers, without sympy and without ``eval``.

Covers what most MATH/AIME answers are: integers and decimals (``1,000.99`` with thousands
separators), ``\\frac{a}{b}`` and ``a/b``, mixed numbers (``1\\frac{4}{5}`` = 9/5, the MATH
convention for an integer written right before a fraction), ``+ - \\times \\cdot \\div *``,
integer powers (scientific notation ``1.5\\times 10^{3}``), factorials, parentheses and
braces. Values are ``fractions.Fraction``, so the comparison is exact: ``1/2^{99}`` and
``1/2^{98}`` differ, ``0.5`` equals ``\\frac12``, ``1`` differs from ``1.0000001``.

Anything else (radicals, pi, variables, implicit products other than mixed numbers) raises
``NotNumeric`` and is left to the symbolic comparison. Work is bounded: powers and
factorials whose results would exceed ``MAX_BITS`` raise ``TooLarge`` instead of being
computed, so ``9^{9^{9^{9}}}`` costs microseconds.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["MAX_BITS", "NotNumeric", "TooLarge", "exact_value", "base_literal"]

MAX_BITS = 100_000
MAX_FACTORIAL = 5_000


class NotNumeric(ValueError):
    """The string is not a plain numeric expression this evaluator handles."""


class TooLarge(ArithmeticError):
    """The value is astronomically large (beyond ``MAX_BITS``); it was not computed."""


_TOKEN = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+|\\frac|\\times|\\cdot|\\div|[-+*/^!(){}])")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BASE_LITERAL = re.compile(r"(\d+)_\{(\d+)\}")


def base_literal(s: str) -> tuple[str, int] | None:
    """``(digits, base)`` when ``s`` is a number with a base subscript, e.g. ``204_{5}``."""
    m = _BASE_LITERAL.fullmatch(s)
    if m is None:
        return None
    base = int(m.group(2))
    return (m.group(1), base) if 2 <= base <= 36 else None


def _bits(x: Fraction) -> int:
    return max(x.numerator.bit_length(), x.denominator.bit_length())


def _checked(x: Fraction) -> Fraction:
    if _bits(x) > 4 * MAX_BITS:
        raise TooLarge("intermediate value too large")
    return x


class _Parser:
    """Recursive-descent parser/evaluator over the token list."""

    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise NotNumeric(f"expected {expected!r}, got {tok!r}")
        self.i += 1
        return tok

    def expr(self) -> Fraction:
        val = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            val = _checked(val + rhs if op == "+" else val - rhs)
        return val

    def term(self) -> Fraction:
        val = self.unary()
        while self.peek() in ("*", "/", "\\times", "\\cdot", "\\div"):
            op = self.take()
            rhs = self.unary()
            if op in ("/", "\\div"):
                if rhs == 0:
                    raise NotNumeric("division by zero")
                val = _checked(val / rhs)
            else:
                val = _checked(val * rhs)
        return val

    def unary(self) -> Fraction:
        if self.peek() in ("-", "+"):
            op = self.take()
            val = self.unary()
            return -val if op == "-" else val
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take("^")
        exp = self.unary()  # right-associative: 2^{3^{2}} = 2^9
        return _pow(base, exp)

    def postfix(self) -> Fraction:
        val = self.primary()
        while self.peek() == "!":
            self.take("!")
            if val.denominator != 1 or val < 0:
                raise NotNumeric("factorial of a non-natural number")
            if val > MAX_FACTORIAL:
                raise TooLarge("factorial too large")
            val = Fraction(math.factorial(int(val)))
        return val

    def group(self) -> Fraction:
        """A TeX argument: ``{expr}`` or a single digit (``\\frac12``)."""
        tok = self.peek()
        if tok == "{":
            self.take("{")
            val = self.expr()
            self.take("}")
            return val
        if tok is not None and tok.isdigit():
            self.take()
            if len(tok) > 1:  # "\frac123" is \frac{1}{2}3: not a plain number
                raise NotNumeric("ambiguous brace-less argument")
            return Fraction(int(tok))
        raise NotNumeric("bad argument")

    def primary(self) -> Fraction:
        tok = self.peek()
        if tok is None:
            raise NotNumeric("unexpected end")
        if tok in ("(", "{"):
            self.take()
            val = self.expr()
            self.take(")" if tok == "(" else "}")
            return val
        if tok == "\\frac":
            self.take()
            num = self.group()
            den = self.group()
            if den == 0:
                raise NotNumeric("division by zero")
            return num / den
        if tok[0].isdigit() or tok[0] == ".":
            self.take()
            val = Fraction(tok if not tok.endswith(".") else tok[:-1])
            if self.peek() == "\\frac" and val.denominator == 1:
                return val + self._proper_fraction()
            return val
        raise NotNumeric(f"unexpected {tok!r}")

    def _proper_fraction(self) -> Fraction:
        """The fraction part of a mixed number ``n\\frac{p}{q}`` (0 <= p < q, integers)."""
        self.take("\\frac")
        num, den = self.group(), self.group()
        if num.denominator != 1 or den.denominator != 1 or not 0 <= num < den:
            raise NotNumeric("not a mixed number")
        return num / den


def _pow(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1:
        raise NotNumeric("non-integer exponent")
    if base == 0 and exp < 0:
        raise NotNumeric("zero to a negative power")
    if base in (0, 1) or exp == 0:
        return Fraction(1) if exp == 0 else base
    if base == -1:
        return Fraction(-1 if exp.numerator % 2 else 1)
    e = abs(exp.numerator)
    if e > MAX_BITS or _bits(base) * e > MAX_BITS:
        raise TooLarge("power too large")
    val = base ** e
    return 1 / val if exp < 0 else val


def exact_value(s: str) -> Fraction:
    """Exact value of a normalised numeric answer string.

    Raises ``NotNumeric`` when ``s`` is not a plain numeric expression and ``TooLarge`` when
    it denotes a number too large to compute.
    """
    s = s.strip()
    if not s:
        raise NotNumeric("empty")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if base_literal(s) is not None:
        raise NotNumeric("base literal")
    tokens: list[str] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            if s[pos:].strip() == "":
                break
            raise NotNumeric(f"unexpected text at {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    parser = _Parser(tokens)
    val = parser.expr()
    if parser.peek() is not None:
        raise NotNumeric("trailing tokens")
    return val
