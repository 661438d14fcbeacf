"""The one job runner every backend uses: a job's environment and rlimits, the pump that feeds its stdin and
captures its output under a cap, and how the way a job ended becomes its status.

Standard library only: the Docker backend ships this module into its containers beside the supervisor
(see `protocol.supervisor_bundle`), and the local backends import it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import Literal

Status = Literal["ok", "error", "timeout", "memory", "output_limit", "sandbox_error"]
STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "memory", "output_limit", "sandbox_error")
JOB_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUTF8": "1"}
# A judged job's two processes find their ends of the pipe pair between them here: "<read fd> <write fd>".
LINK_ENV = "REWARDKIT_LINK"
FILE_SIZE = 16 << 20  # the largest file a job may write (the tmpfs size bounds them all together)
OPEN_FILES = 256
READ_CHUNK = 65536
POLL_FALLBACK = 0.01  # seconds between exit checks where pidfds are unavailable (not Linux)


def set_rlimits(memory: int | None, timeout: float | None, nproc: int | None = None) -> None:
    """Limits of the calling process (a job about to run); None leaves that limit alone. Lowering limits
    needs no privilege."""
    limits = [
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_FSIZE, FILE_SIZE, FILE_SIZE),
        (resource.RLIMIT_NOFILE, OPEN_FILES, OPEN_FILES),
    ]
    if memory is not None:
        limits.append((resource.RLIMIT_AS, memory, memory))
    if timeout is not None:
        cpu = int(timeout) + 2  # CPU seconds: the wall deadline normally ends the job first
        limits.append((resource.RLIMIT_CPU, cpu, cpu + 1))
    if nproc is not None:
        limits.append((resource.RLIMIT_NPROC, nproc, nproc))
    for kind, soft, hard in limits:
        resource.setrlimit(kind, (soft, hard))


class Capture:
    """The output a job may keep: `limit` bytes over all its streams together; the rest is dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.truncated = False
        self.chunks: dict[str, list[bytes]] = {}

    def keep(self, stream: str, chunk: bytes) -> None:
        room = self.limit - self.size
        if len(chunk) > room:
            self.truncated = True
        self.chunks.setdefault(stream, []).append(chunk[: max(room, 0)])
        self.size += len(chunk)

    def get(self, stream: str) -> bytes:
        return b"".join(self.chunks.get(stream, ()))


class Pump:
    """Moves a running job's bytes without ever blocking: feeds its stdin pipes, reads its output pipes
    into a Capture, until the process it watches exits, the deadline passes, the output overflows, or the
    `interrupt` fd becomes readable. Every pipe handed to it is closed by `close`."""

    def __init__(self, capture: Capture, deadline: float) -> None:
        self.capture = capture
        self.deadline = deadline
        self.readers: dict[int, str] = {}
        self.writers: dict[int, memoryview] = {}
        self.poller = select.poll()

    def read(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.readers[fd] = stream
        self.poller.register(fd, select.POLLIN)

    def feed(self, fd: int, data: bytes) -> None:
        """Write `data` to `fd`, then close it: what the pipe takes now at once, the rest as it drains."""
        os.set_blocking(fd, False)  # a job that stops reading must not block us past its deadline
        self.writers[fd] = memoryview(data)
        self.poller.register(fd, select.POLLOUT)
        self._write(fd)

    def run(self, exit_fd: int | None, exited: Callable[[], bool], interrupt: int | None = None) -> str:
        """Returns "exited", "timeout", "output_limit" or "interrupted". `exit_fd` (a pidfd) becomes
        readable when the watched process exits; without one, `exited()` is polled."""
        watched = [fd for fd in (exit_fd, interrupt) if fd is not None]
        for fd in watched:
            self.poller.register(fd, select.POLLIN)
        try:
            return self._loop(exit_fd, exited, interrupt)
        finally:
            for fd in watched:
                self.poller.unregister(fd)

    def _loop(self, exit_fd: int | None, exited: Callable[[], bool], interrupt: int | None) -> str:
        while True:
            if self.capture.size > self.capture.limit:
                return "output_limit"
            left = self.deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if exit_fd is None and exited():
                return "exited"
            wait = left if exit_fd is not None else min(left, POLL_FALLBACK)
            for fd, _ in self.poller.poll(wait * 1000):
                if fd == interrupt:
                    return "interrupted"
                if fd == exit_fd:
                    return "exited"
                if fd in self.writers:
                    self._write(fd)
                elif fd in self.readers:
                    self._read(fd)

    def drain(self) -> None:
        """Keep what the pipes still hold (their writers are dead or stopped), then close everything."""
        for fd in list(self.readers):
            with contextlib.suppress(OSError):
                while self.capture.size <= self.capture.limit and self._read(fd):
                    pass
        self.close()

    def close(self) -> None:
        for fd in [*self.readers, *self.writers]:
            self._forget(fd)
        self.readers.clear()
        self.writers.clear()

    def _forget(self, fd: int) -> None:
        self.poller.unregister(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _read(self, fd: int) -> bool:
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self._forget(fd)
            del self.readers[fd]
            return False
        self.capture.keep(self.readers[fd], chunk)
        return True

    def _write(self, fd: int) -> None:
        pending = self.writers[fd]
        try:
            if pending:
                pending = pending[os.write(fd, pending[:READ_CHUNK]) :]
        except BlockingIOError:
            return
        except OSError:  # the job closed its end: the rest of its input is not wanted
            pending = pending[:0]
        if pending:
            self.writers[fd] = pending
        else:
            self._forget(fd)
            del self.writers[fd]


def exit_fd(pid: int) -> int | None:
    """A pidfd that becomes readable when `pid` exits; None where the platform has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def exit_code(wait_status: int | None) -> int | None:
    """The exit code of a waitpid() status (a signal's death is minus its number); None if unknown."""
    if wait_status is None:
        return None
    try:
        return os.waitstatus_to_exitcode(wait_status)
    except ValueError:
        return None


def classify(code: int | None, ending: str, truncated: bool, stderr: bytes, oom_killed: bool) -> Status:
    """The job's status. Memory needs evidence: the memory cgroup's OOM kill counter moved, or Python ran
    out of address space. A SIGKILL without that (a job killing itself) is a plain error."""
    if truncated or ending == "output_limit":
        return "output_limit"
    if ending == "timeout" or code == -signal.SIGXCPU:
        return "timeout"
    if code == 0:
        return "ok"
    if oom_killed or last_line(stderr).startswith(b"MemoryError"):
        return "memory"
    return "error"


def last_line(data: bytes) -> bytes:
    lines = data.strip().splitlines()
    return lines[-1] if lines else b""
