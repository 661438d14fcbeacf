"""The zygote, and the two kinds of job process it forks. Runs in the container; standard library only.

The supervisor forks the zygote right after its preload, before any request exists; from then on every job
process is forked by the zygote, never by the supervisor, whose heap has parsed earlier requests and
results. The zygote only ever receives trusted programs (host-authored code, never model output) to keep
compiled, and orders: fork a program process, fork the judge, reap a program. Its children:

- a *program* process per job: leaves the session, takes its pipes at fixed fds, drops to PROGRAM_UID, and
  prepares a `python3 -I main.py`-like interpreter in an empty /tmp/job before blocking on its request, so
  all of that happens while the host is still busy with the previous result. It holds no byte of another
  job. Its exit status reaches the supervisor through the zygote (`wait`).
- the *judge*: one long-lived trusted process per container, as JUDGE_UID, that runs the judge program of
  every judged job in turn (see `serve_judge`). It shares no memory, uid or fd with any program.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import sys
import types
from typing import Any, NoReturn

from rewardkit.sandbox.hygiene import JUDGE_UID, PROGRAM_UID
from rewardkit.sandbox.runner import LINK_ENV, set_rlimits

JOB_DIR = "/tmp/job"
# A job process's fds while it runs: its stdio, then a judged job's link (read end, write end).
LINK_FDS = (3, 4)
REQUEST_FD = 5  # a program process's request pipe
CONTROL_FD = 9  # the judge's socket to the supervisor
MAX_MESSAGE = 1 << 20
REPLY_TIMEOUT = 5.0  # seconds; a zygote that takes longer is broken, and its container is replaced
OOM_SCORE_ADJ = {"program": 1000, "judge": 500}  # the OOM killer takes a program first, never us first

# Trusted programs the host asked to keep: digest -> (source, code object, or None when it does not
# compile: the job then compiles it again and reports the error like any program's).
PROGRAMS: dict[str, tuple[str, Any]] = {}
# Text streams on fds 0-2, made once before the zygote exists: each program process inherits them unused,
# and by the time it runs, its fds 0-2 are its own pipes.
JOB_STDIO: tuple[Any, ...] = ()


class Zygote:
    """The supervisor's handle on the zygote process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        self.pid = os.fork()
        if self.pid == 0:
            ours.close()
            _detach_stdio()
            serve(theirs)
        theirs.close()
        ours.settimeout(REPLY_TIMEOUT)
        self.sock = ours

    def keep(self, digest: str, source: str) -> None:
        """Program processes forked from now on have this program compiled."""
        self._ask({"keep": digest, "source": source})

    def spawn(self, role: str, fds: list[int]) -> int:
        """Fork a job process of `role`; a program's fds are its stdin, stdout, stderr, request read end
        and link (read, write); the judge's is its control socket. Returns its pid."""
        return int(self._ask({"spawn": role}, fds))

    def wait(self, pid: int) -> int | None:
        """Reap a job process the zygote forked (it must be dead or dying); its wait status."""
        status = self._ask({"wait": pid})
        return None if status is None else int(status)

    def reap(self, pid: int) -> None:
        """Have the zygote reap a job process whose status nobody needs, without waiting for it: the
        zygote handles orders in turn, so it is reaped before the next one is forked."""
        socket.send_fds(self.sock, [json.dumps({"reap": pid}).encode()], [])

    def _ask(self, order: dict[str, Any], fds: list[int] | None = None) -> Any:
        """Raises OSError when the zygote is gone, or took longer than REPLY_TIMEOUT (then it is killed:
        a late reply would answer the next question)."""
        try:
            socket.send_fds(self.sock, [json.dumps(order).encode()], fds or [])
            reply = self.sock.recv(MAX_MESSAGE)
        except TimeoutError:
            os.kill(self.pid, signal.SIGKILL)
            raise
        if not reply:
            raise OSError("the zygote is gone")
        return json.loads(reply)


def _detach_stdio() -> None:
    """The zygote's fds 0-2 are the supervisor's protocol stream: it must never hold them."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def serve(sock: socket.socket) -> NoReturn:
    """The zygote's loop: keep programs, fork and reap job processes, until the supervisor goes away."""
    while True:
        message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 16)
        if not message:
            os._exit(0)
        order = json.loads(message)
        reply: Any = None
        if "keep" in order:
            PROGRAMS[order["keep"]] = (order["source"], _compiled(order["source"]))
        elif "spawn" in order:
            reply = os.fork()
            if reply == 0:
                sock.close()
                become(order["spawn"], fds)
        else:
            with contextlib.suppress(ChildProcessError):
                reply = os.waitpid(order.get("wait", order.get("reap")), 0)[1]
        for fd in fds:
            os.close(fd)
        if "reap" not in order:
            sock.send(json.dumps(reply).encode())


def _compiled(source: str) -> Any:
    try:
        return compile(source, "main.py", "exec")
    except (SyntaxError, ValueError):
        return None


def become(role: str, fds: list[int]) -> NoReturn:
    """Turn this fresh fork into a job process of `role`. Never returns."""
    status = 1
    try:
        os.setsid()
        _write_file("/proc/self/oom_score_adj", str(OOM_SCORE_ADJ[role]).encode())
        uid = PROGRAM_UID if role == "program" else JUDGE_UID
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if role == "judge":
            serve_judge(fds[0])
        place_fds(fds, [0, 1, 2, REQUEST_FD, *LINK_FDS])
        with contextlib.suppress(FileExistsError):
            os.mkdir(JOB_DIR, 0o700)
        os.chdir(JOB_DIR)
        main = prepare_interpreter(JOB_DIR, JOB_STDIO)
        request = json.loads(_read_all(REQUEST_FD))
        os.close(REQUEST_FD)
        status = run_program(request, main)
    except BaseException:
        status = 1
    os._exit(status)


