"""The backend-agnostic Sandbox interface: jobs in, ExecResults out."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from rewardkit.sandbox.runner import STATUSES, Status

__all__ = ["STATUSES", "ExecResult", "Job", "Judge", "Limits", "Sandbox", "Status"]


@dataclass(frozen=True)
class Limits:
    """Per-job limits. `memory` is the address-space limit of each job process in bytes."""

    timeout: float = 10.0
    memory: int = 512 << 20
    output: int = 1 << 20  # bytes kept over all output streams; more ends the job with status output_limit


@dataclass(frozen=True)
class Judge:
    """A trusted program (host-authored, never model output) that judges a job's program from another
    process, running as another user: neither process can read, signal or trace the other. The two are
    linked by a pipe each way; each finds its ends in the environment variable REWARDKIT_LINK
    ("<read fd> <write fd>"). The judge reads `stdin`; its stdout becomes `ExecResult.verdict`, which the
    program cannot write to. The job ends when the judge exits."""

    code: str
    stdin: bytes = b""


@dataclass(frozen=True)
class Job:
    """One Python program to run: `code` is main.py, `files` are written next to it (relative paths).

    `trusted` says `code` is the host's own program, never model output; untrusted input then travels in
    `files` and `stdin`. A backend may compile trusted code once, outside the job, and reuse it (the Docker
    backend does: each container receives it once and keeps it compiled). `judge`, when set, runs beside
    the program and decides the outcome (see Judge).
    """

    code: str
    stdin: bytes = b""
    files: Mapping[str, bytes] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    trusted: bool = False
    judge: Judge | None = None


@dataclass(frozen=True)
class ExecResult:
    """What happened. `sandbox_error` is an infrastructure failure, never the program's fault.

    `status` and `exit_code` describe the job's primary process: the judge of a judged job, else the
    program. `stdout` and `stderr` are the program's; `verdict` and `judge_log` the judge's stdout and stderr.
    """

    status: Status
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    duration: float = 0.0
    truncated: bool = False
    error: str | None = None  # why, for sandbox_error
    verdict: bytes = b""
    judge_log: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def infrastructure(cls, error: str, duration: float = 0.0) -> ExecResult:
        return cls(status="sandbox_error", error=error, duration=duration)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "verdict": self.verdict.decode("utf-8", "replace"),
            "judge_log": self.judge_log.decode("utf-8", "replace"),
            "duration": round(self.duration, 4),
            "truncated": self.truncated,
            "error": self.error,
        }


class Sandbox(abc.ABC):
    """Runs untrusted Python programs. Thread-safe: `run` may be called from many threads at once."""

    name: str = "sandbox"
    concurrency: int = 1  # jobs that can run at the same time

    @abc.abstractmethod
    def run_job(self, job: Job) -> ExecResult:
        """Run one job; never raises for anything the program does."""

    def run(
        self,
        code: str,
        stdin: bytes = b"",
        files: Mapping[str, bytes] | None = None,
        limits: Limits | None = None,
        **limit_overrides: Any,
    ) -> ExecResult:
        """Convenience wrapper: `run("print(1)", timeout=2)`."""
        limits = replace(limits or Limits(), **limit_overrides)
        return self.run_job(Job(code, stdin, dict(files or {}), limits))

    def run_batch(self, jobs: Sequence[Job], max_concurrency: int | None = None) -> list[ExecResult]:
        """Run jobs concurrently (at most `max_concurrency`, default the backend's), results in order."""
        workers = max(1, min(len(jobs) or 1, max_concurrency or self.concurrency))
        if workers == 1:
            return [self.run_job(job) for job in jobs]
        with ThreadPoolExecutor(workers, thread_name_prefix=f"{self.name}-batch") as pool:
            return list(pool.map(self.run_job, jobs))

    def start(self) -> Sandbox:
        """Acquire resources (warm pool). Idempotent; `run` calls it lazily."""
        return self

    def close(self, wait: bool = False) -> None:
        """Release everything. Idempotent. A backend may finish releasing in the background unless
        `wait` is true (tests and callers that must see every resource gone)."""

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
