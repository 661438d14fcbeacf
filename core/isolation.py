"""Worker processes for CPU-bound or hang-prone checks (sympy, parsers), with a hard wall-clock limit.

A call that overruns its deadline has its worker process killed and replaced (pebble does the killing),
so a pathological input costs one worker restart, never a hung trainer. Works from any thread and any
event loop: there is no signal.alarm involved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerCrashed(RuntimeError):
    """The worker process died (segfault, OOM kill) while running the call."""


class ProcessPool:
    """A lazily started pool of worker processes; each call has its own deadline."""

    def __init__(
        self,
        workers: int | None = None,
        max_tasks: int = 0,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.max_tasks = max_tasks
        self.initializer = initializer
        self._pool: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._pool is None or not self._pool.active:
                import pebble  # deferred: keeps `import rewardkit` light

                # forkserver: forking a process that runs threads (the host's loop threads) can deadlock.
                self._pool = pebble.ProcessPool(
                    max_workers=self.workers,
                    max_tasks=self.max_tasks,
                    initializer=self.initializer,
                    context=multiprocessing.get_context("forkserver"),
                )
            return self._pool

    def submit(self, fn: Callable[..., T], *args: Any, timeout: float) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = self._get().schedule(fn, args=args, timeout=timeout)
        return future

    def run_sync(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run fn(*args) in a worker; TimeoutError after `timeout` s (the worker is killed)."""
        return _unwrap(lambda: self.submit(fn, *args, timeout=timeout).result(), timeout)

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Async variant of run_sync, usable inside any running event loop."""
        future = asyncio.wrap_future(self.submit(fn, *args, timeout=timeout))
        try:
            return await future
        except Exception as error:
            raise _translate(error, timeout) from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join(timeout=5)
                self._pool = None


def _unwrap(call: Callable[[], T], timeout: float) -> T:
    try:
        return call()
    except Exception as error:
        raise _translate(error, timeout) from None


def _translate(error: Exception, timeout: float) -> Exception:
    if isinstance(error, TimeoutError | concurrent.futures.TimeoutError):
        return TimeoutError(f"worker exceeded its {timeout:g}s limit and was killed")
    if type(error).__name__ == "ProcessExpired":
        return WorkerCrashed(f"worker process died: {error}")
    return error


_shared: ProcessPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ProcessPool:
    """One pool per process, shared by every plugin that needs one (sized to the CPU count)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ProcessPool()
        return _shared
