"""Seeded problem generators. Each takes a `random.Random`, a level (1 = trivial .. 5 = hard) and the
operators arithmetic may use (`+`, `-`, `*`), and returns the question and its gold answer, computed with
sympy (imported lazily: this module is only imported when a procedural dataset is iterated)."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy
from sympy.abc import x, y, z


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str
    worked: str | None = None  # a worked solution, where the generator can write one (a cold start's data)


def _tex(value: sympy.Basic) -> str:
    return sympy.latex(value)


def _nonzero(rng: random.Random, low: int, high: int) -> int:
    return rng.choice([n for n in range(low, high + 1) if n != 0])


Operators = Sequence[str]
SHOWN = {"+": "+", "-": "-", "*": "\\times"}
APPLY: dict[str, Callable[[int, int], int]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def arithmetic(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Level 1: single-digit addition (or another allowed operator). Higher levels: bigger numbers, more
    operations, negatives. Sums of non-negative numbers come with a column-addition worked solution."""
    if level == 1:
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        op = "+" if "+" in operators else rng.choice(operators)
        a, b = (max(a, b), min(a, b)) if op == "-" else (a, b)
        question = f"What is {a} {op} {b}?" if op != "*" else f"What is ${a} {SHOWN[op]} {b}$?"
        return Problem(question, str(APPLY[op](a, b)), column_addition([a, b]) if op == "+" else None)
    size = 10 ** min(level, 4)
    ops = rng.choices(list(operators), k=level - 1)
    numbers = [rng.randint(-size if level >= 4 else 1, size) for _ in range(level)]
    text = str(numbers[0])
    for op, number in zip(ops, numbers[1:], strict=False):
        text += f" {SHOWN[op]} " + (f"({number})" if number < 0 else str(number))
    worked = column_addition(numbers) if set(ops) == {"+"} and min(numbers) >= 0 else None
    return Problem(f"Compute ${text}$.", str(_evaluate(numbers, ops)), worked)


def column_addition(numbers: Sequence[int]) -> str:
    """Addition digit by digit from the right, with carries: 39 + 42 -> "9 + 2 = 11, 3 + 4 + 1 = 8"."""
    columns = max(len(str(n)) for n in numbers)
    steps, carry = [], 0
    for place in range(columns):
        terms = [int(str(n)[-1 - place]) for n in numbers if place < len(str(n))]
        terms += [carry] if carry else []
        total = sum(terms)
        steps.append(f"{' + '.join(map(str, terms))} = {total}")
        carry = total // 10
    return ", ".join(steps)


def _evaluate(numbers: list[int], ops: list[str]) -> int:
    """`numbers` joined by `ops` with the usual precedence (products first), in exact integers."""
    terms = [numbers[0]]
    for op, number in zip(ops, numbers[1:], strict=True):
        if op == "*":
            terms[-1] *= number
        else:
            terms.append(number if op == "+" else -number)
    return sum(terms)


def fractions(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Sums (level >= 3: differences and products too) of fractions; the answer is in lowest terms."""
    limit = 2 + 2 * level
    a, b = _proper_fraction(rng, limit), _proper_fraction(rng, limit)
    op = "+" if level <= 2 and "+" in operators else rng.choice(list(operators))
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return Problem(f"Compute ${_tex(a)} {SHOWN[op]} {_tex(b)}$ in lowest terms.", _tex(value))


def _proper_fraction(rng: random.Random, limit: int) -> sympy.Rational:
    while True:
        value = sympy.Rational(rng.randint(1, limit), rng.randint(2, limit))
        if not value.is_integer:
            return value


def linear(rng: random.Random, level: int, operators: Operators) -> Problem:
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


def system(rng: random.Random, level: int, operators: Operators) -> Problem:
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


def quadratic(rng: random.Random, level: int, operators: Operators) -> Problem:
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


def expand(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Expand a product of linear factors."""
    factors = [x + rng.randint(-level * 2, level * 2) for _ in range(1 + (level + 1) // 2)]
    product = sympy.Mul(*factors)
    return Problem(f"Expand ${_tex(product)}$.", _tex(sympy.expand(product)))


def factor(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Factor x^2 + px + q as (x + a)(x + b); asking for (a, b) with a <= b makes the form checkable."""
    a, b = sorted((rng.randint(-3 * level, 3 * level), rng.randint(-3 * level, 3 * level)))
    poly = sympy.expand((x + a) * (x + b))
    return Problem(
        f"Factor ${_tex(poly)}$ as $(x + a)(x + b)$ with $a \\le b$. Give $(a, b)$.", f"({a}, {b})"
    )


def derivative(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Differentiate a polynomial (level >= 3: with a trig or exponential term)."""
    poly = sum(rng.randint(1, 3 * level) * x**k for k in range(1, level + 1))
    if level >= 3:
        poly += rng.choice([sympy.sin(x), sympy.cos(x), sympy.exp(x)]) * rng.randint(1, level)
    return Problem(f"Find the derivative of ${_tex(poly)}$ with respect to $x$.", _tex(sympy.diff(poly, x)))


def integral(rng: random.Random, level: int, operators: Operators) -> Problem:
    """A definite integral of a polynomial with integer bounds."""
    poly = sum(rng.randint(1, 2 * level) * x**k for k in range(level))
    low = rng.randint(0, level)
    high = low + rng.randint(1, 2)
    value = sympy.integrate(poly, (x, low, high))
    return Problem(f"Evaluate $\\int_{{{low}}}^{{{high}}} {_tex(poly)} \\, dx$.", _tex(value))


WORD_TEMPLATES = (  # (template, formula); higher levels may pick later templates
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


def word(rng: random.Random, level: int, operators: Operators) -> Problem:
    """Short word problems from templates; level picks harder templates and bigger numbers."""
    allowed = [t for t in WORD_TEMPLATES if set(t[1]) - set("abc ") <= set(operators)]
    candidates = [t for t in allowed if WORD_TEMPLATES.index(t) < level] or allowed[:1]
    template, formula = candidates[rng.randint(0, len(candidates) - 1)]
    size = 9 if level == 1 else 10 * level
    a, b, c = rng.randint(1, size), rng.randint(1, size), rng.randint(1, size)
    if formula == "a - b" and b > a:
        a, b = b, a
    answer = sympy.sympify(formula, locals={"a": a, "b": b, "c": c})
    question = template.format(name=rng.choice(NAMES), a=a, b=b, c=c)
    return Problem(question, str(answer))


GENERATORS: dict[str, Callable[[random.Random, int, Operators], Problem]] = {
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
