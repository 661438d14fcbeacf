"""The host's scoring event loop: one per process, on its own thread, serving every Scorer.

Plugins' coroutines (setup, score, teardown) all run on it, so a client a plugin creates in `setup()`
(an httpx client, a semaphore) is used on the loop it was created on. Callers reach it from any thread or
event loop through `submit`. Sync reward functions and `asyncio.to_thread` calls run on the loop's reward
threads, never on the loop itself; a sample waiting for a free reward thread is not charged for the wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rewardkit.deadline import current_clock
from rewardkit.singleton import process_singleton

T = TypeVar("T")

# A hung sync reward keeps its thread until it returns, so leave generous headroom.
REWARD_THREADS = 64


class RewardThreads(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor. Time a sample's call waits for a free thread is not charged to it."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        clock = current_clock()
        if clock is None:
            return super().submit(fn, *args, **kwargs)
        token = clock.pause()

        def started() -> T:
            clock.resume(token)
            return fn(*args, **kwargs)

        future = super().submit(started)
        future.add_done_callback(lambda _: clock.resume(token))  # also when cancelled before it ran
        return future


class HostLoop:
    """An asyncio loop running forever on a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(RewardThreads(REWARD_THREADS, thread_name_prefix="rewardkit-reward"))
        self._thread = threading.Thread(target=self.loop.run_forever, name="rewardkit-scoring", daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the loop (from any thread); its future resolves when it is done."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the host's loop from any event loop (cancelling the caller cancels it too)."""
        if threading.current_thread() is self._thread:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for it (TimeoutError after `timeout` s, and it is cancelled)."""
        try:
            self.refuse_blocking_from_the_loop()
        except RuntimeError:
            coro.close()
            raise
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"timed out after {timeout:g}s") from None

    def refuse_blocking_from_the_loop(self) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "a blocking scoring call was made on the host's scoring loop, which it would deadlock; "
                "await the async method instead (e.g. `await scorer.score_batch(...)`)"
            )


@process_singleton(rebuild_after_fork=True)
def host_loop() -> HostLoop:
    """The process's scoring loop, started on first use (a forked child starts its own)."""
    return HostLoop()
