"""Telling a wrong answer apart cheaply: two expressions that take different values at a few points
cannot be equal, and evaluating them is far cheaper than the simplification that would otherwise try, and
fail, to prove their difference zero. Runs in the worker process (imports sympy).
"""

from __future__ import annotations

import math
import random
from typing import Any

import sympy

POINTS = 2
MIN_GAP = 1e-9  # relative; far above the error of a 30-digit evaluation


def clearly_different(gold: Any, pred: Any, rel_tol: float) -> bool:
    """True only when both are expressions (not sets, relations or text-like symbol products) whose values
    differ by more than `rel_tol` (the tolerance the grader accepts) at each of a few integer points;
    False means "ask the symbolic comparison"."""
    if not all(_expression(x) for x in (gold, pred)):
        return False
    symbols = sorted(gold.free_symbols | pred.free_symbols, key=str)
    rng = random.Random(0)  # the same points every time: grading stays deterministic
    for _ in range(POINTS):
        point = {symbol: sympy.Integer(rng.randint(2, 97)) for symbol in symbols}
        gold_value, pred_value = _value(gold, point), _value(pred, point)
        if gold_value is None or pred_value is None:
            return False
        gap = max(MIN_GAP, rel_tol) * max(1.0, abs(gold_value), abs(pred_value))
        if abs(gold_value - pred_value) <= gap:
            return False
    return True


def _expression(expr: Any) -> bool:
    if not isinstance(expr, sympy.Expr):
        return False  # sets, relations and matrices have comparison rules of their own
    # `\text{answer}` and `answer` (a product of letters) are the same text to math-verify.
    return not (expr.is_Symbol or (expr.is_Mul and all(arg.is_Symbol for arg in expr.args)))


def _value(expr: sympy.Expr, point: dict[sympy.Symbol, sympy.Integer]) -> complex | None:
    try:
        value = complex(expr.evalf(30, subs=point))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError):
        return None
    return value if math.isfinite(value.real) and math.isfinite(value.imag) else None
