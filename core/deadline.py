"""Per-sample deadlines that count only the sample's own work.

A sample's clock starts when its scoring starts, not when it was queued, and it stops while the sample
waits for a shared resource (a worker process, a reward thread: see `queued`). Time the event loop spends
running *other* samples' code is not charged to it either: every step of a scoring coroutine is timed, so
a reward that blocks the loop (a sync hang inside `async def`) is charged for the whole block itself,
and its neighbours, which could not run meanwhile, are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Generator, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")


class LoopMeter:
    """Process-wide total of the time scoring coroutines have held an event loop, and the step running now."""

    def __init__(self) -> None:
        self.held = 0.0
        self.step: tuple[str, float] | None = None  # (whose, since when) while a metered step runs
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.held += seconds

    def blocked(self) -> tuple[str, float] | None:
        """(whose step, seconds so far) of the metered step running now, if any."""
        step = self.step
        return None if step is None else (step[0], time.monotonic() - step[1])


METER = LoopMeter()


class SampleClock:
    """The time charged to one sample: wall time since it started, less pauses and other samples' steps."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._held_at_start = METER.held
        self._own_held = 0.0  # loop time of this sample's own steps
        self._paused = 0.0  # seconds paused so far, and loop time held by others meanwhile
        self._held_while_paused = 0.0
        self._open: set[int] = set()  # pauses not yet ended; the clock stands while any is open
        self._paused_since = (0.0, 0.0)  # (time, METER.held) when the open stretch began
        self._tokens = 0
        self._final: float | None = None

    def charged(self) -> float:
        if self._final is not None:
            return self._final
        now, held = time.monotonic(), METER.held
        with self._lock:
            paused, held_paused = self._paused, self._held_while_paused
            if self._open:
                paused += now - self._paused_since[0]
                held_paused += held - self._paused_since[1]
        others = max(0.0, held - self._held_at_start - held_paused - self._own_held)
        return max(0.0, now - self._started - paused - others)

    def pause(self) -> int:
        """Stop charging (the sample waits its turn for a shared resource); `resume(token)` ends it."""
        with self._lock:
            self._tokens += 1
            if not self._open:
                self._paused_since = (time.monotonic(), METER.held)
            self._open.add(self._tokens)
            return self._tokens

    def resume(self, token: int) -> None:
        """End the pause `token` (idempotent; callable from any thread)."""
        with self._lock:
            if token not in self._open:
                return
            self._open.discard(token)
            if not self._open:
                self._paused += time.monotonic() - self._paused_since[0]
                self._held_while_paused += METER.held - self._paused_since[1]

    def stop(self) -> float:
        self._final = self.charged()
        return self._final

    def _own_step(self, seconds: float) -> None:
        self._own_held += seconds
        METER.add(seconds)


class DeadlineExceeded(TimeoutError):
    """A sample's own work overran its deadline."""


_current: ContextVar[SampleClock | None] = ContextVar("rewardkit_sample_clock", default=None)


def current_clock() -> SampleClock | None:
    """The clock of the sample being scored in this context (None outside scoring)."""
    return _current.get()


@contextlib.contextmanager
def queued() -> Iterator[None]:
    """Inside a score or reward: the time spent in this block (waiting for a shared resource, such as a
    slot of a sandbox pool) is not charged to the sample's deadline."""
    clock = _current.get()
    if clock is None:
        yield
        return
    token = clock.pause()
    try:
        yield
    finally:
        clock.resume(token)


async def within_deadline(coro: Coroutine[Any, Any, T], timeout: float | None, name: str) -> T:
    """Await `coro` (one sample's scoring) with `timeout` seconds of its own work; DeadlineExceeded after.

    On overrun the coroutine is cancelled. A result that arrives after its step overran the deadline
    (a block of the loop) is a timeout too: the deadline bounds the sample's own work.
    """
    clock = SampleClock(name)
    task = asyncio.ensure_future(_metered(coro, clock))
    try:
        while not task.done():
            remaining = float("inf") if timeout is None else timeout - clock.charged()
            if remaining <= 0:
                break
            await asyncio.wait({task}, timeout=None if timeout is None else remaining)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done() and (timeout is None or clock.stop() <= timeout):
        return task.result()
    task.cancel()
    task.add_done_callback(_retrieve)
    raise DeadlineExceeded(f"{name} timed out after {timeout:g}s")


def _retrieve(task: asyncio.Future[Any]) -> None:
    # An abandoned task's exception is not news: it timed out.
    if not task.cancelled():
        task.exception()


async def _metered(coro: Coroutine[Any, Any, T], clock: SampleClock) -> T:
    _current.set(clock)  # this task's own context
    try:
        return await _Steps(coro, clock)
    finally:
        clock.stop()


class _Steps:
    """Drives a coroutine one step at a time (as `await` would), timing each step on the loop."""

    def __init__(self, coro: Coroutine[Any, Any, T], clock: SampleClock) -> None:
        self.coro = coro
        self.clock = clock

    def __await__(self) -> Generator[Any, Any, Any]:
        value: Any = None
        error: BaseException | None = None
        while True:
            started = time.monotonic()
            METER.step = (self.clock.name, started)
            try:
                signal = self.coro.send(value) if error is None else self.coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                METER.step = None
                self.clock._own_step(time.monotonic() - started)
            try:
                value, error = (yield signal), None
            except GeneratorExit:
                self.coro.close()
                raise
            except BaseException as thrown:  # cancellation: handed to the coroutine, as `await` does
                value, error = None, thrown
