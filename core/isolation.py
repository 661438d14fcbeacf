"""Worker processes for CPU-bound or hang-prone checks (sympy, parsers), with a hard wall-clock limit.

Each worker is `python -m rewardkit.pool_worker`, started as its own module: it never imports the
caller's `__main__`, so a script without an `if __name__ == "__main__":` guard (or one piped through
stdin) is never run again in the workers. A function is named to the worker by module and qualified
name, so it must be importable: defined at the top level of a module, not in `__main__`.

A call's limit starts when a worker takes it, not while it waits for one, and a sample scored on the
host's loop is not charged for that wait either. A call that overruns its limit has its worker killed
and replaced, so a pathological input costs one worker restart, never a hung trainer. A worker that
dies (segfault, OOM kill) fails its call with WorkerCrashed. Works from any thread and any event loop:
there is no signal.alarm involved.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import pickle
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from rewardkit.deadline import current_clock
from rewardkit.pool_worker import receive, send, write_frame

T = TypeVar("T")

MAX_BYTES = 16 << 20  # largest pickled call or result; larger inputs are refused, not piped
START_TIMEOUT = 120.0  # starting a worker and its initializer (importing sympy on a loaded machine)
POLL = 0.1  # seconds between a busy worker's checks for a call its caller gave up on


class WorkerCrashed(RuntimeError):
    """The worker process died (segfault, OOM kill) while running the call, or could not start."""


@dataclass
class _Call:
    payload: bytes  # the pickled (module, qualname, origin, args, kwargs)
    timeout: float
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    on_start: Callable[[], None] | None = None
    abandoned: threading.Event = field(default_factory=threading.Event)


class ProcessPool:
    """`workers` worker processes, all started on first use; each call has its own time limit."""

    def __init__(
        self,
        workers: int | None = None,
        initializer: Callable[[], None] | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.initializer = None if initializer is None else _target_of(initializer)
        self.max_bytes = max_bytes
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any, timeout: float) -> concurrent.futures.Future[T]:
        """Queue fn(*args) for a worker; the future fails with TimeoutError or WorkerCrashed."""
        return self._submit(fn, args, timeout).future

    def run_sync(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run fn(*args) in a worker; TimeoutError after `timeout` s of running (the worker is killed)."""
        return self.submit(fn, *args, timeout=timeout).result()

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Async variant of run_sync, usable inside any running event loop. While the call waits for a
        free worker, the sample being scored (if any) is not charged for the wait."""
        clock = current_clock()
        token = clock.pause() if clock is not None else 0
        resume = (lambda: clock.resume(token)) if clock is not None else None
        call = self._submit(fn, args, timeout, on_start=resume)
        try:
            result: T = await asyncio.wrap_future(call.future)
            return result
        except asyncio.CancelledError:
            call.abandoned.set()  # its caller is gone: a busy worker is killed rather than finish it
            raise
        finally:
            if resume is not None:
                resume()

    def close(self) -> None:
        """Stop every worker (a busy one is killed); queued calls fail. A later call starts new ones."""
        with self._lock:
            slots, self._slots = self._slots, []
            calls, self._calls = self._calls, queue.SimpleQueue()
        for slot in slots:
            slot.closing = True
            calls.put(None)
        for slot in slots:
            slot.stop()

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float,
        on_start: Callable[[], None] | None = None,
    ) -> _Call:
        payload = pickle.dumps((*_target_of(fn), args, {}), protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > self.max_bytes:
            raise ValueError(
                f"the call's input is {len(payload)} bytes, over the pool's {self.max_bytes}-byte limit"
            )
        call = _Call(payload, timeout, on_start=on_start)
        with self._lock:
            if not self._slots:  # all workers start together, so a later call finds one ready
                self._slots = [_Slot(self) for _ in range(self.workers)]
            self._calls.put(call)
        return call


class _Slot:
    """One worker process at a time, and the thread that feeds it calls, one at a time."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool
        self.calls = pool._calls  # this generation's queue: close() gives the pool a fresh one
        self.worker: _Worker | None = None
        self.closing = False
        self._thread = threading.Thread(target=self._serve, name="rewardkit-pool-slot", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._restart()
        while (call := self.calls.get()) is not None:
            if not call.future.set_running_or_notify_cancel():
                continue
            if self.closing:
                call.future.set_exception(RuntimeError("the worker pool was closed before the call ran"))
                continue
            try:
                call.future.set_result(self._run(call))
            except BaseException as error:
                closed = WorkerCrashed("the worker pool was closed while the call ran")
                call.future.set_exception(closed if self.closing else error)  # closing took its pipes
            if self.worker is None:  # killed or crashed: start the next one before the next call
                self._restart()
        self.stop()

    def _restart(self) -> None:
        if not self.closing:
            with contextlib.suppress(WorkerCrashed, OSError, ValueError):  # the next call reports it
                self._ready()

    def _run(self, call: _Call) -> Any:
        worker = self._ready()
        if call.on_start is not None:
            call.on_start()
        try:
            write_frame(worker.stdin, call.payload)
        except OSError:
            raise self._crashed("before it took the call") from None
        if not self._answered(worker, call):
            self.stop()
            if call.abandoned.is_set():
                raise concurrent.futures.CancelledError()
            raise TimeoutError(f"worker exceeded its {call.timeout:g}s limit and was killed")
        reply = self._receive(worker)
        if reply is None:
            raise self._crashed("while running the call")
        status, value = reply
        if status == "error":
            raise value
        return value

    def _ready(self) -> _Worker:
        """The running worker, or a fresh one that has loaded its initializer."""
        if self.worker is not None and self.worker.process.poll() is None:
            return self.worker
        pool = self.pool
        worker = self.worker = _Worker()
        send(
            worker.stdin, {"sys_path": sys.path, "initializer": pool.initializer, "max_bytes": pool.max_bytes}
        )
        reply = self._receive(worker) if worker.readable(START_TIMEOUT) else None
        if reply is None or reply[0] != "ready":
            self.stop()
            reason = f": {reply[1]}" if reply is not None else f" within {START_TIMEOUT:g}s"
            raise WorkerCrashed(f"worker process could not start{reason}")
        return worker

    def _answered(self, worker: _Worker, call: _Call) -> bool:
        """True once the worker answers (or dies); False when the limit passes or the caller gave up."""
        deadline = time.monotonic() + call.timeout
        while not call.abandoned.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if worker.readable(min(left, POLL)):
                return True
        return False

    def _receive(self, worker: _Worker) -> Any:
        try:
            return receive(worker.stdout)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            self.stop()  # the stream is out of step: start afresh
            return ("error", WorkerCrashed(f"unreadable answer from the worker: {error}"))

    def _crashed(self, when: str) -> WorkerCrashed:
        code = None
        if self.worker is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # its pipe closes just before it exits
                code = self.worker.process.wait(timeout=5)
        self.stop()
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        return WorkerCrashed(f"worker process died {when} ({how})")

    def stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.kill()


class _Worker:
    """A `python -m rewardkit.pool_worker` process and the two pipes of its protocol."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewardkit.pool_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered: `select` on the pipe then sees every byte the worker wrote
        )
        self.stdin: IO[bytes] = _pipe(self.process.stdin)
        self.stdout: IO[bytes] = _pipe(self.process.stdout)

    def readable(self, within: float) -> bool:
        return bool(select.select([self.stdout], [], [], within)[0])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.stdin.close()
        self.stdout.close()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    assert stream is not None  # Popen made it: stdin/stdout=PIPE
    return stream


def _target_of(fn: Callable[..., Any]) -> tuple[str, str, str | None]:
    """(module, qualified name, the module's file) of `fn`, checked to be importable in a fresh process."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module in (None, "__main__") or "<" in qualname:
        where = "in __main__" if module == "__main__" else "inside a function (or a lambda)"
        raise ValueError(
            f"{qualname or fn!r} is defined {where}; worker processes import functions by name, "
            "so define it at the top level of a module"
        )
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not fn:
        raise ValueError(f"{module}.{qualname} does not name {fn!r}; worker processes could not import it")
    return (module, qualname, getattr(sys.modules[module], "__file__", None))
