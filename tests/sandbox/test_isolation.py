"""The Docker sandbox's isolation between jobs and from the host kernel, one test per class of attack, each
followed by a probe job in the same container: nothing of the attack is left, and the container was not
replaced (it did not have to be). Judge/program separation and forged verdicts are tested on the code
environment (tests/plugins/code/test_forgery.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from rewardkit.plugins.code.formats import make_plan
from rewardkit.plugins.code.verdicts import make_job
from rewardkit.sandbox import Limits
from rewardkit.sandbox.docker_backend import DockerSandbox
from rewardkit.sandbox.testing import CLEAN_PROBE, PROBE, open_sandbox

pytestmark = pytest.mark.docker
MB = 1 << 20


@pytest.fixture(scope="module")
def box() -> Iterator[DockerSandbox]:
    sandbox = open_sandbox("docker", pool_size=1)
    assert isinstance(sandbox, DockerSandbox)
    yield sandbox
    sandbox.close()


def probe_same_container(box: DockerSandbox, recycled: int) -> None:
    assert box.stats["recycled"] == recycled, "the container was replaced"
    probe = box.run(PROBE)
    assert (probe.status, probe.stdout) == ("ok", CLEAN_PROBE), probe.stderr


# -- 2: a job reads nothing of an earlier one --------------------------------------------------------
SCAN_MEMORY = """
import ctypes, re
first, second = {first!r}.encode(), {second!r}.encode()  # never one literal: this code must not match
found = 0
for line in open("/proc/self/maps"):
    fields = line.split()
    if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5] not in ("[heap]", "[stack]")):
        continue  # the heap, the stack and anonymous memory: where a forked process's data would be
    start, end = (int(x, 16) for x in fields[0].split("-"))
    data = ctypes.string_at(start, end - start)
    found += sum(data[i + len(first) : i + len(first) + len(second)] == second
                 for i in (m.start() for m in re.finditer(re.escape(first), data)))
print("found", found)
"""


def test_a_job_finds_nothing_of_the_previous_jobs_in_its_memory(box: DockerSandbox) -> None:
    first, second = f"SECRET-{secrets.token_hex(8)}-", secrets.token_hex(8)
    secret = first + second
    recycled = box.stats["recycled"]
    # A judged job whose solution holds the secret (GRPO scores one prompt's rollouts back to back) ...
    plan = make_plan(
        "mbpp", {"test_list": [f"assert f() == {secret!r}"]}, f"def f():\n    return {secret!r}", 5
    )
    judged = box.run_job(make_job(plan, Limits(timeout=10)))
    assert json.loads(judged.verdict.splitlines()[1]) == {"test": 0, "verdict": "pass", "detail": ""}
    # ... and a plain job that had it in its code, files and stdin, and wrote it to /tmp.
    holder = f"s = {secret!r}; open('/tmp/s', 'w').write(s); import sys; print(sys.stdin.read() == s)"
    assert box.run(holder, stdin=secret.encode(), files={"s.txt": secret.encode()}).stdout == b"True\n"
    scan = box.run(SCAN_MEMORY.format(first=first, second=second), timeout=20)
    assert (scan.status, scan.stdout) == ("ok", b"found 0\n"), scan.stderr
    probe_same_container(box, recycled)


# -- 3: no IPC object and no memory carries over; the next job gets all its memory --------------------
IPC_ATTACK = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(0, 300 << 20, 0o1600)
address = libc.shmat(shmid, None, 0)
ctypes.memset(address, 1, 300 << 20)  # resident, charged to the container
print("shm", shmid >= 0)
print("msg", libc.msgget(0, 0o1600) >= 0, "sem", libc.semget(0, 1, 0o1600) >= 0)
print("mqueue", libc.mq_open(b"/q", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0)
try:
    for i in range(100):
        with open(f"/dev/shm/fill{i}", "wb") as fill:
            fill.write(b"x" * (4 << 20))
except OSError as error:
    print("dev/shm full", error.errno == 28)
if os.fork() == 0:  # a daemon holding the segment attached
    os.setsid()
    time.sleep(60)
print("done", flush=True)
"""


