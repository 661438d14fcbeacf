"""Backends for machines without Docker.

`bwrap`: bubblewrap per job (own user, pid, net, ipc, uts namespaces; read-only /usr; fresh /tmp; no
capabilities; cleared environment), started under a per-slot unprivileged host uid with rlimits.
Known gaps compared with Docker (documented in docs): /tmp is an unbounded tmpfs in bwrap < 0.10 (only
RLIMIT_FSIZE per file), memory is RLIMIT_AS instead of a cgroup limit, no CPU quota (RLIMIT_CPU only).

`unsafe_local`: a plain subprocess with rlimits. NOT a sandbox: the program sees the host's network,
files and processes. For trusted code in tests only; the name says so on purpose.
"""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from rewardkit.errors import ConfigError
from rewardkit.sandbox.api import ExecResult, Job, Limits, Sandbox
from rewardkit.sandbox.process import run_process

JOB_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUTF8": "1"}
SLOT_UID_BASE = 61000  # host uids used for bwrap jobs when running as root, one per concurrent slot
NPROC = 64


def _write_job(job: Job, directory: Path) -> None:
    for name, data in job.files.items():
        path = (directory / name).resolve()
        if directory.resolve() not in path.parents:
            raise ValueError(f"file name {name!r} leaves the job directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (directory / "main.py").write_text(job.code, encoding="utf-8")


def _rlimits(limits: Limits, nproc: int | None) -> Callable[[], None]:
    cpu = int(limits.timeout) + 2

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


class UnsafeLocalSandbox(Sandbox):
    """Plain `python3 -I` subprocess. Trusted code only (tests of graders, debugging)."""

    name = "unsafe_local"

    def __init__(self, python: str | None = None, concurrency: int | None = None) -> None:
        self.python = python or sys.executable
        self.concurrency = concurrency or os.cpu_count() or 1

    def run_job(self, job: Job) -> ExecResult:
        with tempfile.TemporaryDirectory(prefix="rewardkit-unsafe-") as work:
            try:
                _write_job(job, Path(work))
            except (OSError, ValueError) as error:
                return ExecResult(status="error", stderr=str(error).encode(), exit_code=1)
            env = {**JOB_ENV, "HOME": work}
            return run_process([self.python, "-I", "main.py"], job, env, work, _rlimits(job.limits, None))


class BwrapSandbox(Sandbox):
    """bubblewrap per job. Needs `bwrap` (apt-get install bubblewrap) and user namespaces."""

    name = "bwrap"

    def __init__(self, python: str = "/usr/bin/python3", concurrency: int | None = None) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise ConfigError("the bwrap sandbox needs bubblewrap: apt-get install -y bubblewrap")
        self.bwrap: str = bwrap
        self.python = python
        self.concurrency = concurrency or os.cpu_count() or 1
        self._uids = itertools.cycle(range(SLOT_UID_BASE, SLOT_UID_BASE + 4 * self.concurrency))
        self._uid_lock = threading.Lock()

    def run_job(self, job: Job) -> ExecResult:
        with self._uid_lock:
            uid = next(self._uids) if os.geteuid() == 0 else None
        with tempfile.TemporaryDirectory(prefix="rewardkit-bwrap-") as work:
            try:
                _write_job(job, Path(work))
            except (OSError, ValueError) as error:
                return ExecResult(status="error", stderr=str(error).encode(), exit_code=1)
            os.chmod(work, 0o700)
            if uid is not None:
                os.chown(work, uid, uid)
            limits = _rlimits(job.limits, NPROC)

            def preexec() -> None:
                limits()
                if uid is not None:  # never run jobs as host root: NPROC is not enforced for root
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)

            return run_process(self._argv(work), job, {}, "/", preexec)

    def _argv(self, work: str) -> list[str]:
        argv = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        argv += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            elif os.path.isdir(f"/{link}"):
                argv += ["--ro-bind", f"/{link}", f"/{link}"]
        argv += ["--bind", work, "/tmp/job", "--chdir", "/tmp/job", "--remount-ro", "/"]
        argv += ["--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]
        for key, value in {**JOB_ENV, "HOME": "/tmp"}.items():
            argv += ["--setenv", key, value]
        return [*argv, self.python, "-I", "main.py"]
