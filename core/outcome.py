"""Turning whatever a reward function returned (or raised) into a validated RewardResult."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from rewardkit.types import RewardResult

# A reward function may return a bare number, None ("does not apply") or a full RewardResult.
RawReward = float | int | bool | None | RewardResult

RANGE_SLACK = 1e-9


def normalize(raw: Any, source: str, reward_range: tuple[float, float]) -> RewardResult:
    """Validate `raw` from `source`; anything off-contract becomes an error outcome naming the source."""
    if raw is None:
        return RewardResult(score=None)
    if isinstance(raw, RewardResult):
        result = raw
    elif isinstance(raw, Real):
        result = RewardResult(score=float(raw))
    else:
        return RewardResult.failure(
            f"{source} returned {type(raw).__name__}, expected a float, None or RewardResult",
            kind="invalid_score",
        )
    if result.error is not None:
        if result.score is not None:
            return RewardResult.failure(f"{source}: error outcomes must have score=None ({result.error})")
        return RewardResult(
            score=None,
            components=result.components,
            error=f"{source}: {result.error}",
            info={"error_kind": "infrastructure", **result.info},
        )
    problem = _score_problem(result.score, reward_range) or _components_problem(result.components)
    if problem:
        return RewardResult.failure(f"{source} {problem}", kind="invalid_score")
    if result.score is not None and not isinstance(result.score, float):
        result = RewardResult(float(result.score), result.components, None, result.info)
    return result


def _score_problem(score: Any, reward_range: tuple[float, float]) -> str | None:
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, Real):
        return f"returned score of type {type(score).__name__}; scores must be float or None"
    if not math.isfinite(score):
        return f"returned a non-finite score ({score}); scores must be finite"
    low, high = reward_range
    if not low - RANGE_SLACK <= float(score) <= high + RANGE_SLACK:
        return f"returned score {score} outside its declared reward_range [{low}, {high}]"
    return None


def _components_problem(components: Mapping[str, Any]) -> str | None:
    for key, value in components.items():
        if not isinstance(key, str):
            return f"returned a component with a non-string name {key!r}"
        if isinstance(value, bool) or not isinstance(value, Real):
            return f"returned component {key!r} of type {type(value).__name__}; components must be numbers"
    return None
