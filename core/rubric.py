"""Rubrics: weighted, named reward functions (sync or async) whose parts are all kept as components."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.deadline import DeadlineExceeded, within_deadline
from rewardkit.errors import ConfigError
from rewardkit.outcome import normalize
from rewardkit.types import RewardResult, Sample

RewardFn = Callable[..., Any]
"""`fn(sample, completion, **params) -> float | None | RewardResult`, optionally async."""


@dataclass(frozen=True)
class RubricItem:
    name: str
    fn: RewardFn
    weight: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    reward_range: tuple[float, float] = (0.0, 1.0)


class Rubric:
    """A weighted sum of named rewards. Zero-weight items are metrics: computed and logged, not summed.

    The score is the weighted sum of the items that apply (non-None). If none applies the score is None.
    If any item fails (raises, times out, returns an invalid score) the whole outcome is an error, because
    a partial sum would silently bias training.
    """

    def __init__(self, items: Sequence[RubricItem] = ()) -> None:
        self.items: list[RubricItem] = []
        for item in items:
            self.add(item.name, item.fn, item.weight, item.reward_range, **item.params)

    def add(
        self,
        name: str,
        fn: RewardFn,
        weight: float = 1.0,
        reward_range: tuple[float, float] = (0.0, 1.0),
        **params: Any,
    ) -> Rubric:
        if any(item.name == name for item in self.items):
            raise ConfigError(f"rubric already has an item named {name!r}; each reward may appear once")
        _check_params(name, fn, params)
        self.items.append(RubricItem(name, fn, float(weight), dict(params), reward_range))
        return self

    def __iter__(self) -> Iterator[RubricItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def reward_range(self) -> tuple[float, float]:
        low = sum(min(i.weight * i.reward_range[0], i.weight * i.reward_range[1]) for i in self.items)
        high = sum(max(i.weight * i.reward_range[0], i.weight * i.reward_range[1]) for i in self.items)
        return (low, high)

    @property
    def weights(self) -> dict[str, float]:
        return {item.name: item.weight for item in self.items}

    async def score(self, sample: Sample, completion: str, timeout: float | None = None) -> RewardResult:
        results = await asyncio.gather(*(call_reward(i, sample, completion, timeout) for i in self.items))
        return combine(self.items, results)


def _check_params(name: str, fn: RewardFn, params: Mapping[str, Any]) -> None:
    """Fail when the rubric is built, not at the first scoring call.

    The signature check catches unknown keyword names; a reward taking `**params` can also expose
    `fn.validate_params(params)` (raising ValueError) to check their values.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        try:
            signature.bind(None, "", **params)
        except TypeError as error:
            raise ConfigError(
                f"rubric.{name}: parameters {sorted(params)} do not fit {name}{signature}: {error}"
            ) from None
    validate = getattr(fn, "validate_params", None)
    if validate is not None:
        try:
            validate(dict(params))
        except ValueError as error:
            raise ConfigError(f"rubric.{name}: {error}") from None


async def call_reward(
    item: RubricItem, sample: Sample, completion: str, timeout: float | None
) -> RewardResult:
    """Run one reward under a deadline of its own work; exceptions and bad values become error outcomes."""
    try:
        raw = await within_deadline(invoke(item.fn, sample, completion, **item.params), timeout, item.name)
    except DeadlineExceeded as error:
        return RewardResult.failure(str(error), kind="timeout")
    except Exception as error:  # a plugin bug must not stop the run; it is reported, not trained on
        return RewardResult.failure(f"{item.name} raised {type(error).__name__}: {error}", kind="exception")
    return normalize(raw, item.name, item.reward_range)


async def invoke(fn: RewardFn, *args: Any, **kwargs: Any) -> Any:
    """Call a sync or async reward. Sync ones run on a reward thread so they never block the event loop."""
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


def combine(items: Sequence[RubricItem], results: Sequence[RewardResult]) -> RewardResult:
    components: dict[str, float] = {}
    failed = [result for result in results if result.error is not None]
    total, applied = 0.0, False
    for item, result in zip(items, results, strict=True):
        if result.score is not None:
            components[item.name] = result.score
            if item.weight != 0.0:
                total += item.weight * result.score
                applied = True
        for key, value in result.components.items():
            components[f"{item.name}/{key}"] = value
    info = {item.name: dict(result.info) for item, result in zip(items, results, strict=True) if result.info}
    if failed:
        kind = failed[0].info.get("error_kind", "infrastructure")
        error = "; ".join(str(result.error) for result in failed)
        return RewardResult(score=None, components=components, error=error, info={**info, "error_kind": kind})
    return RewardResult(score=total if applied else None, components=components, info=info)
