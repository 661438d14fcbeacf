"""The fast path: answers that are plain numbers are compared exactly, without sympy and without IPC.

Most GSM8K answers and many MATH answers are integers, decimals or simple fractions: `fractions.Fraction`
compares them exactly, so they need neither sympy nor a round trip to a worker process.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?"
_PLAIN = re.compile(rf"\s*({_NUMBER})\s*")
_SLASH = re.compile(r"\s*([+-]?)\s*(\d+)\s*/\s*(\d+)\s*")
_LATEX_FRAC = re.compile(r"\s*([+-]?)\s*\\frac\s*(?:\{\s*(\d+)\s*\}|(\d))\s*(?:\{\s*(\d+)\s*\}|(\d))\s*")
_SCIENTIFIC = re.compile(
    rf"\s*({_NUMBER})\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{{?\s*([+-]?\d{{1,3}})\s*\}}?\s*"
)
_DECIMALS = re.compile(r"\.(\d+)")
MAX_DIGITS = 400  # beyond this a "number" is an attack, not an answer


@dataclass(frozen=True)
class Number:
    """An exactly parsed number and, for decimals, how many decimal places were written."""

    value: Fraction
    decimals: int | None = None


def parse_number(text: str) -> Number | None:
    """Parse an integer, decimal, scientific, `a/b` or `\\frac{a}{b}` literal; None for anything else."""
    if len(text) > MAX_DIGITS:
        return None
    if match := _PLAIN.fullmatch(text):
        literal = match.group(1)
        decimals = _DECIMALS.search(literal)
        places = len(decimals.group(1)) if decimals and "e" not in literal.lower() else None
        return Number(Fraction(literal), places)
    if match := _SLASH.fullmatch(text):
        return _ratio(match.group(1), match.group(2), match.group(3))
    if match := _LATEX_FRAC.fullmatch(text):
        sign, num_braced, num_digit, den_braced, den_digit = match.groups()
        return _ratio(sign, num_braced or num_digit, den_braced or den_digit)
    if match := _SCIENTIFIC.fullmatch(text):
        return Number(Fraction(match.group(1)) * Fraction(10) ** int(match.group(2)))
    return None


def _ratio(sign: str, numerator: str, denominator: str) -> Number | None:
    if int(denominator) == 0:
        return None
    value = Fraction(int(numerator), int(denominator))
    return Number(-value if sign == "-" else value)


def numbers_equal(gold: Number, pred: Number, rel_tol: float, rounded_match: bool = True) -> bool:
    """Exact equality, a relative tolerance, or (optionally) pred being gold rounded to pred's decimals."""
    if gold.value == pred.value:
        return True
    if gold.value.denominator == pred.value.denominator == 1:
        return False  # two integers: a tolerance would make 1112112 equal 1112122
    try:
        if rel_tol > 0 and math.isclose(float(gold.value), float(pred.value), rel_tol=rel_tol):
            return True
    except OverflowError:  # beyond float range only exact equality counts
        return False
    return rounded_match and is_rounding_of(pred, gold.value)


def decimal_comma(text: str) -> Number | None:
    """`1,22` or `1000,99` as a decimal-comma number (European notation); only used against a numeric gold."""
    match = re.fullmatch(r"\s*([+-]?\d+),(\d+)\s*", text)
    return parse_number(f"{match.group(1)}.{match.group(2)}") if match else None


def is_rounding_of(pred: Number, exact: Fraction | float) -> bool:
    """True when `pred` is `exact` rounded to the 2+ decimal places `pred` was written with (`0.33` ~ 1/3)."""
    if pred.decimals is None or pred.decimals < 2:
        return False
    half_ulp = Fraction(1, 2 * 10**pred.decimals)
    try:
        exact_fraction = Fraction(exact)
    except (ValueError, OverflowError):
        return False
    return abs(exact_fraction - pred.value) <= half_ulp


def percent_forms(number: Number, percent: bool) -> tuple[Number, ...]:
    """A percentage `p%` may be meant as p or as p/100 (Qwen2.5-Math's `math_equal` accepts both)."""
    if not percent:
        return (number,)
    places = None if number.decimals is None else number.decimals + 2
    return number, Number(number.value / 100, places)
