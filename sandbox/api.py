"""The backend-agnostic Sandbox interface: jobs in, ExecResults out."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "memory", "output_limit", "sandbox_error"]
STATUSES: tuple[Status, ...] = ("ok", "error", "timeout", "memory", "output_limit", "sandbox_error")


@dataclass(frozen=True)
class Limits:
    """Per-job limits. `memory` is the address-space limit of the job in bytes."""

    timeout: float = 10.0
    memory: int = 512 << 20
    output: int = 1 << 20  # stdout + stderr bytes kept; more ends the job with status output_limit


@dataclass(frozen=True)
class Job:
    """One Python program to run: `code` is main.py, `files` are written next to it (relative paths).

    `trusted` says `code` is the host's own program (a test harness), never model output; untrusted
    input then travels in `files` and `stdin`. A backend may compile trusted code once, outside the job,
    and reuse it (the Docker backend does: each container receives it once and keeps it compiled).
    """

    code: str
    stdin: bytes = b""
    files: Mapping[str, bytes] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    trusted: bool = False


@dataclass(frozen=True)
class ExecResult:
    """What happened. `sandbox_error` is an infrastructure failure, never the program's fault."""

    status: Status
    exit_code: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    duration: float = 0.0
    truncated: bool = False
    error: str | None = None  # why, for sandbox_error

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
