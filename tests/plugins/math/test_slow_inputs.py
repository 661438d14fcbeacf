"""Answers that used to run into the deadline are decided, correctly, in the worker: giant numbers are
simplified before anything is evaluated."""

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
    ],
)
def test_giant_numbers_are_graded_without_computing_them(gold: str, answer: str, expected: bool) -> None:
    verdict = asyncio.run(grade(gold, f"\\boxed{{{answer}}}", CONFIG))
    assert (verdict.correct, verdict.reason) == (expected, "symbolic"), verdict
