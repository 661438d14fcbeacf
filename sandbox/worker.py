# mypy: ignore-errors
# (runs inside the sandbox image with the standard library only; not part of the typed host API)
"""In-container supervisor (PID 1 of every sandbox container). Standard library only; runs as root.

Protocol on stdin/stdout (the Docker attach stream): each frame is a 4-byte big-endian length followed by
a JSON object. Request: {code, stdin (base64), files {name: base64}, timeout, memory, output, mode,
program (digest of trusted code; code may then be omitted, see keep_program), keep}. Response: {status,
exit_code, stdout, stderr (base64), duration, truncated, healthy}, or {refused: why}. EOF on
stdin, between jobs or during one, ends the supervisor and with it the container (the host closed the
pool or died).

Per job: a process forked before the request arrives (setsid -> pipes -> drop to uid 65534 -> empty job
dir -> fork-mode stdio) reads the request -> rlimits -> files -> runs the code (in the forked, pre-warmed
interpreter for mode "fork", or a fresh `python3 -I` for mode "exec"). Afterwards every other process
in the container is SIGKILLed (we are PID 1 with CAP_KILL) and /tmp and /dev/shm are wiped, so nothing
of one job is visible to the next. The job cannot write to our stdout: it runs as another uid.
"""

import base64
import contextlib
import errno
import gc
import json
import os
import resource
import select
import signal
import struct
import sys
import time

JOB_UID = 65534
WORK_ROOTS = ("/tmp", "/dev/shm")
JOB_DIR = "/tmp/job"
JOB_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": JOB_DIR, "LANG": "C.UTF-8", "PYTHONUTF8": "1"}
READ_CHUNK = 65536
JOB_STDIO = ()  # made once by main (see job_stdio)


