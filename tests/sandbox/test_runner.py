"""The job runner every backend shares: output cap, non-blocking stdin, how a job's end becomes a status."""

from __future__ import annotations

import signal
import time

import pytest

from rewardkit.sandbox.local_backends import UnsafeLocalSandbox
from rewardkit.sandbox.runner import Capture, classify


@pytest.mark.parametrize(
    ("code", "ending", "truncated", "stderr", "oom_killed", "status"),
    [
        (0, "exited", False, b"", False, "ok"),
        (1, "exited", False, b"Traceback\nValueError: x\n", False, "error"),
        (1, "exited", False, b"Traceback\nMemoryError\n", False, "memory"),
        (-signal.SIGKILL, "exited", False, b"", False, "error"),  # it killed itself: no memory evidence
        (-signal.SIGKILL, "exited", False, b"", True, "memory"),  # the cgroup's OOM killer did
        (-signal.SIGXCPU, "exited", False, b"", False, "timeout"),
        (None, "timeout", False, b"", False, "timeout"),
        (0, "exited", True, b"", False, "output_limit"),
        (None, "output_limit", False, b"", False, "output_limit"),
    ],
)
def test_how_a_job_ended_becomes_its_status(
    code: int | None, ending: str, truncated: bool, stderr: bytes, oom_killed: bool, status: str
) -> None:
    assert classify(code, ending, truncated, stderr, oom_killed) == status


def test_the_output_cap_holds_over_all_streams_together() -> None:
    capture = Capture(10)
    capture.keep("stdout", b"123456")
    capture.keep("stderr", b"7890ab")
    assert (capture.get("stdout"), capture.get("stderr"), capture.truncated) == (b"123456", b"7890", True)


def test_a_job_that_never_reads_a_large_stdin_still_ends_at_its_deadline() -> None:
    box = UnsafeLocalSandbox(concurrency=1)
    started = time.monotonic()
    result = box.run("import time; time.sleep(30)", stdin=b"x" * (8 << 20), timeout=0.5)
    assert result.status == "timeout"
    assert time.monotonic() - started < 5


def test_a_job_that_kills_itself_is_a_plain_error() -> None:
    result = UnsafeLocalSandbox(concurrency=1).run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert (result.status, result.exit_code) == ("error", -signal.SIGKILL)
