"""Backends for machines without Docker (options: LocalOptions).

`bwrap`: bubblewrap per job process (own user, pid, net, ipc, uts namespaces; read-only /usr; fresh /tmp;
no capabilities; cleared environment), started under a per-slot unprivileged host uid with rlimits. A
judged job's judge runs in a bubblewrap of its own, under another uid. Known gaps compared with Docker
(documented in README): /tmp is an unbounded tmpfs in bwrap < 0.10 (only RLIMIT_FSIZE per file), memory is
RLIMIT_AS instead of a cgroup limit, no CPU quota (RLIMIT_CPU only).

`unsafe_local`: plain subprocesses with rlimits. NOT a sandbox: the program sees the host's network, files
and processes, and can reach its judge's. For trusted code in tests only; the name says so on purpose.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.sandbox.api import ExecResult, Job, Sandbox
from rewardkit.sandbox.hygiene import wipe_root
from rewardkit.sandbox.options import LocalOptions, validate_options
from rewardkit.sandbox.runner import JOB_ENV, LINK_ENV, Capture, Pump, classify, exit_fd, set_rlimits

logger = logging.getLogger(__name__)

WIPE_BUDGET = 30.0  # seconds to remove a job's directory
SLOT_UID_BASE = 61000  # host uids of bwrap job processes when running as root
NPROC = 64
ROLE_UIDS = {"program": 65534, "judge": 65533}  # inside bubblewrap's user namespace
STREAMS = {"program": ("stdout", "stderr"), "judge": ("verdict", "judge_log")}  # captured as


class LocalProcess:
    """One started job process and our ends of its stdio pipes."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        preexec: Callable[[], None],
        link: tuple[int, ...],
    ) -> None:
        ends = [os.pipe() for _ in range(3)]
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=ends[0][0],
                stdout=ends[1][1],
                stderr=ends[2][1],
                env=env,
                cwd=cwd,
                start_new_session=True,
                pass_fds=link,
                preexec_fn=preexec,  # noqa: PLW1509 - setrlimit/setuid only, before exec
            )
        except OSError:
            for pair in ends:
                os.close(pair[0])
                os.close(pair[1])
            raise
        for fd in (ends[0][0], ends[1][1], ends[2][1]):
            os.close(fd)
        self.stdin, self.stdout, self.stderr = ends[0][1], ends[1][0], ends[2][0]

    def kill(self) -> int:
        """SIGKILL its whole process group; its exit code."""
        with contextlib.suppress(OSError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.wait()


class LocalSandbox(Sandbox):
    """What both local backends share: job directories, starting the processes, running the job."""

    def __init__(self, options: LocalOptions | None = None, **overrides: Any) -> None:
        given = options.model_dump(exclude_unset=True) if options is not None else {}
        self.options = validate_options(LocalOptions, {**given, **overrides}, f"{self.name} sandbox options")
        self.concurrency = self.options.concurrency or os.cpu_count() or 1

    def run_job(self, job: Job) -> ExecResult:
        root = tempfile.mkdtemp(prefix=f"rewardkit-{self.name}-")
        try:
            os.chmod(root, 0o711)  # each role's own uid passes through to its directory, and no further
            try:
                program_dir = _job_dir(root, "program", job.code, job.files)
                judge_dir = _job_dir(root, "judge", job.judge.code, {}) if job.judge else None
            except (OSError, ValueError) as error:
                return ExecResult(status="error", stderr=str(error).encode(), exit_code=1)
            return self._run(job, program_dir, judge_dir)
        finally:
            # Whatever the job made (a tree of any depth, a flood of directories) goes without recursion.
            if wipe_root(root, time.monotonic() + WIPE_BUDGET):
                os.rmdir(root)
            else:
                logger.warning("could not remove %s within %gs", root, WIPE_BUDGET)

    def _run(self, job: Job, program_dir: str, judge_dir: str | None) -> ExecResult:
        start = time.monotonic()
        try:
            processes = self._start_all(job, program_dir, judge_dir)
        except OSError as error:
            return ExecResult.infrastructure(f"cannot start a job process: {error}")
        capture = Capture(job.limits.output)
        pump = Pump(capture, start + job.limits.timeout)
        inputs = {"program": job.stdin, "judge": job.judge.stdin if job.judge else b""}
        for role, process in processes.items():
            out, err = STREAMS[role]
            pump.feed(process.stdin, inputs[role])
            pump.read(process.stdout, out)
            pump.read(process.stderr, err)
        primary_role = "judge" if judge_dir else "program"
        primary = processes[primary_role].popen
        watch = exit_fd(primary.pid)
        try:
            ending = pump.run(watch, lambda: primary.poll() is not None)
        finally:
            if watch is not None:
                os.close(watch)
        codes = {role: process.kill() for role, process in processes.items()}
        pump.drain()
        code = codes[primary_role] if ending == "exited" else None
        return ExecResult(
            status=classify(code, ending, capture.truncated, capture.get(STREAMS[primary_role][1]), False),
            exit_code=code,
            stdout=capture.get("stdout"),
            stderr=capture.get("stderr"),
            duration=time.monotonic() - start,
            truncated=capture.truncated,
            verdict=capture.get("verdict"),
            judge_log=capture.get("judge_log"),
        )

    def _start_all(self, job: Job, program_dir: str, judge_dir: str | None) -> dict[str, LocalProcess]:
        """The program, and the judge linked to it by a pipe each way; none if any fails to start."""
        calls, replies = (os.pipe(), os.pipe()) if judge_dir else ((-1, -1), (-1, -1))
        processes: dict[str, LocalProcess] = {}
        try:
            processes["program"] = self._start("program", program_dir, job, (calls[0], replies[1]))
            if judge_dir is not None:
                processes["judge"] = self._start("judge", judge_dir, job, (replies[0], calls[1]))
        except OSError:
            for process in processes.values():
                process.kill()
            raise
        finally:
            for fd in (*calls, *replies):
                if fd >= 0:
                    os.close(fd)
        return processes

    def _start(self, role: str, work: str, job: Job, link: tuple[int, int]) -> LocalProcess:
        raise NotImplementedError


def _job_dir(root: str, role: str, code: str, files: Any) -> str:
    directory = Path(root, role)
    directory.mkdir()
    for name, data in files.items():
        path = (directory / name).resolve()
        if directory.resolve() not in path.parents:
            raise ValueError(f"file name {name!r} leaves the job directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (directory / "main.py").write_text(code, encoding="utf-8")
    return str(directory)


def _link_env(link: tuple[int, int]) -> dict[str, str]:
    return {LINK_ENV: f"{link[0]} {link[1]}"} if link[0] >= 0 else {}


class UnsafeLocalSandbox(LocalSandbox):
    """Plain `python3 -I` subprocesses. Trusted code only (tests of graders, debugging)."""

    name = "unsafe_local"

    def _start(self, role: str, work: str, job: Job, link: tuple[int, int]) -> LocalProcess:
        python = self.options.python or sys.executable
        env = {**JOB_ENV, "HOME": work, **_link_env(link)}
        limits = job.limits

        def preexec() -> None:
            set_rlimits(limits.memory, limits.timeout)

        fds = link if link[0] >= 0 else ()
        return LocalProcess([python, "-I", "main.py"], env, work, preexec, fds)


class BwrapSandbox(LocalSandbox):
    """bubblewrap per job process. Needs `bwrap` (apt-get install bubblewrap) and user namespaces."""

    name = "bwrap"

    def __init__(self, options: LocalOptions | None = None, **overrides: Any) -> None:
        super().__init__(options, **overrides)
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise ConfigError("the bwrap sandbox needs bubblewrap: apt-get install -y bubblewrap")
        self.bwrap: str = bwrap
        self._uids = itertools.cycle(range(SLOT_UID_BASE, SLOT_UID_BASE + 8 * self.concurrency))
        self._uid_lock = threading.Lock()

    def _start(self, role: str, work: str, job: Job, link: tuple[int, int]) -> LocalProcess:
        with self._uid_lock:
            uid = next(self._uids) if os.geteuid() == 0 else None  # never host root: NPROC spares root
        os.chmod(work, 0o700)
        if uid is not None:
            os.chown(work, uid, uid)
        limits = job.limits

        def preexec() -> None:
            set_rlimits(limits.memory, limits.timeout, NPROC)
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)

        fds = link if link[0] >= 0 else ()
        return LocalProcess(self._argv(work, ROLE_UIDS[role], _link_env(link)), {}, "/", preexec, fds)

    def _argv(self, work: str, inner_uid: int, extra_env: dict[str, str]) -> list[str]:
        argv = [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
        argv += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            elif os.path.isdir(f"/{link}"):
                argv += ["--ro-bind", f"/{link}", f"/{link}"]
        argv += ["--bind", work, "/tmp/job", "--chdir", "/tmp/job", "--remount-ro", "/"]
        argv += ["--uid", str(inner_uid), "--gid", str(inner_uid), "--cap-drop", "ALL"]
        for key, value in {**JOB_ENV, "HOME": "/tmp", **extra_env}.items():
            argv += ["--setenv", key, value]
        return [*argv, self.options.python or "/usr/bin/python3", "-I", "main.py"]
