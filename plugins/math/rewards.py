"""Reusable reward functions, registered as `math.accuracy` for any rubric."""

from __future__ import annotations

from typing import Any

from rewardkit.plugins.math.checker import grade
from rewardkit.plugins.math.grader import GradeConfig
from rewardkit.types import RewardResult, Sample


async def accuracy(sample: Sample, completion: str, **grading: Any) -> RewardResult:
    """1.0 when the completion's final answer equals `sample.answer`, else 0.0; None without a gold answer.

    Keyword parameters are GradeConfig fields (`rel_tol`, `extraction`, `timeout`, ...).
    """
    if sample.answer is None:
        return RewardResult(score=None)
    config = GradeConfig(**grading) if grading else DEFAULT_GRADING
    verdict = await grade(str(sample.answer), completion, config)
    return verdict_result(verdict.correct, verdict.info())


def verdict_result(correct: bool, info: dict[str, Any]) -> RewardResult:
    return RewardResult(score=1.0 if correct else 0.0, info=info)


DEFAULT_GRADING = GradeConfig()
