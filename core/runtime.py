"""An event loop on its own thread, so plugin code can be awaited with a deadline from any thread or loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Sync reward functions run in threads; a hung one keeps its thread, so leave generous headroom.
REWARD_THREADS = 64


class LoopThread:
    """Owns an asyncio loop running forever on a daemon thread."""

    def __init__(self, name: str = "rewardkit-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(REWARD_THREADS, thread_name_prefix=f"{name}-reward")
        )
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on this loop and wait for it from the calling (non-loop) thread."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"timed out after {timeout}s") from None

    def responsive(self, within: float = 0.5) -> bool:
        """False when plugin code is blocking this loop (a sync hang inside an async function)."""

        async def ping() -> None:
            return None

        try:
            self.submit(ping()).result(within)
        except concurrent.futures.TimeoutError:
            return False
        return True

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self.loop.close()
