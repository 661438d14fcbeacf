"""A warm pool of slots for jobs, whatever a slot is (the Docker backend's are containers). Thread-safe.

`start` starts `warm` slots and returns as soon as the first is ready; the others join as they come up.
A job that waited `grow_after` seconds for a free slot asks for one more, up to `pool_size` (jobs that sleep
or time out would otherwise queue behind each other). A slot handed back with `replace` is thrown away and
its successor starts in the background, so the pool never drains; a slot that fails to start is retried.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Generic, TypeVar

from rewardkit.sandbox.options import PoolOptions

logger = logging.getLogger(__name__)

SlotT = TypeVar("SlotT")
LAUNCH_ATTEMPTS = 3


class WarmPool(Generic[SlotT]):
    def __init__(
        self,
        open_slot: Callable[[], SlotT],
        discard: Callable[[SlotT], None],
        options: PoolOptions,
        warm: int,
        stats: dict[str, int],
    ) -> None:
        self.open_slot, self.discard, self.options = open_slot, discard, options
        self.warm = max(1, min(options.pool_size, warm))
        self.stats = stats  # "started", "recycled": counted here, shared with the owner
        self._ready: queue.Queue[SlotT] = queue.Queue()
        self._lock = threading.Lock()
        self._live: set[SlotT] = set()  # every slot, ready or busy: close() hands them all back
        self._size = 0  # slots wanted: started or starting, less those given up on
        self._closed = False
        self._spawner = ThreadPoolExecutor(options.pool_size, thread_name_prefix="rewardkit-pool-slot")

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Returns once one slot is ready; raises the first error if every warm slot fails to start."""
        with self._lock:
            self._size = self.warm
        launches = [self._spawner.submit(self._launch) for _ in range(self.warm)]
        errors: list[BaseException] = []
        for launch in as_completed(launches):
            error = RuntimeError("the pool was closed") if launch.cancelled() else launch.exception()
            if error is None:
                for other in launches:
                    other.add_done_callback(self._retry_failed_launch)
                return
            errors.append(error)
        raise errors[0]

    def close(self) -> list[SlotT]:
        """Stop handing out and starting slots; returns the slots still live, for the owner to end."""
        with self._lock:
            self._closed = True
            slots, self._live = list(self._live), set()
        while not self._ready.empty():
            self._ready.get_nowait()
        self._spawner.shutdown(wait=False, cancel_futures=True)
        return slots

    def join(self) -> None:
        """Wait for slot starts still in flight after close (each is discarded as it finishes)."""
        self._spawner.shutdown(wait=True)

    # -- jobs --------------------------------------------------------------------------------------
    def acquire(self) -> SlotT | None:
        """A free slot, or None when none became free within the acquire timeout."""
        timeout = self.options.acquire_timeout
        try:
            return self._ready.get(timeout=min(self.options.grow_after, timeout))
        except queue.Empty:
            self._grow()
        try:
            return self._ready.get(timeout=max(0.0, timeout - self.options.grow_after))
        except queue.Empty:
            return None

    def release(self, slot: SlotT) -> None:
        """Back to the ready queue, unless the pool was closed while the job ran."""
        with self._lock:
            live = slot in self._live
            if live:
                self._ready.put(slot)
        if not live:
            self.discard(slot)

    def replace(self, slot: SlotT) -> None:
        """Throw `slot` away and start its successor in the background."""
        self.stats["recycled"] += 1
        with self._lock:
            self._live.discard(slot)
        if not self._submit(self._swap, slot):
            self.discard(slot)

    # -- slots -------------------------------------------------------------------------------------
    def _grow(self) -> None:
        with self._lock:
            if self._closed or self._size >= self.options.pool_size:
                return
            self._size += 1
        if not self._submit(self._refill):
            with self._lock:
                self._size -= 1

    def _submit(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run `fn` on the spawner; False when the pool is closing."""
        if self._closed:
            return False
        try:
            self._spawner.submit(fn, *args)
        except RuntimeError:  # shut down between the check and the submit
            return False
        return True

    def _retry_failed_launch(self, launch: Future[None]) -> None:
        if launch.cancelled() or launch.exception() is None:
            return
        logger.warning("starting a sandbox slot failed: %s", launch.exception())
        self._submit(self._refill)

    def _swap(self, old: SlotT) -> None:
        self.discard(old)
        self._refill()

    def _refill(self) -> None:
        for attempt in range(LAUNCH_ATTEMPTS):
            if self._closed:
                return
            try:
                self._launch()
                return
            except Exception as error:  # keep trying: a drained pool would stall every caller
                logger.warning("starting a sandbox slot failed (attempt %d): %s", attempt + 1, error)
                time.sleep(1 + attempt)
        with self._lock:
            self._size -= 1  # given up: a later wait for a slot may try again

    def _launch(self) -> None:
        """Start one slot and make it available (or throw it away if the pool closed meanwhile)."""
        slot = self.open_slot()
        with self._lock:
            open_pool = not self._closed
            if open_pool:
                self._live.add(slot)
        if not open_pool:
            self.discard(slot)
            return
        self.stats["started"] += 1
        self._ready.put(slot)