def read_exact(fd, n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(obj):
    data = json.dumps(obj).encode()
    write_all(1, struct.pack(">I", len(data)) + data)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def set_limits(req):
    memory = int(req["memory"])
    cpu = int(req["timeout"]) + 2
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


REQUEST_FD = 3  # in the job process: the pipe its request arrives on


def child(fds, request_fd):
    """Runs in the forked job process: never returns. Everything up to reading the request is the same
    for every job, so it runs before the request exists (see ReadyChild)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.dup2(request_fd, REQUEST_FD)
        os.closerange(REQUEST_FD + 1, 4096)
        write_file("/proc/self/oom_score_adj", b"1000")  # the cgroup OOM killer picks the job
        os.setgroups([])
        os.setgid(JOB_UID)
        os.setuid(JOB_UID)
        with contextlib.suppress(FileExistsError):
            os.mkdir(JOB_DIR, 0o700)
        os.chdir(JOB_DIR)
        main = prepare_in_process()  # fork mode's interpreter state; an exec-mode job discards it
        req = json.loads(read_all(REQUEST_FD))
        os.close(REQUEST_FD)
        set_limits(req)  # lowering limits needs no privilege
        for name, data in (req.get("files") or {}).items():
            write_job_file(name, base64.b64decode(data))
        source, program = job_program(req)
        write_file("main.py", source.encode())
        if req.get("mode") == "exec":
            os.execve(sys.executable, [sys.executable, "-I", "main.py"], JOB_ENV)
        code = run_in_process(main, source, program)
    except BaseException:
        code = 1
    os._exit(code)


def read_all(fd):
    chunks = []
    while chunk := os.read(fd, READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


class ReadyChild:
    """The next job's process, forked before its request arrives (while the host reads the last result):
    it leaves the session, drops to the job uid, enters the empty job directory, sets up fork mode's
    stdio and `__main__`, and blocks reading REQUEST_FD. The fork and that setup (~350 of a HumanEval
    job's ~690 page faults, measured) are then off the job's latency. It is forked after the previous
    job's processes were killed and its files wiped, so it inherits nothing of that job."""

    def __init__(self):
        pipes = [os.pipe(), os.pipe(), os.pipe()]
        request_r, self.request_w = os.pipe()
        sys.stdout.flush()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.request_w)
            child((pipes[0][0], pipes[1][1], pipes[2][1]), request_r)
        for fd in (pipes[0][0], pipes[1][1], pipes[2][1], request_r):
            os.close(fd)
        self.stdin_w = pipes[0][1]
        self.readers = {pipes[1][0]: 1, pipes[2][0]: 2}

    def hand_over(self, body):
        """Send the request (the host's JSON, as received). The child reads it all, so this returns.
        Should the child be gone, SIGPIPE ends the supervisor: the host sees a protocol error and
        retries the job on a fresh container."""
        write_all(self.request_w, body)
        os.close(self.request_w)


# Host-authored programs (a test harness, never model output: that arrives in files), sent with their
# digest in "program". Asked to ("keep"), we keep the source and its compiled code, and later requests
# carry only the digest: the harness is most of a request's bytes, and compiling it costs more than
# running it. Job processes forked after a program was kept inherit it compiled.
PROGRAMS = {}  # digest -> (source, code object, or None when it does not compile); the host bounds it


def keep_program(req):
    """Note a program the host asks us to keep. Returns why the request cannot run, or None."""
    digest = req.get("program")
    if digest is None or digest in PROGRAMS:
        return None
    if "code" not in req:
        return f"unknown program {digest}: send its code again"
    if req.get("keep"):
        try:
            program = compile(req["code"], "main.py", "exec")
        except (SyntaxError, ValueError):
            program = None  # the job compiles it again and reports the error like any program
        PROGRAMS[digest] = (req["code"], program)
    return None


def job_program(req):
    """The job's source, and its compiled code when we kept it before this process was forked."""
    kept = PROGRAMS.get(req.get("program"))
    return kept if kept is not None else (req["code"], None)


def write_job_file(name, data):
    # Names are relative paths inside the job directory; anything else is refused.
    path = os.path.normpath(name)
    if path.startswith(("/", "..")) or path == "main.py":
        raise ValueError("bad file name")
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    write_file(path, data)


def write_file(path, data):
    # os-level I/O: in the forked child every Python object touched costs copy-on-write page faults.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def prepare_in_process():
    """Make the forked interpreter look like `python3 -I main.py` in the job directory. None of it depends
    on the request, so it runs before the request arrives, off the job's latency."""
    import types

    # os.environ is already JOB_ENV and the stdio objects exist: the supervisor made them once (see main).
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__ = JOB_STDIO
    sys.argv = ["main.py"]
    sys.path[0:0] = [JOB_DIR]
    main = types.ModuleType("__main__")
    main.__file__ = os.path.join(JOB_DIR, "main.py")
    sys.modules["__main__"] = main
    return main


def run_in_process(main, source, program=None):
    """Fork mode: run the job's program as `__main__` of the prepared interpreter."""
    import traceback

    status = 0
    try:
        exec(program or compile(source, "main.py", "exec"), main.__dict__)
    except SystemExit as stop:
        status = exit_status(stop.code)
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    return status


def exit_status(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(BaseException):
        print(value, file=sys.stderr)
    return 1


def kill_all():
    """SIGKILL every process but us, reap them all. True when none is left."""
    for _ in range(200):
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError as error:  # ESRCH: nothing left; EPERM: nothing we may signal
            if error.errno in (errno.ESRCH, errno.EPERM):
                reap()
                return True
        reap()
        time.sleep(0.001)
    return False


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wipe():
    """Remove everything the job wrote, acting as the job's uid (we lack CAP_DAC_OVERRIDE)."""
    clean = True
    os.setegid(JOB_UID)
    os.seteuid(JOB_UID)
    try:
        for root in WORK_ROOTS:
            for name in safe_listdir(root):
                remove_tree(os.path.join(root, name))
            clean = clean and not safe_listdir(root)
    finally:
        os.seteuid(0)
        os.setegid(0)
    return clean


def safe_listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def remove_tree(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            for name in os.listdir(path):
                remove_tree(os.path.join(path, name))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


class HostGone(Exception):
    """Our stdin (the host's attach stream) ended during a job: stop now, the container goes with us."""


class Job:
    def __init__(self, req, body):
        self.req = req
        self.body = body
        self.limit = int(req["output"])
        self.out = {1: [], 2: []}
        self.size = 0
        self.truncated = False
        self.timed_out = False

    def run(self, process):
        start = time.monotonic()
        deadline = start + float(self.req["timeout"])
        process.hand_over(self.body)
        status_code = self.pump(process.pid, process.stdin_w, process.readers, deadline)
        duration = time.monotonic() - start
        return self.result(status_code, duration)

    def pump(self, pid, stdin_fd, readers, deadline):  # noqa: PLR0912 - one event loop, kept together
        pending = base64.b64decode(self.req.get("stdin") or "")
        writers = [stdin_fd] if pending else []
        if not pending:
            os.close(stdin_fd)
        wait_status = None
        while readers or wait_status is None:
            if wait_status is None:
                wait_status = self.poll_child(pid)
                if wait_status is not None:
                    # The main process exited: what it left behind dies now, so the pipes reach EOF.
                    kill_all()
            if wait_status is not None and not readers:
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.size > self.limit:
                self.timed_out = left <= 0 and self.size <= self.limit
                kill_all()
                wait_status = wait_status if wait_status is not None else -1
                self.drain(readers)
                break
            readable, writable, _ = select.select([*readers, WAKEUP[0], 0], writers, [], min(left, 0.5))
            if 0 in readable:  # the host never writes mid-job: this is EOF, the pool closed or died
                kill_all()
                raise HostGone
            if WAKEUP[0] in readable:  # SIGCHLD arrived: poll the child at the top of the loop
                readable.remove(WAKEUP[0])
                drain_wakeup()
            for fd in writable:
                pending = self.feed(fd, pending)
                if not pending:
                    writers.clear()
            for fd in readable:
                chunk = os.read(fd, READ_CHUNK)
                if chunk:
                    self.keep(fd, readers, chunk)
                else:
                    os.close(fd)
                    del readers[fd]
        for fd in writers:
            os.close(fd)
        return wait_status

    def poll_child(self, pid):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        return status if done else None

    def feed(self, fd, pending):
        try:
            n = os.write(fd, pending[:READ_CHUNK])
        except OSError:  # the job closed its stdin
            n = len(pending)
        rest = pending[n:]
        if not rest:
            os.close(fd)
        return rest

    def drain(self, readers):
        for fd in list(readers):
            os.set_blocking(fd, False)
            try:
                while True:
                    chunk = os.read(fd, READ_CHUNK)
                    if not chunk or self.size > self.limit:
                        break
                    self.keep(fd, readers, chunk)
            except OSError:
                pass
            os.close(fd)
        readers.clear()

    def keep(self, fd, readers, chunk):
        room = self.limit - self.size
        if len(chunk) > room:
            self.truncated = True
        self.out[readers[fd]].append(chunk[: max(room, 0)])
        self.size += len(chunk)

    def result(self, wait_status, duration):
        stderr = b"".join(self.out[2])
        exit_code = None
        killed = False
        if wait_status is not None and wait_status >= 0:
            if os.WIFEXITED(wait_status):
                exit_code = os.WEXITSTATUS(wait_status)
            elif os.WIFSIGNALED(wait_status):
                exit_code = -os.WTERMSIG(wait_status)
                killed = os.WTERMSIG(wait_status) == signal.SIGKILL
        if self.truncated or self.size > self.limit:
            status = "output_limit"
        elif self.timed_out:
            status = "timeout"
        elif exit_code == 0:
            status = "ok"
        elif killed or last_line(stderr).startswith(b"MemoryError"):
            status = "memory"  # SIGKILL we did not send is the cgroup OOM killer
        elif exit_code == -signal.SIGXCPU:
            status = "timeout"
        else:
            status = "error"
        return {
            "status": status,
            "exit_code": exit_code,
            "stdout": base64.b64encode(b"".join(self.out[1])).decode(),
            "stderr": base64.b64encode(stderr).decode(),
            "duration": duration,
            "truncated": self.truncated,
        }


def last_line(data):
    lines = data.strip().splitlines()
    return lines[-1] if lines else b""


WAKEUP = os.pipe()


def drain_wakeup():
    try:
        while os.read(WAKEUP[0], 4096):
            pass
    except BlockingIOError:
        pass


# Imported once here so fork-mode jobs inherit them instead of importing them per job (typing alone is
# ~20 ms). Only the standard library, and nothing that keeps state a job could see from an earlier job.
PRELOAD = (
    "typing", "re", "collections", "math", "itertools", "functools", "heapq", "bisect", "string",
    "fractions", "decimal", "io", "types", "traceback", "random", "statistics", "datetime", "copy",
)  # fmt: skip


def job_stdio():
    """Text streams on fds 0-2 for fork-mode jobs, made before any job and never used here: each job
    process inherits them unused, and its fds 0-2 are its own pipes by then. Made in each job process
    instead, they cost ~55 page faults (~0.1 ms) of its preparation's ~110 (measured)."""
    return (
        open(0, encoding="utf-8", closefd=False),
        open(1, "w", encoding="utf-8", closefd=False),
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False),
    )


def preload():
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)


def main():
    global JOB_STDIO
    preload()
    JOB_STDIO = job_stdio()
    # Jobs inherit this environment, so fork mode needs no per-job reset (the supervisor reads none of it).
    os.environ.clear()
    os.environ.update(JOB_ENV)
    # Everything imported so far is never collected: the forked jobs' garbage collections then skip it,
    # instead of touching (and so copying on write) every page of the supervisor's heap.
    gc.freeze()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for fd in WAKEUP:
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(WAKEUP[1], warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd, not the handler, does the work
    process = ReadyChild()
    while True:
        header = read_exact(0, 4)
        if header is None:
            return
        body = read_exact(0, struct.unpack(">I", header)[0])
        if body is None:
            return
        req = json.loads(body)
        if req.get("ping"):
            send({"pong": True})
            continue
        refusal = keep_program(req)
        if refusal:
            send({"refused": refusal})
            continue
        try:
            result = Job(req, body).run(process)
        except HostGone:
            return
        swept = kill_all()
        result["healthy"] = wipe() and swept
        send(result)
        del req, body, result  # the next job's process has no reference to this job's request or output
        process = ReadyChild()


if __name__ == "__main__":
    main()
