"""Docker backend: a warm pool of locked-down containers (container.py), each with a supervisor as PID 1.

The Docker API is paid once per container; per job the host sends one frame on the attach socket and the
supervisor runs the job in processes forked by its zygote. A container is replaced when anything goes
wrong (missed deadline, protocol error, a job's leftovers the supervisor could not remove) and after
`max_jobs` jobs. Containers are created with auto-remove and a stdin that closes with our attach
connection, so closing the pool (or this process dying) ends each supervisor and dockerd removes the
containers without the host waiting. Containers carry labels naming their owner process, so leftovers of
dead owners are swept at start-up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rewardkit.sandbox.api import ExecResult, Job, Sandbox
from rewardkit.sandbox.container import LABEL, OWNER_LABEL, container_config
from rewardkit.sandbox.image import docker_client, ensure_image
from rewardkit.sandbox.options import DockerOptions, validate_options
from rewardkit.sandbox.pool import WarmPool
from rewardkit.sandbox.protocol import AttachChannel, ProtocolError, job_request, parse_result

logger = logging.getLogger(__name__)

# Seconds the host waits beyond the job's own deadline before declaring the supervisor stuck: the
# supervisor's cleanup after a job (kill, bounded wipe, checks) runs inside this margin.
BACKSTOP = 10.0


class ContainerSlot:
    """One container plus the attach channel to its supervisor."""

    def __init__(self, container_id: str, channel: AttachChannel) -> None:
        self.container_id = container_id
        self.channel = channel
        self.jobs = 0
        self.kept_programs: set[str] = set()  # digests of the trusted programs its supervisor keeps

    def execute(self, job: Job, mode: str) -> tuple[ExecResult, list[str]]:
        deadline = time.monotonic() + job.limits.timeout + BACKSTOP
        reply = self.channel.request(job_request(job, mode, self.kept_programs), deadline)
        self.jobs += 1
        return parse_result(reply)


class DockerSandbox(Sandbox):
    """Production backend (options: DockerOptions). Thread-safe; up to `pool_size` containers run jobs
    in parallel. Only min(pool_size, CPU cores) start up front: jobs are CPU-bound, so more containers
    than cores add start-up time and no throughput; more start when jobs wait (see WarmPool)."""

    name = "docker"

    def __init__(self, options: DockerOptions | None = None, **overrides: Any) -> None:
        given = options.model_dump(exclude_unset=True) if options is not None else {}
        self.options = validate_options(DockerOptions, {**given, **overrides}, "docker sandbox options")
        self.concurrency = self.options.pool_size
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stats = {"started": 0, "recycled": 0, "sandbox_errors": 0}
        self._lock = threading.Lock()
        self._client: Any = None
        self._image = ""
        self._pool: WarmPool[ContainerSlot] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DockerSandbox:
        """Start the pool; returns as soon as one container is ready, the rest join as they come up."""
        with self._lock:
            if self._pool is not None:
                return self
            client = docker_client(self.options.api_timeout)
            self._image = ensure_image(client, self.options.image, self.options.packages)
            sweep_leftovers(client)
            self._client = client
            warm = self.options.warm_slots or cpu_cores()
            pool = WarmPool(self._open_slot, self._discard, self.options, warm, self.stats)
            self._pool = pool
        try:
            pool.start()
        except BaseException:
            self.close(wait=True)
            raise
        return self

    def close(self, wait: bool = False) -> None:
        """Stop every container. `wait=False` returns at once: each supervisor sees EOF on its attach
        stream and exits, and dockerd removes the container (auto-remove); the start-up sweep of
        labelled leftovers remains the safety net. `wait=True` returns when the containers are gone."""
        with self._lock:
            pool, client = self._pool, self._client
            self._pool = self._client = None
        if pool is None:
            return
        for slot in pool.close():
            slot.channel.close()
        if wait:
            self._finish_close(pool, client, remove=True)
        else:
            # Container starts still in flight finish (and are thrown away) on a thread the interpreter
            # waits for at exit, so none is left running unattached.
            args = (pool, client, False)
            threading.Thread(target=self._finish_close, args=args, name="rewardkit-docker-close").start()

    def _finish_close(self, pool: WarmPool[ContainerSlot], client: Any, remove: bool) -> None:
        pool.join()
        if remove:
            remove_containers(client, {OWNER_LABEL: self.owner})
        client.close()

    # -- jobs --------------------------------------------------------------------------------------
    def run_job(self, job: Job) -> ExecResult:
        result = ExecResult.infrastructure("no attempt was made")
        for _ in range(1 + self.options.retries):
            result = self._attempt(job)
            if result.status != "sandbox_error":
                return result
            self.stats["sandbox_errors"] += 1
        return result

    def _attempt(self, job: Job) -> ExecResult:
        self.start()
        pool = self._pool
        started = time.monotonic()
        slot = pool.acquire() if pool is not None else None
        if pool is None or slot is None:
            return ExecResult.infrastructure(
                f"no sandbox slot became free within {self.options.acquire_timeout:g}s"
            )
        try:
            result, problems = slot.execute(job, self.options.mode)
        except Exception as error:
            pool.replace(slot)
            message = str(error) if isinstance(error, ProtocolError) else f"{type(error).__name__}: {error}"
            return ExecResult.infrastructure(message, time.monotonic() - started)
        if problems:
            logger.info("replacing sandbox container %s: %s", slot.container_id[:12], "; ".join(problems))
            pool.replace(slot)
        elif slot.jobs >= self.options.max_jobs:
            pool.replace(slot)
        else:
            pool.release(slot)
        return result

    # -- containers --------------------------------------------------------------------------------
    def _open_slot(self) -> ContainerSlot:
        client = self._client
        if client is None:
            raise RuntimeError("the sandbox pool is closed")
        api = client.api
        config = container_config(api, self._image, self.options, {OWNER_LABEL: self.owner})
        container_id = api.create_container_from_config(config)["Id"]
        try:
            api.start(container_id)
            channel = AttachChannel(*attach(client, container_id))
            channel.boot(time.monotonic() + self.options.api_timeout)
        except Exception:
            _force_remove(api, container_id)
            raise
        return ContainerSlot(container_id, channel)

    def _discard(self, slot: ContainerSlot) -> None:
        slot.channel.close()  # the supervisor exits on EOF and dockerd removes the container
        client = self._client
        _force_remove(client.api if client is not None else None, slot.container_id)


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def attach(client: Any, container_id: str) -> tuple[socket.socket, Any]:
    """A socket of our own on the attach connection (with timeouts, which the SDK's SocketIO lacks), plus
    the SDK's object, closed with it."""
    params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    raw = client.api.attach_socket(container_id, params=params)
    return socket.socket(fileno=os.dup(raw.fileno())), raw


def sweep_leftovers(client: Any) -> int:
    """Remove labelled containers whose owner process on this host is gone. Returns how many."""
    removed = 0
    host = socket.gethostname()
    for container in client.api.containers(all=True, filters={"label": LABEL}):
        owner = (container.get("Labels") or {}).get(OWNER_LABEL, "")
        owner_host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if owner_host == host and pid.isdigit() and _alive(int(pid)):
            continue
        _force_remove(client.api, container["Id"])
        removed += 1
    return removed


def remove_containers(client: Any, labels: dict[str, str], deadline: float = 30.0) -> None:
    """Remove the labelled containers and return once dockerd no longer lists them (or at the deadline)."""
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    give_up = time.monotonic() + deadline
    while True:
        ids = [container["Id"] for container in client.api.containers(all=True, filters=filters)]
        if not ids or time.monotonic() > give_up:
            return
        with ThreadPoolExecutor(min(8, len(ids))) as pool:  # removals are independent API calls
            list(pool.map(lambda container_id: _force_remove(client.api, container_id), ids))
        time.sleep(0.01)  # an auto-remove already in progress answers 409 and finishes on its own


def _force_remove(api: Any, container_id: str) -> None:
    if api is None:
        return  # the pool is closed: the container removes itself once its supervisor sees EOF
    try:
        api.remove_container(container_id, force=True)
    except Exception as error:  # already gone, or the daemon is busy: the start-up sweep retries
        logger.debug("removing container %s failed: %s", container_id, error)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
