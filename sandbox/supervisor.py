"""The sandbox container's PID 1: runs jobs on the host's request and reports how each ended.

The host starts the container with a small loader (`protocol.LOADER`) as `python3 -I -c`, and sends this
module and the ones it imports on stdin (`protocol.supervisor_bundle`), so none of their source is on a
command line. Then, on the same stream, each frame is a 4-byte big-endian length and a JSON object: a
ping, or a job (see `protocol.job_request`); each reply is a frame the same way. EOF on stdin, between jobs
or during one, ends the supervisor and with it the container (the host closed the pool or died).

Per job: the program process was forked by the zygote before the request arrived and gets its part of the
request on a pipe; a judged job's judge part goes to the container's judge process with fresh pipes; the
pump feeds their stdin and captures their output until the primary (the judge of a judged job, else the
program) is done; then every process of the program's user is killed, the writable places are wiped, and
the reply lists whatever the supervisor found left (see hygiene). Runs as root with only CAP_SETUID,
CAP_SETGID and CAP_KILL; standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import select
import signal
import socket
import struct
import time
from typing import Any

from rewardkit.sandbox import hygiene, seccomp, zygote
from rewardkit.sandbox.runner import JOB_ENV, Capture, Pump, classify, exit_code, exit_fd

STREAMS = ("stdout", "stderr", "verdict", "judge_log")
# Imported once here so job processes inherit them instead of importing them per job. Only the standard
# library, and nothing that keeps state a job could see from an earlier job.
PRELOAD = (
    "typing", "re", "collections", "math", "itertools", "functools", "heapq", "bisect", "string",
    "fractions", "decimal", "io", "types", "traceback", "random", "statistics", "datetime", "copy",
    "numbers", "struct", "signal", "atexit", "base64",
)  # fmt: skip


class HostGone(Exception):
    """Our stdin (the host's attach stream) ended during a job: stop now, the container goes with us."""


class Program:
    """The next job's program process, ready and blocked on its request, and our ends of its pipes."""

    def __init__(self, spawner: zygote.Zygote) -> None:
        stdio = [os.pipe() for _ in range(3)]
        request_r, self.request = os.pipe()
        self.calls, self.replies = os.pipe(), os.pipe()  # judge -> program, program -> judge
        theirs = [stdio[0][0], stdio[1][1], stdio[2][1], request_r, self.calls[0], self.replies[1]]
        self.pid = spawner.spawn("program", theirs)
        for fd in theirs:
            os.close(fd)
        self.stdin, self.stdout, self.stderr = stdio[0][1], stdio[1][0], stdio[2][0]
        self.exit_fd = exit_fd(self.pid)

    def judge_ends(self) -> list[int]:
        """The judge's ends of the link: read replies, write calls."""
        return [self.replies[0], self.calls[1]]

    def hand_over(self, request: dict[str, Any]) -> None:
        """Send its request; it reads all of it before anything else, so this returns."""
        _write_all(self.request, json.dumps(request).encode())
        os.close(self.request)

    def close(self) -> None:
        for fd in (self.exit_fd, *self.judge_ends()):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


class Judge:
    """The container's judge process: trusted, long-lived, one judged job at a time (see
    zygote.serve_judge). Replaced when it fails to finish a job."""

    def __init__(self, spawner: zygote.Zygote) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = spawner.spawn("judge", [theirs.fileno()])
        theirs.close()
        self.control = ours
        self.kept: set[str] = set()

    def start(self, digest: str | None, source: str, stdin: bytes, link: list[int], pump: Pump) -> None:
        """Hand it a job: its program, and fresh pipes for its stdio (which `pump` serves) and the link.
        Its input goes into the pipe first, so that the judge finds it waiting."""
        stdio = [os.pipe() for _ in range(3)]
        pump.feed(stdio[0][1], stdin)
        pump.read(stdio[1][0], "verdict")
        pump.read(stdio[2][0], "judge_log")
        message = {"digest": digest} if digest in self.kept else {"digest": digest, "source": source}
        theirs = [stdio[0][0], stdio[1][1], stdio[2][1], *link]
        socket.send_fds(self.control, [json.dumps(message).encode()], theirs)
        for fd in theirs:
            os.close(fd)
        if digest is not None:
            self.kept.add(digest)

    def alive(self) -> bool:
        """Between jobs the judge never writes: a readable control socket means it is gone."""
        return not select.select([self.control], [], [], 0)[0]

    def finished(self) -> int | None:
        """Its job's exit status once it reported one; None when it died instead."""
        with contextlib.suppress(OSError, ValueError):
            return int(json.loads(self.control.recv(4096))["status"])
        return None

    def kill(self, spawner: zygote.Zygote) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        self.control.close()
        with contextlib.suppress(OSError):
            spawner.wait(self.pid)


class Supervisor:
    def __init__(self, spawner: zygote.Zygote) -> None:
        self.zygote = spawner
        self.programs: dict[str, str] = {}  # trusted programs kept, by digest (the host bounds how many)
        self.judge: Judge | None = Judge(spawner)
        self.oom_kills = hygiene.oom_kills()
        self.program = Program(spawner)

    def serve(self) -> None:
        while True:
            body = read_frame(0)
            if body is None:
                return
            request = json.loads(body)
            if request.get("ping"):
                send({"pong": True})
                continue
            refusal = self.keep_programs(request)
            if refusal:
                send({"refused": refusal})
                continue
            try:
                reply = self.run(request)
            except HostGone:
                raise
            except Exception as error:  # the host replaces this container and retries the job elsewhere
                reply = {"refused": f"the supervisor failed: {type(error).__name__}: {error}"}
            send(reply)
            del request, body, reply  # nothing of this job stays referenced while the next one waits
            self.judge = self.judge or Judge(self.zygote)
            self.program = Program(self.zygote)

    def keep_programs(self, request: dict[str, Any]) -> str | None:
        """Keep the trusted programs the host asks us to keep (the host then sends only their digest);
        the program's also go to the zygote, so program processes inherit them compiled. Returns why the
        job cannot run, or None."""
        for role in ("program", "judge"):
            part = request.get(role) or {}
            digest = part.get("digest")
            if digest is None or digest in self.programs:
                continue
            if "source" not in part:
                return f"unknown program {digest}: send its code again"
            if part.get("keep"):
                self.programs[digest] = part["source"]
                if role == "program":
                    self.zygote.keep(digest, part["source"])
        return None

    def source(self, part: dict[str, Any]) -> str:
        return str(part["source"]) if "source" in part else self.programs[part["digest"]]

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        limits = request["limits"]
        program, judge = self.program, self._judge_for(request)
        capture = Capture(int(limits["output"]))
        start = time.monotonic()
        pump = Pump(capture, start + float(limits["timeout"]))
        ending = self._pump(request, program, judge, pump)
        judge_status = judge.finished() if judge is not None and ending == "exited" else None
        statuses: dict[int, int] = {}
        swept = hygiene.kill_jobs(self._spares(), statuses, program.exit_fd)
        program_status = self._reap(program.pid, wait=judge is None)
        pump.drain()
        program.close()
        if judge is not None and judge_status is None:  # it did not finish the job: replace it
            judge.kill(self.zygote)
            self.judge = None
        if ending == "interrupted":
            raise HostGone
        code = (
            judge_status if judge is not None else exit_code(program_status) if ending == "exited" else None
        )
        log = capture.get("judge_log" if judge is not None else "stderr")
        problems = hygiene.problems(
            {1, *self._spares()}, self.zygote.pid not in statuses, swept, hygiene.wipe()
        )
        return {
            "status": classify(code, ending, capture.truncated, log, self._oom_killed()),
            "exit_code": code,
            **{stream: base64.b64encode(capture.get(stream)).decode() for stream in STREAMS},
            "duration": time.monotonic() - start,
            "truncated": capture.truncated,
            "problems": problems,
        }

    def _judge_for(self, request: dict[str, Any]) -> Judge | None:
        """The judge for a judged job: the one we have, or a new one if it died since its last job."""
        if request.get("judge") is None:
            return None
        if self.judge is not None and not self.judge.alive():
            self.judge.kill(self.zygote)
            self.judge = None
        self.judge = self.judge or Judge(self.zygote)
        return self.judge

    def _pump(self, request: dict[str, Any], program: Program, judge: Judge | None, pump: Pump) -> str:
        """Start the job's processes and move their bytes until the primary is done; how it ended."""
        program.hand_over(program_request(request))
        pump.feed(program.stdin, _b64(request["program"].get("stdin")))
        pump.read(program.stdout, "stdout")
        pump.read(program.stderr, "stderr")
        if judge is None:
            return pump.run(program.exit_fd, lambda: _exited(program.pid), interrupt=0)
        part = request["judge"]
        judge.start(
            part.get("digest"), self.source(part), _b64(part.get("stdin")), program.judge_ends(), pump
        )
        return pump.run(judge.control.fileno(), lambda: False, interrupt=0)

    def _oom_killed(self) -> bool:
        """Whether the memory cgroup's OOM killer killed a process since the last job."""
        kills, before = hygiene.oom_kills(), self.oom_kills
        self.oom_kills = kills
        return kills is not None and before is not None and kills > before

    def _spares(self) -> set[int]:
        """Processes that outlive a job: the zygote, and the judge if it finished cleanly."""
        return {self.zygote.pid} | ({self.judge.pid} if self.judge is not None else set())

    def _reap(self, pid: int, wait: bool) -> int | None:
        """Reap the program; its wait status if `wait` (a judged job's primary is the judge)."""
        try:
            if wait:
                return self.zygote.wait(pid)
            self.zygote.reap(pid)
        except OSError:
            pass
        return None


def program_request(request: dict[str, Any]) -> dict[str, Any]:
    """What the program process needs: its program, the limits, its files; never the judge's part."""
    part = request["program"]
    mine = {key: part[key] for key in ("source", "digest") if key in part}
    link = request.get("judge") is not None
    mine.update(
        limits=request["limits"], mode=request.get("mode", "fork"), link=link, files=part.get("files") or {}
    )
    return mine


def _exited(pid: int) -> bool:
    """Whether `pid` (a child of the zygote) has exited; for kernels without pidfds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


def _b64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def read_frame(fd: int) -> bytes | None:
    header = _read_exact(fd, 4)
    return None if header is None else _read_exact(fd, struct.unpack(">I", header)[0])


def _read_exact(fd: int, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = os.read(fd, min(n - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send(obj: dict[str, Any]) -> None:
    data = json.dumps(obj).encode()
    _write_all(1, struct.pack(">I", len(data)) + data)


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)


def main() -> None:
    seccomp.install()  # first: nothing runs in this container without the filter
    preload()
    zygote.JOB_STDIO = zygote.job_stdio()
    # Job processes inherit this environment; the supervisor reads none of it.
    os.environ.clear()
    os.environ.update(JOB_ENV)
    # What exists now is never collected: the job processes' collections then skip it instead of touching
    # (and so copying on write) every page of the heap they inherit.
    gc.freeze()
    supervisor = Supervisor(zygote.Zygote())
    with contextlib.suppress(HostGone):
        supervisor.serve()


if __name__ == "__main__":
    main()
