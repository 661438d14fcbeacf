"""Sandbox fixtures for plugin authors' tests.

    from rewardkit.sandbox.testing import sandbox_fixture
    docker_sandbox = sandbox_fixture("docker", pool_size=2)   # a module-scoped pytest fixture

    def test_my_grader(docker_sandbox):
        assert docker_sandbox.run("print(1)").stdout == b"1\\n"

Without a Docker daemon (or image) the test is skipped with the reason, unless REWARDKIT_REQUIRE_DOCKER=1,
where it fails instead (CI sets it, so a broken Docker set-up cannot pass silently).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from rewardkit.errors import ConfigError
from rewardkit.sandbox.api import Sandbox

REQUIRE_ENV = "REWARDKIT_REQUIRE_DOCKER"
PROBE = """\
import builtins, os
def uid(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None
def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []
def lines(path):
    try:
        with open(path) as table:
            return table.read().splitlines()[1:]
    except OSError:
        return []
def memory_stat():
    for path in ("/sys/fs/cgroup/memory/memory.stat", "/sys/fs/cgroup/memory.stat"):
        try:
            with open(path) as stat:
                return {key: int(value) for key, value in (line.split() for line in stat)}
        except OSError:
            pass
    return {}
me = os.getpid()
mine = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me) and uid(p) == os.getuid()]
print("procs", len(mine))
print("tmp", listing("/tmp"), listing("."))
print("shm", listing("/dev/shm"), "mqueue", listing("/dev/mqueue"))
print("sysv ipc", sum(len(lines(f"/proc/sysvipc/{kind}")) for kind in ("shm", "msg", "sem")))
stat = memory_stat()
shmem = stat.get("total_shmem", stat.get("shmem", 0))
print("shmem", "ok" if shmem < 4 << 20 else f"{shmem >> 20} MiB")
print("builtins", hasattr(builtins, "POISON"), print is builtins.print)
"""
CLEAN_PROBE = (
    b"procs 0\ntmp ['job'] ['main.py']\nshm [] mqueue []\nsysv ipc 0\nshmem ok\nbuiltins False True\n"
)
"""Run PROBE after a job in the same slot: CLEAN_PROBE is its output when nothing was left behind (no
process of the job's user, no file, no IPC object, no shared memory in use)."""


def docker_unavailable_reason(packages: tuple[str, ...] = ()) -> str | None:
    """None when a Docker daemon answers and the sandbox image exists; else why not."""
    from rewardkit.sandbox.image import build_command, docker_client, image_tag

    try:
        client = docker_client(timeout=10)
    except ConfigError as error:
        return str(error)

    try:
        client.images.get(image_tag(packages))
    except Exception:
        return f"sandbox image {image_tag(packages)} missing; run: {build_command(packages)}"
    finally:
        client.close()
    return None


def bwrap_unavailable_reason() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install -y bubblewrap)"
    probe = subprocess.run(
        ["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def require_backend(name: str) -> None:
    """Skip (or fail under REWARDKIT_REQUIRE_DOCKER=1 for docker) when backend `name` cannot run here."""
    reason = {"docker": docker_unavailable_reason, "bwrap": bwrap_unavailable_reason}.get(
        name, lambda: None
    )()
    if reason is None:
        return
    if name == "docker" and os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but Docker is unusable: {reason}")
    pytest.skip(reason)


def require_docker() -> None:
    require_backend("docker")


def open_sandbox(name: str, **options: Any) -> Sandbox:
    """Create and start backend `name` after require_backend(name)."""
    from rewardkit.sandbox import make_sandbox

    require_backend(name)
    return make_sandbox(name, **options).start()


def sandbox_fixture(name: str = "docker", scope: str = "module", **options: Any) -> Any:
    """A pytest fixture yielding a started Sandbox of backend `name`, closed after its scope."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]
    def _fixture() -> Iterator[Sandbox]:
        sandbox = open_sandbox(name, **options)
        try:
            yield sandbox
        finally:
            sandbox.close()

    return _fixture
