"""A seeded set of sympy-heavy grading rows (written for rewardkit's benchmarks): every row's gold and
prediction are written differently, so no string or plain-number shortcut decides it; about a third are wrong.

Each template gives (gold, an equal answer written another way, a wrong answer); completions box the answer.
`python benchmarks/math_symbolic_set.py N` prints N rows as JSONL.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from math import gcd
from typing import Any

Triple = tuple[str, str, str]
PREAMBLE = "Working through the problem step by step gives the result."
SQUAREFREE = (2, 3, 5, 6, 7, 10, 11, 13, 14, 15)
ANGLES = (  # (angle, its exact sine)
    ("\\frac{\\pi}{6}", "\\frac{1}{2}"),
    ("\\frac{\\pi}{4}", "\\frac{\\sqrt{2}}{2}"),
    ("\\frac{\\pi}{3}", "\\frac{\\sqrt{3}}{2}"),
)


def _int(rng: random.Random, low: int = 2, high: int = 9) -> int:
    return rng.randint(low, high)


def radical_fraction(rng: random.Random) -> Triple:
    a, b, c = _int(rng), rng.choice(SQUAREFREE), _int(rng, 3, 11)
    while gcd(a, c) != 1:
        c += 1
    gold, equal = f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}", f"\\frac{{{a}}}{{{c}}}\\sqrt{{{b}}}"
    return gold, equal, f"\\frac{{{a}\\sqrt{{{b + 1}}}}}{{{c}}}"


def quadratic(rng: random.Random) -> Triple:
    r, s = _int(rng, -9, 9), _int(rng, -9, 9)
    p, q = r + s, r * s
    gold = f"x^2 {'+' if p >= 0 else '-'} {abs(p)}x {'+' if q >= 0 else '-'} {abs(q)}"
    return gold, f"(x {r:+d})(x {s:+d})".replace("+", "+ ").replace("-", "- "), f"(x {r:+d})(x {s + 1:+d})"


def pi_multiple(rng: random.Random) -> Triple:
    a, c = _int(rng, 1, 12), _int(rng, 2, 12)
    while gcd(a, c) != 1:
        a += 1
    return f"\\frac{{{a}\\pi}}{{{c}}}", f"\\frac{{{a}}}{{{c}}}\\pi", f"\\frac{{{a + 1}}}{{{c}}}\\pi"


def radical(rng: random.Random) -> Triple:
    a, b = _int(rng), rng.choice(SQUAREFREE)
    return f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}", f"\\sqrt{{{a * a * b + 1}}}"


def irrational_roots(rng: random.Random) -> Triple:
    p, d = _int(rng, 1, 9), rng.choice(SQUAREFREE)
    plus, minus = f"\\frac{{-{p} + \\sqrt{{{d}}}}}{{2}}", f"\\frac{{-{p} - \\sqrt{{{d}}}}}{{2}}"
    wrong = f"\\frac{{-{p} + \\sqrt{{{d + 1}}}}}{{2}}, {minus}"
    return f"{plus}, {minus}", f"{minus}, {plus}", wrong


def complex_number(rng: random.Random) -> Triple:
    a, b = _int(rng, 1, 20), _int(rng, 1, 20)
    return f"{a} + {b}i", f"{b}i + {a}", f"{a} - {b}i"


def trig_value(rng: random.Random) -> Triple:
    angle, sine = rng.choice(ANGLES)
    wrong = next(s for _, s in ANGLES if s != sine) if rng.random() < 0.5 else f"\\tan\\left({angle}\\right)"
    return sine, f"\\sin\\left({angle}\\right)", wrong


def logarithm(rng: random.Random) -> Triple:
    base, k = rng.choice((2, 3, 5)), _int(rng, 2, 6)
    return f"\\log_{{{base}}} {base**k}", f"{k}", f"{k + 1}"


def interval(rng: random.Random) -> Triple:
    a, b = _int(rng, -9, 0), _int(rng, 1, 9)
    return f"[{a}, {b})", f"\\left[ {a}, \\frac{{{2 * b}}}{{2}} \\right)", f"({a}, {b}]"


def exponential(rng: random.Random) -> Triple:
    a, b = _int(rng, 1, 5), _int(rng, 1, 5)
    return f"e^{{{a + b}}}", f"e^{{{a}}} e^{{{b}}}", f"e^{{{a}}} + e^{{{b}}}"


def power_rule(rng: random.Random) -> Triple:
    n = _int(rng, 3, 9)
    return f"{n}x^{{{n - 1}}}", f"\\frac{{{n} x^{{{n}}}}}{{x}}", f"{n}x^{{{n}}}"


def line(rng: random.Random) -> Triple:
    m, c = _int(rng, 2, 9), _int(rng, 1, 9)
    return f"y = {m}x + {c}", f"y = {c} + {m}x", f"y = {m}x - {c}"


def matrix(rng: random.Random) -> Triple:
    a, b, c, d = (_int(rng, 1, 9) for _ in range(4))
    gold = f"\\begin{{pmatrix}} {a} & {b} \\\\ {c} & {d} \\end{{pmatrix}}"
    equal = f"\\begin{{pmatrix}} \\frac{{{2 * a}}}{{2}} & {b} \\\\ {c} & \\sqrt{{{d * d}}} \\end{{pmatrix}}"
    wrong = f"\\begin{{pmatrix}} {b} & {a} \\\\ {c} & {d + 1} \\end{{pmatrix}}"
    return gold, equal, wrong


def rational_function(rng: random.Random) -> Triple:
    a, b = _int(rng, 1, 9), _int(rng, 1, 9)
    gold, wrong = f"\\frac{{x + {a}}}{{x - {b}}}", f"\\frac{{x - {a}}}{{x - {b}}}"
    return gold, f"\\frac{{2x + {2 * a}}}{{2x - {2 * b}}}", wrong


TEMPLATES: tuple[Callable[[random.Random], Triple], ...] = (
    radical_fraction,
    quadratic,
    pi_multiple,
    radical,
    irrational_roots,
    complex_number,
    trig_value,
    logarithm,
    interval,
    exponential,
    power_rule,
    line,
    matrix,
    rational_function,
)


def symbolic_rows(n: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows {id, answer, completion, expected}; two in three predictions are equal to the gold."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        gold, equal, wrong = TEMPLATES[index % len(TEMPLATES)](rng)
        expected = rng.random() < 2 / 3
        pred = equal if expected else wrong
        completion = f"{PREAMBLE}\nThe answer is $\\boxed{{{pred}}}$."
        rows.append({"id": str(index), "answer": gold, "completion": completion, "expected": expected})
    return rows


if __name__ == "__main__":
    for row in symbolic_rows(int(sys.argv[1]) if len(sys.argv) > 1 else 300):
        print(json.dumps(row))