def test_ipc_objects_and_memory_do_not_outlive_the_job(box: DockerSandbox) -> None:
    recycled = box.stats["recycled"]
    attack = box.run(IPC_ATTACK, memory=1024 * MB, timeout=20)
    assert attack.stdout == b"shm True\nmsg False sem False\nmqueue False\ndev/shm full True\ndone\n", (
        attack.stderr
    )
    probe_same_container(box, recycled)
    # With the attack's 300 MiB still there, this would not fit in the container's 1 GiB.
    big = box.run(
        "x = bytearray(800 << 20); x[::4096] = b'y' * len(x[::4096]); print('ok')", memory=1200 * MB
    )
    assert (big.status, big.stdout) == ("ok", b"ok\n"), big.stderr
    probe_same_container(box, recycled)


# -- 4: no denial of service turns an outcome into a sandbox error ----------------------------------
DEEP_TREE = """
import os
fd = os.open(".", os.O_RDONLY)
for depth in range(5000):
    try:
        os.mkdir("d" * 100, dir_fd=fd)
    except OSError:
        break
    inner = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = inner
print("deep", depth > 1000)
"""
DIRECTORY_FLOOD = """
import os
made = 0
for i in range(10**6):
    try:
        os.mkdir(f"/tmp/f{i}")
        made += 1
    except OSError:
        break
print("flood stopped", made < 10**6)
"""


@pytest.mark.parametrize(
    ("code", "limits", "status", "stdout"),
    [
        (DEEP_TREE, {}, "ok", b"deep True\n"),
        (DIRECTORY_FLOOD, {}, "ok", b"flood stopped True\n"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", {}, "error", b""),
        ("import time; time.sleep(30)", {"timeout": 1.0}, "timeout", b""),
    ],
    ids=["deep-tree", "directory-flood", "self-sigkill", "unread-stdin"],
)
def test_denial_of_service_is_an_ordinary_outcome_and_the_container_stays(
    box: DockerSandbox, code: str, limits: dict, status: str, stdout: bytes
) -> None:
    recycled = box.stats["recycled"]
    result = box.run(code, stdin=b"x" * (16 * MB), **{"timeout": 20.0, **limits})
    assert (result.status, result.stdout) == (status, stdout), result.stderr[-300:]
    assert result.duration < limits.get("timeout", 20.0) + 1
    probe_same_container(box, recycled)


# -- 5: the kernel surface and what the container tells about the host -------------------------------
KERNEL_SURFACE = """
import ctypes, os, socket
try:
    socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK
    print("vsock open")
except OSError as error:
    print("vsock", error.errno)
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
print("io_uring", libc.syscall(425, 8, params), ctypes.get_errno())
cmdline = open("/proc/1/cmdline", "rb").read()
print("supervisor source on a command line", b"kill_jobs" in cmdline or b"def serve" in cmdline)
for path in ["/proc/cmdline", "/proc/config.gz", "/sys/kernel/btf/vmlinux", "/sys/kernel/notes"]:
    try:
        print(path, len(open(path, "rb").read()))
    except OSError as error:
        print(path, type(error).__name__)
"""


def test_the_kernel_surface_is_narrowed_and_host_details_masked(box: DockerSandbox) -> None:
    recycled = box.stats["recycled"]
    result = box.run(KERNEL_SURFACE)
    assert result.stdout.decode().splitlines() == [
        "vsock 1",  # EPERM
        "io_uring -1 1",
        "supervisor source on a command line False",
        "/proc/cmdline 0",
        "/proc/config.gz 0",
        "/sys/kernel/btf/vmlinux FileNotFoundError",
        "/sys/kernel/notes FileNotFoundError",
    ], result.stderr
    probe_same_container(box, recycled)


REACH_OTHERS = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
PRIVATE = [("mem", "rb"), ("environ", "rb"), ("fd/1", "wb"), ("fd/0", "rb")]
reached = []
for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    for path, mode in [(f"/proc/{pid}/{name}", mode) for name, mode in PRIVATE]:
        try:
            open(path, mode).close()
            reached.append(path)
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
        reached.append(f"kill {pid}")
    except OSError:
        pass
    if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
        reached.append(f"ptrace {pid}")
print(reached, len(os.listdir("/proc")) > 3)
"""


def test_a_job_cannot_reach_the_supervisor_zygote_or_judge(box: DockerSandbox) -> None:
    recycled = box.stats["recycled"]
    result = box.run(REACH_OTHERS)
    assert (result.status, result.stdout) == ("ok", b"[] True\n"), result.stderr
    probe_same_container(box, recycled)