def place_fds(fds: list[int], targets: list[int], close_others: bool = True) -> None:
    """Move `fds` to `targets` (the originals are closed); with `close_others`, also close every other fd
    above 2 (inherited ones among them) but the targets."""
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]  # first out of the way of every target
    for fd in fds:
        os.close(fd)
    for source, target in zip(moved, targets, strict=True):
        os.dup2(source, target)
    for fd in moved:
        os.close(fd)
    if close_others:
        low = 3
        for target in sorted({*targets, 1 << 16}):
            if target >= low:
                os.closerange(low, target)
                low = target + 1


def prepare_interpreter(path: str | None, stdio: tuple[Any, ...]) -> types.ModuleType:
    """Make this interpreter look like `python3 -I main.py`: a fresh `__main__`, stdio on fds 0-2, argv,
    and the program's directory first on sys.path (the judge's path keeps nothing a job can write)."""
    sys.stdin, sys.stdout, sys.stderr = stdio
    sys.argv = ["main.py"]
    if path is None:
        sys.path[:] = [entry for entry in sys.path if entry.startswith("/usr")]
    else:
        sys.path.insert(0, path)
    main = types.ModuleType("__main__")
    main.__file__ = os.path.join(path or "/", "main.py")
    sys.modules["__main__"] = main
    return main


def run_program(request: dict[str, Any], main: types.ModuleType) -> int:
    """Run a program process's request; returns its exit status."""
    limits = request["limits"]
    set_rlimits(limits["memory"], limits["timeout"])
    for name, data in (request.get("files") or {}).items():
        write_job_file(name, _b64(data))
    source, code = PROGRAMS.get(request.get("digest") or "") or (request["source"], None)
    if request.get("link"):
        os.environ[LINK_ENV] = " ".join(map(str, LINK_FDS))
    else:
        os.closerange(LINK_FDS[0], LINK_FDS[1] + 1)
    if code is None:  # a program run from its source is main.py for tracebacks and for itself to read
        _write_file("main.py", source.encode())
    if request.get("mode") == "exec":
        os.execve(sys.executable, [sys.executable, "-I", "main.py"], dict(os.environ))
    status = run_in_process(main, source, code)
    run_exit_handlers()
    return status


def serve_judge(control_fd: int) -> NoReturn:
    """The judge's loop. Per job, the supervisor sends the judge program (source, or the digest of one it
    sent before) with fresh pipes for the job's stdin, stdout, stderr and link; the program runs as
    `__main__` of a fresh module, from the same random state every time (so that tests drawing random
    inputs are as deterministic as in a fresh process), and its exit status goes back on the socket."""
    place_fds([control_fd], [CONTROL_FD])
    control = socket.socket(fileno=CONTROL_FD)
    os.chdir("/")
    set_rlimits(None, None)
    programs: dict[str, tuple[str, Any]] = {}
    start_state = random.getstate()
    while True:
        message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 8)
        if not message:
            os._exit(0)
        request = json.loads(message)
        place_fds(fds, [0, 1, 2, *LINK_FDS], close_others=False)
        digest = request.get("digest") or ""
        if digest not in programs:
            programs[digest] = (request["source"], _compiled(request["source"]))
        os.environ[LINK_ENV] = " ".join(map(str, LINK_FDS))
        random.setstate(start_state)
        main = prepare_interpreter(None, job_stdio())
        status = run_in_process(main, *programs[digest])
        _release_job_fds()
        control.send(json.dumps({"status": status}).encode())


def _release_job_fds() -> None:
    """Close the job's pipes (their readers see EOF): /dev/null takes fds 0-4 until the next job."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2, *LINK_FDS):
        os.dup2(null, fd)
    os.close(null)


def write_job_file(name: str, data: bytes) -> None:
    """Names are relative paths inside the job directory; anything else is refused."""
    path = os.path.normpath(name)
    if path.startswith(("/", "..")) or path == "main.py":
        raise ValueError(f"bad file name {name!r}")
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    _write_file(path, data)


def run_in_process(main: types.ModuleType, source: str, code: Any = None) -> int:
    """Run a program as `__main__` of this prepared interpreter; its exit status."""
    import traceback

    status = 0
    try:
        exec(code or compile(source, main.__file__ or "main.py", "exec"), main.__dict__)
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    return status


def run_exit_handlers() -> None:
    """What `python3` does at exit that a program can see: wait for its non-daemon threads, flush. (Its
    atexit handlers do not run: no public API runs them short of finalizing the interpreter; mode "exec"
    runs a fresh `python3` for programs that need them.)"""
    with contextlib.suppress(BaseException):
        threading = sys.modules.get("threading")
        if threading is not None:
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
        sys.stdout.flush()
        sys.stderr.flush()


def _exit_status(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(BaseException):
        print(value, file=sys.stderr)
    return 1


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def job_stdio() -> tuple[Any, ...]:
    """Text streams on fds 0-2 (never closed: the fds outlive them)."""
    return (
        open(0, encoding="utf-8", closefd=False),
        open(1, "w", encoding="utf-8", closefd=False),
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False),
    )
