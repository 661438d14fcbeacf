"""The contract of episode environments: what `check_environment` runs on an `EpisodeEnvironment`.

Checks, each with scripted policies (no model): the gold policy reaches the top of the range; concurrent
episodes do not see each other's state (the same episodes run at once and one at a time agree); `close` is
called once per `start`, also when the driver fails mid-episode; malformed, unknown and invalid tool calls
and adversarial replies end in a scored outcome, never an error; a policy that never stops is stopped at
`max_turns` within the environment's time bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from rewardkit.episodes import (
    EpisodeEnvironment,
    EpisodeResult,
    Policy,
    resolve_tools,
    run_episode,
    run_episodes,
    scripted,
)
from rewardkit.episodes.runner import prepared
from rewardkit.outcome import RANGE_SLACK
from rewardkit.types import Message, Sample

PolicyFactory = Callable[[Sample], Policy | None]
CONCURRENT = 8
MALFORMED = {
    "unparseable tool call": '<tool_call>{"name": "python", "arguments": {"code": </tool_call>',
    "unknown tool": '<tool_call>{"name": "no_such_tool_xyz", "arguments": {}}</tool_call>',
    "invalid arguments": '<tool_call>{"name": "python", "arguments": {"wrong": [1, 2]}}</tool_call>',
}


class _Lifecycle:
    """Counts start and close calls of one environment instance (patched on the instance, then removed)."""

    def __init__(self, env: EpisodeEnvironment) -> None:
        self.env, self.started, self.closed = env, 0, 0

    def __enter__(self) -> _Lifecycle:
        start, close = self.env.start, self.env.close

        async def counted_start(sample: Sample) -> Any:
            self.started += 1
            return await start(sample)

        async def counted_close(state: Any) -> None:
            self.closed += 1
            await close(state)

        self.env.start = counted_start  # type: ignore[method-assign]
        self.env.close = counted_close  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.env.start, self.env.close


def check_episodes(report: Any, env: EpisodeEnvironment, samples: list[Sample], gold: PolicyFactory) -> None:
    """Add the episode checks to `report` (a ContractReport)."""
    asyncio.run(_check(report, env, samples, gold))


async def _check(report: Any, env: EpisodeEnvironment, samples: list[Sample], gold: PolicyFactory) -> None:
    async with prepared(env):
        with _Lifecycle(env) as life:
            await _check_gold(report, env, samples, gold)
            await _check_isolation(report, env, samples, gold)
            await _check_malformed(report, env, samples[0])
            await _check_bounded(report, env, samples[0])
            await _check_driver_failure(env, samples[0])
        report.add(
            "close is called once per started episode (done, max_turns, errors, driver failure)",
            life.started == life.closed and life.started > 0,
            f"{life.started} started, {life.closed} closed",
        )


async def _check_gold(
    report: Any, env: EpisodeEnvironment, samples: list[Sample], gold: PolicyFactory
) -> None:
    top = env.metadata().reward_range[1]
    pairs = [(s, p) for s in samples if (p := gold(s)) is not None]
    if not pairs:
        report.add(
            "gold policy earns the top of the range",
            False,
            "no gold policy: pass gold=... or override EpisodeEnvironment.reference_policy",
        )
        return
    outcomes = [await run_episode(env, sample, policy) for sample, policy in pairs]
    misses = [
        f"{sample.id}: {_describe(outcome)}"
        for (sample, _), outcome in zip(pairs, outcomes, strict=True)
        if outcome.result.score is None or abs(outcome.result.score - top) > RANGE_SLACK
    ]
    report.add(f"gold policy earns the top of the range ({top:g})", not misses, _first(misses))


async def _check_isolation(
    report: Any, env: EpisodeEnvironment, samples: list[Sample], gold: PolicyFactory
) -> None:
    sample = samples[0]
    policy = gold(sample) or scripted(["I do not know."])
    alone = await run_episode(env, sample, policy)
    together = await run_episodes(env, [sample] * CONCURRENT, policy)
    differing = [
        f"episode {i}: {_describe(o)} vs {_describe(alone)} alone"
        for i, o in enumerate(together)
        if (o.result.score, o.trajectory.messages) != (alone.result.score, alone.trajectory.messages)
    ]
    report.add(
        f"{CONCURRENT} concurrent episodes of one sample match one played alone (isolated state)",
        not differing,
        _first(differing),
    )


async def _check_malformed(report: Any, env: EpisodeEnvironment, sample: Sample) -> None:
    low, high = env.metadata().reward_range
    replies: dict[str, Any] = {**MALFORMED, "empty reply": "", "1MB reply": "x" * (1 << 20)}
    for label, reply in replies.items():
        outcome = await run_episode(env, sample, scripted([reply, "I give up."]))
        score = outcome.result.score
        ok = outcome.result.error is None and (
            score is None or low - RANGE_SLACK <= score <= high + RANGE_SLACK
        )
        report.add(f"{label} ends in a scored outcome, not an error", ok, _describe(outcome))


async def _check_bounded(report: Any, env: EpisodeEnvironment, sample: Sample) -> None:
    call = '<tool_call>{"name": "python", "arguments": {"code": "print(1)"}}</tool_call>'

    def endless(messages: list[Message], tools: list[dict[str, Any]]) -> str:
        return call if tools else "Let me think about it some more."

    tools = resolve_tools(env, sample).values()
    bound = (
        env.max_turns * (env.step_timeout + max((t.timeout for t in tools), default=0.0)) + env.step_timeout
    )
    started = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(run_episode(env, sample, endless), bound)
    except asyncio.TimeoutError:
        report.add(
            f"a policy that never stops ends within max_turns={env.max_turns}", False, f"hung {bound:g}s"
        )
        return
    elapsed = time.perf_counter() - started
    turns = outcome.trajectory.turns
    report.add(
        f"a policy that never stops ends within max_turns={env.max_turns}",
        turns <= env.max_turns and outcome.result.error is None and elapsed < bound,
        f"{turns} turns, stop_reason {outcome.trajectory.stop_reason}, {elapsed:.1f}s; {_describe(outcome)}",
    )


async def _check_driver_failure(env: EpisodeEnvironment, sample: Sample) -> None:
    class DriverFailed(Exception):
        pass

    def failing(messages: list[Message], tools: list[dict[str, Any]]) -> str:
        raise DriverFailed

    with contextlib.suppress(DriverFailed):  # close must have run anyway: the lifecycle check counts it
        await run_episode(env, sample, failing)


def _describe(outcome: EpisodeResult) -> str:
    result = outcome.result
    what = f"error: {result.error}" if result.error else f"score {result.score}"
    return f"{what} (stop {outcome.trajectory.stop_reason}, {outcome.trajectory.turns} turns)"


def _first(items: list[str]) -> str:
    if not items:
        return ""
    more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
    return f"{items[0]}{more}"
