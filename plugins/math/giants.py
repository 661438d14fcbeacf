"""Answers with astronomically large numbers (`10^{10^{100}}`, `(10^{10})!`), graded without computing them.

sympy evaluates an integer power or factorial as soon as it takes part in arithmetic, and one with a googol
digits never finishes. Before anything is evaluated, each such node becomes an opaque symbol, the same one
wherever it is written the same way, so `10^{10^{100}} - 10^{10^{100}}` simplifies to 0 and `9^{9^{9^{9}}}`
compares as unequal to 1 at once. Runs in the worker process (imports sympy).
"""

from __future__ import annotations

import math
from typing import Any

import sympy

MAX_DIGITS = 4_000  # beyond this a value is never computed (and Python refuses to print it)


def without_giants(*answers: list[Any]) -> list[list[Any]]:
    """The parsed answers with every giant power or factorial replaced by a shared opaque symbol."""
    names: dict[Any, sympy.Dummy] = {}
    return [[_replace(item, names) if isinstance(item, sympy.Basic) else item for item in a] for a in answers]


def _replace(expr: sympy.Basic, names: dict[Any, sympy.Dummy]) -> sympy.Basic:
    replacements = {node: names.setdefault(node, sympy.Dummy("giant")) for node in _giants(expr)}
    if not replacements:
        return expr
    return _evaluate(expr.xreplace(replacements))


def _giants(expr: sympy.Basic) -> list[sympy.Basic]:
    """The outermost giant nodes of `expr`, found without evaluating anything."""
    if _is_giant(expr):
        return [expr]
    return [giant for arg in expr.args for giant in _giants(arg)]


def _is_giant(node: sympy.Basic) -> bool:
    if not isinstance(node, sympy.Pow | sympy.factorial):
        return False
    estimate = _log10(node)
    return estimate is not None and not -MAX_DIGITS <= estimate[1] <= MAX_DIGITS


def _log10(node: sympy.Basic) -> tuple[int, float] | None:
    """(sign, log10 |value|) of a node built from numbers, +, *, ^ and !; None for anything else."""
    if isinstance(node, sympy.Rational):
        sign = (node.p > 0) - (node.p < 0)
        return sign, _log10_int(node.p) - _log10_int(node.q) if sign else -math.inf
    if isinstance(node, sympy.Float):
        value = float(node)
        return (value > 0) - (value < 0), math.log10(abs(value)) if value else -math.inf
    parts = [_log10(arg) for arg in node.args]
    if not parts or any(part is None for part in parts):
        return None
    known = [part for part in parts if part is not None]
    if isinstance(node, sympy.Mul):
        return math.prod(sign for sign, _ in known), sum(log for _, log in known)
    if isinstance(node, sympy.Add):
        return max(known, key=lambda part: part[1])  # the largest term: enough to tell giants apart
    if isinstance(node, sympy.Pow):
        (base_sign, base_log), (exp_sign, exp_log) = known
        exponent = exp_sign * _power_of_ten(exp_log)
        return (1 if base_sign else 0), (exponent * base_log if base_log else 0.0)
    if isinstance(node, sympy.factorial):
        (_, log) = known[0]
        return 1, math.lgamma(_power_of_ten(log) + 1) / math.log(10)
    return None


def _log10_int(value: int) -> float:
    return math.log10(abs(value))


def _power_of_ten(log: float) -> float:
    try:
        return 10.0**log
    except OverflowError:
        return math.inf


def _evaluate(expr: sympy.Basic) -> sympy.Basic:
    """Evaluate an expression parsed with evaluation off (giants are symbols by now), bottom up."""
    if not expr.args or not isinstance(expr, sympy.Basic):
        return expr
    args = [_evaluate(arg) for arg in expr.args]
    try:
        return expr.func(*args)
    except (TypeError, ValueError):
        return expr
