"""Run one program as a host subprocess with a wall deadline and an output cap (local backends)."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from rewardkit.sandbox.api import ExecResult, Job, Status

READ_CHUNK = 65536


def run_process(
    argv: Sequence[str], job: Job, env: dict[str, str], cwd: str, preexec: Callable[[], None] | None = None
) -> ExecResult:
    """Start `argv` in its own session, feed stdin, collect output; kill the whole group at the end."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - setrlimit/setuid only, before exec
        )
    except OSError as error:
        return ExecResult.infrastructure(f"cannot start {argv[0]}: {error}")
    collector = _Collector(job.limits.output)
    timed_out = collector.pump(proc, job.stdin, start + job.limits.timeout)
    _kill_group(proc.pid)
    exit_code = proc.wait()
    duration = time.monotonic() - start
    return ExecResult(
        status=_status(exit_code, timed_out, collector),
        exit_code=None if timed_out else exit_code,
        stdout=b"".join(collector.out[1]),
        stderr=b"".join(collector.out[2]),
        duration=duration,
        truncated=collector.truncated,
    )


def _status(exit_code: int, timed_out: bool, collector: _Collector) -> Status:
    lines = b"".join(collector.out[2]).strip().splitlines()
    if collector.truncated:
        return "output_limit"
    if timed_out or exit_code == -signal.SIGXCPU:
        return "timeout"
    if exit_code == 0:
        return "ok"
    if exit_code == -signal.SIGKILL or (lines and lines[-1].startswith(b"MemoryError")):
        return "memory"
    return "error"


class _Collector:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.truncated = False
        self.out: dict[int, list[bytes]] = {1: [], 2: []}

    def pump(self, proc: subprocess.Popen[bytes], stdin: bytes, deadline: float) -> bool:
        """Returns True when the deadline passed. Stops early when the main process exits."""
        assert proc.stdin
        assert proc.stdout
        assert proc.stderr
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ, 1)
        selector.register(proc.stderr, selectors.EVENT_READ, 2)
        pending = memoryview(stdin)
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            selector.register(proc.stdin, selectors.EVENT_WRITE, 0)
        else:
            proc.stdin.close()
        open_readers = 2
        while open_readers and not self.truncated:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if proc.poll() is not None:
                _kill_group(proc.pid)  # leftovers die now so their copies of the pipes close
            for key, _ in selector.select(min(left, 0.05)):
                if key.data == 0:
                    pending = self._feed(proc, selector, pending)
                    continue
                chunk = os.read(key.fileobj.fileno(), READ_CHUNK)  # type: ignore[union-attr]
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_readers -= 1
                else:
                    self._keep(key.data, chunk)
        selector.close()
        return False

    def _feed(
        self, proc: subprocess.Popen[bytes], selector: selectors.BaseSelector, pending: memoryview
    ) -> memoryview:
        assert proc.stdin
        try:
            pending = pending[os.write(proc.stdin.fileno(), pending[:READ_CHUNK]) :]
        except OSError:
            pending = pending[:0]
        if not pending:
            selector.unregister(proc.stdin)
            proc.stdin.close()
        return pending

    def _keep(self, stream: int, chunk: bytes) -> None:
        room = self.limit - self.size
        if len(chunk) > room:
            self.truncated = True
        self.out[stream].append(chunk[: max(room, 0)])
        self.size += len(chunk)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
