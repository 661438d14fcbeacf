"""Docker backend: a warm pool of locked-down containers, each with a supervisor as PID 1.

Measured design (c) of the sandbox notes: the Docker API is paid once per container; per job the host
sends one frame on the attach socket and the supervisor forks the job. A slot is replaced (asynchronously,
so the pool never drains) on any anomaly (missed deadline, protocol error, unclean post-job state) and
after `max_jobs` jobs. Containers carry labels naming their owner process, so leftovers of dead owners
are swept at start-up.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rewardkit.sandbox.api import ExecResult, Job, Sandbox
from rewardkit.sandbox.image import ensure_image
from rewardkit.sandbox.protocol import AttachChannel, ProtocolError, job_request, parse_result

logger = logging.getLogger(__name__)

LABEL = "rewardkit.sandbox"
OWNER_LABEL = "rewardkit.sandbox.owner"
WORKER_SOURCE = (Path(__file__).parent / "worker.py").read_text()
# Seconds the host waits beyond the job's own deadline before declaring the supervisor stuck.
BACKSTOP = 10.0


class Slot:
    """One container plus the attach channel to its supervisor."""

    def __init__(self, container: Any, channel: AttachChannel) -> None:
        self.container = container
        self.channel = channel
        self.jobs = 0

    def execute(self, job: Job, mode: str) -> tuple[ExecResult, bool]:
        deadline = time.monotonic() + job.limits.timeout + BACKSTOP
        reply = self.channel.request(job_request(job, mode), deadline)
        self.jobs += 1
        return parse_result(reply)


class DockerSandbox(Sandbox):
    """Production backend. Thread-safe; `concurrency` slots run jobs in parallel."""

    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        packages: tuple[str, ...] = (),
        pool_size: int = 2,
        mode: str = "fork",
        memory_mb: int = 1024,
        cpus: float = 1.0,
        pids: int = 128,
        tmpfs_mb: int = 64,
        max_jobs: int = 500,
        retries: int = 1,
        api_timeout: float = 30.0,
        acquire_timeout: float = 120.0,
    ) -> None:
        if mode not in ("fork", "exec"):
            raise ValueError(f"mode must be 'fork' or 'exec', got {mode!r}")
        self.image, self.packages, self.mode = image, tuple(packages), mode
        self.concurrency = max(1, pool_size)
        self.memory_mb, self.cpus, self.pids, self.tmpfs_mb = memory_mb, cpus, pids, tmpfs_mb
        self.max_jobs, self.retries = max_jobs, retries
        self.api_timeout, self.acquire_timeout = api_timeout, acquire_timeout
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._ready: queue.Queue[Slot] = queue.Queue()
        self._lock = threading.Lock()
        self._client: Any = None
        self._spawner: ThreadPoolExecutor | None = None
        self._closed = False
        self.stats = {"started": 0, "recycled": 0, "sandbox_errors": 0}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DockerSandbox:
        with self._lock:
            if self._client is not None:
                return self
            import docker

            client = docker.DockerClient.from_env(timeout=int(self.api_timeout))
            client.ping()
            self.image = ensure_image(client, self.image, self.packages)
            self._client = client
            self._closed = False
            sweep_leftovers(client)
            self._spawner = ThreadPoolExecutor(self.concurrency, thread_name_prefix="rewardkit-docker-slot")
        slots = list(self._spawner.map(lambda _: self._new_slot(), range(self.concurrency)))
        for slot in slots:
            self._ready.put(slot)
        return self

    def close(self) -> None:
        with self._lock:
            if self._client is None:
                return
            self._closed = True
            spawner, self._spawner = self._spawner, None
        if spawner is not None:
            spawner.shutdown(wait=True)
        while not self._ready.empty():
            self._ready.get_nowait().channel.close()
        remove_containers(self._client, {OWNER_LABEL: self.owner})
        self._client.close()
        self._client = None

    # -- jobs --------------------------------------------------------------------------------------
    def run_job(self, job: Job) -> ExecResult:
        self.start()
        result = ExecResult.infrastructure("no attempt was made")
        for _ in range(1 + self.retries):
            result = self._attempt(job)
            if result.status != "sandbox_error":
                return result
            self.stats["sandbox_errors"] += 1
        return result

    def _attempt(self, job: Job) -> ExecResult:
        started = time.monotonic()
        try:
            slot = self._ready.get(timeout=self.acquire_timeout)
        except queue.Empty:
            return ExecResult.infrastructure(f"no sandbox slot became free within {self.acquire_timeout:g}s")
        try:
            result, clean = slot.execute(job, self.mode)
        except ProtocolError as error:
            self._replace(slot)
            return ExecResult.infrastructure(str(error), time.monotonic() - started)
        except Exception as error:
            self._replace(slot)
            return ExecResult.infrastructure(f"{type(error).__name__}: {error}", time.monotonic() - started)
        oom_killed = result.status == "memory" and result.exit_code == -9
        if not clean or oom_killed or slot.jobs >= self.max_jobs:
            self._replace(slot)
        else:
            self._ready.put(slot)
        return result

    # -- slots -------------------------------------------------------------------------------------
    def _replace(self, slot: Slot) -> None:
        """Throw `slot` away and start its successor in the background."""
        self.stats["recycled"] += 1
        spawner = self._spawner
        if spawner is None or self._closed:
            self._discard(slot)
            return
        try:
            spawner.submit(self._swap, slot)
        except RuntimeError:  # closing
            self._discard(slot)

    def _swap(self, old: Slot) -> None:
        self._discard(old)
        for attempt in range(3):
            if self._closed:
                return
            try:
                self._ready.put(self._new_slot())
                return
            except Exception as error:  # keep trying: a drained pool would stall every caller
                logger.warning("starting a sandbox container failed (attempt %d): %s", attempt + 1, error)
                time.sleep(1 + attempt)

    def _new_slot(self) -> Slot:
        container = self._client.containers.run(self.image, **self._container_options())
        try:
            channel = AttachChannel(*attach(self._client, container.id))
            channel.request({"ping": True}, time.monotonic() + self.api_timeout)
        except Exception:
            _force_remove(container)
            raise
        self.stats["started"] += 1
        return Slot(container, channel)

    def _discard(self, slot: Slot) -> None:
        slot.channel.close()
        _force_remove(slot.container)

    def _container_options(self) -> dict[str, Any]:
        from docker.types import LogConfig, Ulimit

        memory = f"{self.memory_mb}m"
        return {
            "command": ["python3", "-I", "-c", WORKER_SOURCE],
            "detach": True,
            "stdin_open": True,
            "tty": False,
            "user": "0",
            "network_mode": "none",
            "mem_limit": memory,
            "memswap_limit": memory,
            "pids_limit": self.pids,
            "nano_cpus": int(self.cpus * 1e9),
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"},
            "shm_size": "16m",
            # The supervisor needs only these: drop to the job uid, and SIGKILL the job's processes.
            "cap_drop": ["ALL"],
            "cap_add": ["SETUID", "SETGID", "KILL"],
            "security_opt": ["no-new-privileges"],
            "ulimits": [
                Ulimit(name="nofile", soft=256, hard=256),
                Ulimit(name="fsize", soft=16 << 20, hard=16 << 20),
            ],
            "log_config": LogConfig(type="none"),
            "labels": {LABEL: "1", OWNER_LABEL: self.owner},
            "environment": {"PYTHONDONTWRITEBYTECODE": "1"},
            "working_dir": "/tmp",
        }


def attach(client: Any, container_id: str) -> tuple[socket.socket, Any]:
    """The raw attach socket, plus the SDK object that must stay referenced for it to stay open."""
    params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    raw = client.api.attach_socket(container_id, params=params)
    return getattr(raw, "_sock", raw), raw  # the SDK hands back a SocketIO on unix sockets


def sweep_leftovers(client: Any) -> int:
    """Remove labelled containers whose owner process on this host is gone. Returns how many."""
    removed = 0
    host = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        owner = container.labels.get(OWNER_LABEL, "")
        owner_host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if owner_host == host and pid.isdigit() and _alive(int(pid)):
            continue
        _force_remove(container)
        removed += 1
    return removed


def remove_containers(client: Any, labels: dict[str, str]) -> None:
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    containers = client.containers.list(all=True, filters=filters)
    with ThreadPoolExecutor(max(1, min(8, len(containers)))) as pool:  # removal is ~0.3 s each
        list(pool.map(_force_remove, containers))


def _force_remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception as error:  # already gone, or the daemon is busy: the start-up sweep retries
        logger.debug("removing container %s failed: %s", getattr(container, "id", "?"), error)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
