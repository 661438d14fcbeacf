"""Gathering the requests of concurrent callers into batches: replies of an in-process model, and scores.

A caller awaits `submit(item)`; the items that arrive while a batch is being formed or processed go into the
next one. Batches amortise the per-call cost (one generate call, one hop to the scoring host) and let an
environment's own `score_batch` (a judge deduplicating a batch) see many rollouts at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """`process(items) -> results` (aligned) on batches of at most `max_batch`, `max_active` at a time."""

    def __init__(
        self, process: Callable[[list[T]], Awaitable[list[R]]], max_batch: int, max_active: int = 1
    ) -> None:
        self.process = process
        self.max_batch = max(1, max_batch)
        self.max_active = max(1, max_active)
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._tasks) < self.max_active:
            task = asyncio.ensure_future(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await _settle(lambda: len(self._pending))
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            if not batch:
                return
            try:
                results = await self.process([item for item, _ in batch])
            except Exception as error:  # every caller of the batch gets the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def _settle(size: Callable[[], int], rounds: int = 64) -> None:
    """Yield to the loop until the queue stops growing, so callers that are about to submit join the batch."""
    for _ in range(rounds):
        before = size()
        await asyncio.sleep(0)
        if size() == before:
            return
