"""Answers that used to run into the deadline are decided, correctly, in the worker: giant numbers are
simplified before anything is evaluated, and a wrong answer that differs numerically skips simplification."""

import asyncio

import pytest

from rewardkit.plugins.math.checker import grade
from rewardkit.plugins.math.grader import GradeConfig

# Generous for a loaded machine; before giants were handled, each of these ran until the worker was killed.
CONFIG = GradeConfig(timeout=20.0)


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("0", "10^{10^{100}} - 10^{10^{100}}", True),
        ("1", "10^{10^{100}} - 10^{10^{100}} + 1", True),
        ("10^{(10^{100})}", "10^{10^{100}}", True),
        ("2 \\cdot 10^{10^{100}}", "10^{10^{100}} + 10^{10^{100}}", True),
        ("1", "9^{9^{9^{9^{9}}}}", False),
        ("1", "(10^{10})!", False),
        ("0", "(10^{10})! - (10^{10})!", True),
        ("0", "2^{-10^{100}} - 2^{-10^{100}}", True),
        ("1024", "2^{10}", True),  # small powers are still computed
        ("1", "(x+y+z+w+1)^{16} - (x+y+z+w)^{16}", False),
    ],
)
def test_giant_numbers_are_graded_without_computing_them(gold: str, answer: str, expected: bool) -> None:
    verdict = asyncio.run(grade(gold, f"\\boxed{{{answer}}}", CONFIG))
    assert (verdict.correct, verdict.reason) == (expected, "symbolic"), verdict


@pytest.mark.parametrize(
    ("gold", "answer", "different"),
    [
        ("x^2 + 1", "x^2 - 1", True),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{2}}{2}", True),
        ("(x + 1)^2", "x^2 + 2x + 1", False),  # equal: left to the symbolic comparison
        ("\\frac{n(n+1)}{2}", "\\sum_{k=1}^{n} k", False),
        ("0.333333", "\\frac{1}{3}", False),  # within the relative tolerance
        ("0.5x", "\\frac{x}{2}", False),
        ("7", "(x+y+z+w+1.5)^{16} - (x+y+z+w)^{16}", True),  # decimals too: no simplification needed
        ("\\frac{3333}{10000}", "\\frac{1}{3}", False),  # within the relative tolerance
        ("\\text{answer}", "answer", False),  # text is compared as text, not as a product of letters
        ("\\frac{1}{x - 1}", "\\frac{1}{x + 1}", True),
        ("(1, 2)", "(2, 1)", False),  # tuples, sets and relations are math-verify's to compare
    ],
)
def test_the_numeric_probe_only_rejects_expressions_that_differ(
    gold: str, answer: str, different: bool
) -> None:
    from rewardkit.plugins.math.probe import clearly_different
    from rewardkit.plugins.math.symbolic import parse_answer

    assert clearly_different(parse_answer(gold)[0], parse_answer(answer)[0], 1e-4) is different
