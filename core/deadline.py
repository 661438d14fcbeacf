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

# After its deadline's cancellation, a score may still await its own cleanup (closing a client) this long.
UNWIND_GRACE = 1.0


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

    The coroutine runs in the caller's task, as `asyncio.timeout` runs it: no task of its own, so a score that
    finishes without waiting costs no more than a call. On overrun the caller's task is cancelled where the
    coroutine waits, and the cancellation becomes DeadlineExceeded. A result that arrives after its step
    overran the deadline (a block of the loop) is a timeout too: the deadline bounds the sample's own work.
    """
    clock = SampleClock(name)
    guard = None if timeout is None else _Guard(clock, timeout)
    context = _current.set(clock)
    try:
        result = await _Steps(coro, clock, guard)
    except asyncio.CancelledError:
        if guard is not None and guard.expired():
            raise DeadlineExceeded(f"{name} timed out after {timeout:g}s") from None
        raise
    finally:
        _current.reset(context)
        if guard is not None:
            guard.disarm()
    if timeout is not None and clock.stop() > timeout:
        raise DeadlineExceeded(f"{name} timed out after {timeout:g}s")
    return result


class _Guard:
    """Cancels the caller's task once its sample's clock passes the deadline, and gives up on a score that
    has not unwound `UNWIND_GRACE` seconds later. Armed when the score first waits: a score finished in one
    step is held to the deadline by its clock alone."""

    def __init__(self, clock: SampleClock, timeout: float) -> None:
        self.clock = clock
        self.timeout = timeout
        self.abandoned = False  # the score ignored its cancellation for the grace: drop it at its next wait
        self._cancels = 0
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self._task is None:
            self._task = asyncio.current_task()
            self._check()

    def _check(self) -> None:
        remaining = self.timeout - self.clock.charged()
        if remaining > 0:  # time paused or spent on other samples' steps is not charged: look again later
            self._handle = asyncio.get_running_loop().call_later(remaining, self._check)
            return
        self._cancel()
        self._handle = asyncio.get_running_loop().call_later(UNWIND_GRACE, self._give_up)

    def _give_up(self) -> None:
        self.abandoned = True
        self._cancel()

    def _cancel(self) -> None:
        if self._task is not None and self._task.cancel():
            self._cancels += 1

    def expired(self) -> bool:
        """Whether the cancellation that arrived is this guard's alone (a caller's own cancel of the same
        task stays a cancellation)."""
        if not self._cancels or self._task is None:
            return False
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+: cancellations are counted
        if uncancel is None:
            return True
        left = 0
        for _ in range(self._cancels):
            left = uncancel()
        return left == 0

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class _Steps:
    """Drives a coroutine one step at a time (as `await` would), timing each step on the loop."""

    def __init__(self, coro: Coroutine[Any, Any, T], clock: SampleClock, guard: _Guard | None) -> None:
        self.coro = coro
        self.clock = clock
        self.guard = guard

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
            if self.guard is not None:
                if self.guard.abandoned:  # it caught its deadline's cancellation and went on waiting
                    self._abandon()
                    raise asyncio.CancelledError
                self.guard.arm()
            try:
                value, error = (yield signal), None
            except GeneratorExit:
                self.coro.close()
                raise
            except BaseException as thrown:  # cancellation: handed to the coroutine, as `await` does
                value, error = None, thrown

    def _abandon(self) -> None:
        with contextlib.suppress(RuntimeError):  # it ignored GeneratorExit too; it is dropped all the same
            self.coro.close()
