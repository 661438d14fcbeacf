"""The slow path, run inside a worker process: LaTeX/expression parsing and symbolic comparison.

math-verify (on latex2sympy2_extended and sympy) does the parsing and the structural comparison: sets,
intervals, tuples, matrices, equations, inequalities. On top of it this module adds a numeric comparison
with a relative tolerance and "pred is gold rounded to the decimals pred was written with". Timeouts are
the caller's job (the worker is killed), so math-verify's own signal-based timeouts are switched off.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from rewardkit.plugins.math.numbers import Number, is_rounding_of

_DECIMAL = re.compile(r"(?<![\d.])\d*\.(\d+)")


def warm_up() -> None:
    """Pool initializer: import the heavy stack once per worker, not inside a timed call."""
    symbolic_match(("\\frac{1}{2}",), ("x^2",), 1e-4, True)


def _silence_timeout_notice() -> None:
    # math-verify logs that its own timeout is off; ours is the worker kill, so the notice is noise.
    import math_verify.grader
    import math_verify.parser

    math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    math_verify.parser.TIMEOUT_WARNING_SHOWN = True


def symbolic_match(
    golds: tuple[str, ...], preds: tuple[str, ...], rel_tol: float, rounded_match: bool
) -> bool:
    """Whether any form of the gold equals any form of the prediction (a percentage has two forms)."""
    return any(symbolic_equal(gold, pred, rel_tol, rounded_match) for gold in golds for pred in preds)


def symbolic_equal(gold: str, pred: str, rel_tol: float, rounded_match: bool) -> bool:
    """Whether the two (already extracted and normalized) answers are mathematically equal."""
    from math_verify import verify

    from rewardkit.plugins.math.giants import without_giants
    from rewardkit.plugins.math.probe import clearly_different

    _silence_timeout_notice()

    gold_parsed, pred_parsed = without_giants(list(parse_answer(gold)), list(parse_answer(pred)))
    if not gold_parsed or not pred_parsed:
        return False
    if not rounded_match and clearly_different(gold_parsed[0], pred_parsed[0], rel_tol):
        return False
    if verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return True
    places = _decimal_places(pred) if rounded_match else None
    if places is not None and verify(gold_parsed, pred_parsed, float_rounding=places, timeout_seconds=None):
        return True
    if _numerically_close(gold_parsed[0], pred_parsed[0], rel_tol, places):
        return True
    return _evaluated_equal(gold_parsed[0], pred_parsed[0])


@lru_cache(maxsize=1024)  # a gold answer is graded against every completion of its group
def parse_answer(text: str) -> tuple[Any, ...]:
    """Parse an answer as LaTeX (wrapped in `$...$`) and, failing that, as a plain expression."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    targets = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    parsed = parse(f"${text}$", targets, parsing_timeout=None)
    return tuple(parsed or parse(text, targets, parsing_timeout=None))


def _decimal_places(text: str) -> int | None:
    """The most decimal places written in `text` (2+), for "pred is a rounding of gold" comparisons."""
    places = [len(m.group(1)) for m in _DECIMAL.finditer(text)]
    return max(places) if places and max(places) >= 2 else None


def _numerically_close(gold: Any, pred: Any, rel_tol: float, places: int | None) -> bool:
    if getattr(gold, "is_Integer", False) and getattr(pred, "is_Integer", False):
        return False  # verify() already compared them exactly; no tolerance between integers
    gold_value, pred_value = _as_float(gold), _as_float(pred)
    if gold_value is None or pred_value is None:
        return False
    if rel_tol > 0 and math.isclose(gold_value, pred_value, rel_tol=rel_tol):
        return True
    if places is None:
        return False
    from fractions import Fraction

    return is_rounding_of(Number(Fraction(pred_value).limit_denominator(10**places), places), gold_value)


def _evaluated_equal(gold: Any, pred: Any) -> bool:
    """Unevaluated matrix products and the like (`I \\cdot I` vs `I`): evaluate, then compare."""
    import sympy

    if not any(isinstance(x, sympy.MatrixBase | sympy.MatrixExpr) or _has_matrix(x) for x in (gold, pred)):
        return False
    try:
        difference = sympy.simplify(sympy.Matrix(gold.doit()) - sympy.Matrix(pred.doit()))
    except (TypeError, ValueError, AttributeError, sympy.ShapeError):
        return False
    return all(entry == 0 for entry in difference)


def _has_matrix(expr: Any) -> bool:
    import sympy

    return isinstance(expr, sympy.Basic) and any(
        isinstance(a, sympy.MatrixBase) for a in expr.atoms(sympy.MatrixBase)
    )


def _as_float(expr: Any) -> float | None:
    import sympy

    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    try:
        value = complex(expr.evalf(30))
    except (TypeError, ValueError, OverflowError):
        return None
    if value.imag != 0 or not math.isfinite(value.real):
        return None
    return value.real
