"""A sample's deadline counts its own work: not time queued for a shared resource, not other samples'
steps on the loop; a step that blocks the loop is charged to its own sample."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from rewardkit import deadline
from rewardkit.deadline import DeadlineExceeded, queued, within_deadline
from rewardkit.runtime import RewardThreads


async def wait_in_a_queue(seconds: float) -> str:
    with queued():
        await asyncio.sleep(seconds)
    return "done"


async def short_awaits() -> str:
    for _ in range(10):
        await asyncio.sleep(0.02)
    return "done"


async def block_the_loop() -> str:
    await asyncio.sleep(0.05)
    time.sleep(0.6)
    return "too late"


def test_time_spent_queued_is_not_charged():
    assert asyncio.run(within_deadline(wait_in_a_queue(0.6), 0.3, "queued")) == "done"


def test_work_past_the_deadline_is_cut_off():
    with pytest.raises(DeadlineExceeded, match=r"slow timed out after 0\.2s"):
        asyncio.run(within_deadline(asyncio.sleep(5), 0.2, "slow"))


def test_a_step_blocking_the_loop_is_charged_to_its_own_sample_only():
    async def both():
        return await asyncio.gather(
            within_deadline(block_the_loop(), 0.4, "blocker"),
            within_deadline(short_awaits(), 0.4, "neighbour"),
            return_exceptions=True,
        )

    blocker, neighbour = asyncio.run(both())
    assert isinstance(blocker, DeadlineExceeded)
    assert neighbour == "done"


def test_waiting_for_a_free_reward_thread_is_not_charged():
    threads = RewardThreads(1)

    async def nap() -> float:
        return await asyncio.get_running_loop().run_in_executor(threads, time.sleep, 0.3) or 0.3

    async def three():
        return await asyncio.gather(*(within_deadline(nap(), 0.45, f"nap{i}") for i in range(3)))

    try:
        assert asyncio.run(three()) == [0.3, 0.3, 0.3]  # the last waited 0.6 s for the one thread
    finally:
        threads.shutdown()


async def block_at_once(seconds: float) -> str:
    time.sleep(seconds)  # no await: the whole score is one step
    return "done"


def test_a_score_that_never_waits_is_held_to_the_deadline_too():
    assert asyncio.run(within_deadline(block_at_once(0.01), 0.3, "quick")) == "done"
    with pytest.raises(DeadlineExceeded, match=r"stuck timed out after 0\.1s"):
        asyncio.run(within_deadline(block_at_once(0.3), 0.1, "stuck"))


def test_cancelling_the_caller_cancels_the_score_where_it_waits():
    cleaned: list[str] = []

    async def waits_then_cleans() -> str:
        await asyncio.sleep(0)
        try:
            await asyncio.sleep(5)
        finally:
            cleaned.append("finally")
        return "never"

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(within_deadline(waits_then_cleans(), 10.0, "cancelled"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_soon())
    assert cleaned == ["finally"]


def test_scores_awaiting_one_shared_task_both_finish():
    """Two samples' first steps await the same task (a judge's shared setup): both get its result."""

    async def two() -> list[str]:
        shared = asyncio.ensure_future(asyncio.sleep(0.05, "ready"))

        async def use() -> str:
            return await shared

        return await asyncio.gather(*(within_deadline(use(), 1.0, f"sample{i}") for i in range(2)))

    assert asyncio.run(two()) == ["ready", "ready"]


def test_a_score_may_await_its_cleanup_after_its_deadline():
    cleaned: list[str] = []

    async def slow_with_cleanup() -> str:
        try:
            await asyncio.sleep(5)
        finally:
            await asyncio.sleep(0.05)  # closing a client, say
            cleaned.append("closed")
        return "never"

    with pytest.raises(DeadlineExceeded, match="tidy timed out"):
        asyncio.run(within_deadline(slow_with_cleanup(), 0.1, "tidy"))
    assert cleaned == ["closed"]


def test_a_score_ignoring_its_cancellation_is_dropped_after_the_grace(monkeypatch):
    monkeypatch.setattr(deadline, "UNWIND_GRACE", 0.2)

    async def stubborn() -> str:
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(5)

    async def with_neighbour() -> list[object]:
        return await asyncio.gather(
            within_deadline(stubborn(), 0.1, "stubborn"),
            within_deadline(short_awaits(), 1.0, "neighbour"),
            return_exceptions=True,
        )

    started = time.monotonic()
    stubborn_result, neighbour = asyncio.run(with_neighbour())
    assert isinstance(stubborn_result, DeadlineExceeded)
    assert neighbour == "done"
    assert time.monotonic() - started < 2.0  # deadline + grace, not the 5 s sleep


def test_a_caller_cancelled_as_the_deadline_passes_stays_cancelled():
    async def overrun_while_the_caller_gives_up() -> str:
        await asyncio.sleep(0)  # the deadline's timer is armed here
        time.sleep(0.1)  # past the deadline: the timer fires at the next turn of the loop...
        asyncio.get_running_loop().call_soon(asyncio.current_task().cancel)  # ...as the caller's cancel lands
        await asyncio.sleep(5)
        return "never"

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(within_deadline(overrun_while_the_caller_gives_up(), 0.05, "both"))
