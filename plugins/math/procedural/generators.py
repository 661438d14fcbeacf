"""Seeded problem generators. Each takes a `random.Random` and a level (1 = trivial .. 5 = hard) and
returns the question and its gold answer, computed with sympy (imported lazily: this module is only
imported when a procedural dataset is iterated)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import sympy
from sympy.abc import x, y, z


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str


def _tex(value: sympy.Basic) -> str:
    return sympy.latex(value)


def _nonzero(rng: random.Random, low: int, high: int) -> int:
    return rng.choice([n for n in range(low, high + 1) if n != 0])


def arithmetic(rng: random.Random, level: int) -> Problem:
    """Level 1: single-digit addition. Higher levels: bigger numbers, more operations, negatives."""
    if level == 1:
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        return Problem(f"What is {a} + {b}?", str(a + b))
    size = 10 ** min(level, 4)
    ops = rng.choices(["+", "-", "*"], k=level - 1)
    numbers = [rng.randint(-size if level >= 4 else 1, size) for _ in range(level)]
    text = str(numbers[0])
    for op, number in zip(ops, numbers[1:], strict=False):
        text += f" {op} " + (f"({number})" if number < 0 else str(number))
    shown = text.replace("*", "\\times")
    return Problem(f"Compute ${shown}$.", str(sympy.sympify(text)))


def fractions(rng: random.Random, level: int) -> Problem:
    """Sums and products of fractions; the answer is in lowest terms."""
    limit = 2 + 2 * level
    a, b = _proper_fraction(rng, limit), _proper_fraction(rng, limit)
    op = "+" if level <= 2 else rng.choice(["+", "-", "\\times"])
    value = {"+": a + b, "-": a - b, "\\times": a * b}[op]
    return Problem(f"Compute ${_tex(a)} {op} {_tex(b)}$ in lowest terms.", _tex(value))


def _proper_fraction(rng: random.Random, limit: int) -> sympy.Rational:
    while True:
        value = sympy.Rational(rng.randint(1, limit), rng.randint(2, limit))
        if not value.is_integer:
            return value


def linear(rng: random.Random, level: int) -> Problem:
    """Solve a x + b = c. Level 1: x + b = c with a small integer solution."""
    a = 1 if level == 1 else _nonzero(rng, -3 * level, 3 * level)
    b = rng.randint(0, 9) if level == 1 else rng.randint(-10 * level, 10 * level)
    solution = (
        rng.randint(0, 9) if level <= 2 else sympy.Rational(rng.randint(-20, 20), rng.randint(1, level))
    )
    c = a * solution + b
    equation = sympy.Eq(a * x + b, c)
    (root,) = sympy.solve(equation, x)
    return Problem(f"Solve for $x$: ${_tex(equation.lhs)} = {_tex(equation.rhs)}$.", _tex(root))


def system(rng: random.Random, level: int) -> Problem:
    """Two (level >= 4: three) linear equations with an integer solution; answer is the ordered tuple."""
    names = (x, y, z) if level >= 4 else (x, y)
    solution = [rng.randint(-3 * level, 3 * level) for _ in names]
    while True:
        matrix = sympy.Matrix([[rng.randint(-level - 1, level + 1) for _ in names] for _ in names])
        if matrix.det() != 0:
            break
    rhs = matrix * sympy.Matrix(solution)
    equations = [
        sympy.Eq(sum(c * v for c, v in zip(row, names, strict=True)), r)
        for row, r in zip(matrix.tolist(), rhs, strict=True)
    ]
    roots = sympy.solve(equations, names, dict=True)[0]
    lines = ", ".join(f"${_tex(e.lhs)} = {_tex(e.rhs)}$" for e in equations)
    variables = ", ".join(str(v) for v in names)
    answer = "(" + ", ".join(_tex(roots[v]) for v in names) + ")"
    return Problem(f"Solve the system {lines}. Give $({variables})$.", answer)


def quadratic(rng: random.Random, level: int) -> Problem:
    """Roots of a quadratic as a set; integer roots at low levels, irrational or complex ones later."""
    if level <= 2:
        r1, r2 = rng.randint(-4 * level, 4 * level), rng.randint(-4 * level, 4 * level)
        poly = sympy.expand((x - r1) * (x - r2))
    else:
        poly = x**2 + rng.randint(-level * 2, level * 2) * x + _nonzero(rng, -level * 3, level * 3)
    roots = sorted(set(sympy.solve(sympy.Eq(poly, 0), x)), key=sympy.default_sort_key)
    return Problem(
        f"Find all solutions of ${_tex(poly)} = 0$. List them separated by commas.",
        ", ".join(_tex(r) for r in roots),
    )


def expand(rng: random.Random, level: int) -> Problem:
    """Expand a product of linear factors."""
    factors = [x + rng.randint(-level * 2, level * 2) for _ in range(1 + (level + 1) // 2)]
    product = sympy.Mul(*factors)
    return Problem(f"Expand ${_tex(product)}$.", _tex(sympy.expand(product)))


def factor(rng: random.Random, level: int) -> Problem:
    """Factor x^2 + px + q as (x + a)(x + b); asking for (a, b) with a <= b makes the form checkable."""
    a, b = sorted((rng.randint(-3 * level, 3 * level), rng.randint(-3 * level, 3 * level)))
    poly = sympy.expand((x + a) * (x + b))
    return Problem(
        f"Factor ${_tex(poly)}$ as $(x + a)(x + b)$ with $a \\le b$. Give $(a, b)$.", f"({a}, {b})"
    )


def derivative(rng: random.Random, level: int) -> Problem:
    """Differentiate a polynomial (level >= 3: with a trig or exponential term)."""
    poly = sum(rng.randint(1, 3 * level) * x**k for k in range(1, level + 1))
    if level >= 3:
        poly += rng.choice([sympy.sin(x), sympy.cos(x), sympy.exp(x)]) * rng.randint(1, level)
    return Problem(f"Find the derivative of ${_tex(poly)}$ with respect to $x$.", _tex(sympy.diff(poly, x)))


def integral(rng: random.Random, level: int) -> Problem:
    """A definite integral of a polynomial with integer bounds."""
    poly = sum(rng.randint(1, 2 * level) * x**k for k in range(level))
    low = rng.randint(0, level)
    high = low + rng.randint(1, 2)
    value = sympy.integrate(poly, (x, low, high))
    return Problem(f"Evaluate $\\int_{{{low}}}^{{{high}}} {_tex(poly)} \\, dx$.", _tex(value))


WORD_TEMPLATES = (
    ("{name} has {a} apples and buys {b} more. How many apples does {name} have now?", "a + b"),
    ("{name} had {a} stickers and gave away {b}. How many stickers are left?", "a - b"),
    ("A box holds {a} pencils. How many pencils are in {b} boxes?", "a * b"),
    ("{name} reads {a} pages a day for {b} days, then {c} more pages. How many pages in total?", "a * b + c"),
    (
        "{a} cookies are shared equally among {b} friends, with {c} cookies left over. "
        "How many cookies were there?",
        "a * b + c",
    ),
)
NAMES = ("Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goro", "Hana")


def word(rng: random.Random, level: int) -> Problem:
    """Short word problems from templates; level picks harder templates and bigger numbers."""
    template, formula = WORD_TEMPLATES[rng.randint(0, min(level, len(WORD_TEMPLATES)) - 1)]
    size = 9 if level == 1 else 10 * level
    a, b, c = rng.randint(1, size), rng.randint(1, size), rng.randint(1, size)
    if formula == "a - b" and b > a:
        a, b = b, a
    answer = sympy.sympify(formula, locals={"a": a, "b": b, "c": c})
    question = template.format(name=rng.choice(NAMES), a=a, b=b, c=c)
    return Problem(question, str(answer))


GENERATORS: dict[str, Callable[[random.Random, int], Problem]] = {
    "arithmetic": arithmetic,
    "fractions": fractions,
    "linear": linear,
    "system": system,
    "quadratic": quadratic,
    "expand": expand,
    "factor": factor,
    "derivative": derivative,
    "integral": integral,
    "word": word,
}
