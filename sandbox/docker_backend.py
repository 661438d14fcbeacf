"""Docker backend: a warm pool of locked-down containers, each with a supervisor as PID 1.

Measured design (c) of the sandbox notes: the Docker API is paid once per container; per job the host
sends one frame on the attach socket and the supervisor forks the job. A slot is replaced (asynchronously,
so the pool never drains) on any anomaly (missed deadline, protocol error, unclean post-job state) and
after `max_jobs` jobs. Jobs start as soon as the first container is up; the others join as they come up.
Containers are created with auto-remove and a stdin that closes with our attach connection, so closing
the pool (or this process dying) ends each supervisor and dockerd removes the containers without the
host waiting. Containers carry labels naming their owner process, so leftovers of dead owners are swept
at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from rewardkit.sandbox.api import ExecResult, Job, Sandbox
from rewardkit.sandbox.image import docker_client, ensure_image
from rewardkit.sandbox.protocol import AttachChannel, ProtocolError, job_request, parse_result

logger = logging.getLogger(__name__)

LABEL = "rewardkit.sandbox"
OWNER_LABEL = "rewardkit.sandbox.owner"
WORKER_SOURCE = (Path(__file__).parent / "worker.py").read_text()
# Seconds the host waits beyond the job's own deadline before declaring the supervisor stuck.
BACKSTOP = 10.0


class Slot:
    """One container plus the attach channel to its supervisor."""

    def __init__(self, container_id: str, channel: AttachChannel) -> None:
        self.container_id = container_id
        self.channel = channel
        self.jobs = 0
        self.kept_programs: set[str] = set()  # digests of the trusted programs its supervisor keeps

    def execute(self, job: Job, mode: str) -> tuple[ExecResult, bool]:
        deadline = time.monotonic() + job.limits.timeout + BACKSTOP
        reply = self.channel.request(job_request(job, mode, self.kept_programs), deadline)
        self.jobs += 1
        return parse_result(reply)


class DockerSandbox(Sandbox):
    """Production backend. Thread-safe; up to `pool_size` slots run jobs in parallel.

    Only `warm_slots` containers (default: min(pool_size, CPU cores)) start up front: jobs are CPU-bound,
    so more containers than cores add start-up time (~0.15-0.4 s each) and no throughput. When a job has
    waited `grow_after` seconds for a free slot (jobs that sleep or time out), one more container starts,
    up to `pool_size`.
    """

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
        warm_slots: int | None = None,
        grow_after: float = 0.25,
    ) -> None:
        if mode not in ("fork", "exec"):
            raise ValueError(f"mode must be 'fork' or 'exec', got {mode!r}")
        self.image, self.packages, self.mode = image, tuple(packages), mode
        self.concurrency = max(1, pool_size)
        self.warm_slots = max(1, min(self.concurrency, warm_slots or cpu_cores()))
        self.grow_after = grow_after
        self.memory_mb, self.cpus, self.pids, self.tmpfs_mb = memory_mb, cpus, pids, tmpfs_mb
        self.max_jobs, self.retries = max_jobs, retries
        self.api_timeout, self.acquire_timeout = api_timeout, acquire_timeout
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._ready: queue.Queue[Slot] = queue.Queue()
        self._lock = threading.Lock()
        self._client: Any = None
        self._spawner: ThreadPoolExecutor | None = None
        self._slots: set[Slot] = set()  # every live slot, ready or busy: close() ends them all
        self._size = 0  # slots wanted: started or starting, less those given up on
        self._closed = False
        self.stats = {"started": 0, "recycled": 0, "sandbox_errors": 0}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> DockerSandbox:
        """Start the pool; returns as soon as one slot is ready, the rest join the pool as they come up."""
        with self._lock:
            if self._client is not None:
                return self
            client = docker_client(self.api_timeout)
            self.image = ensure_image(client, self.image, self.packages)
            sweep_leftovers(client)
            self._client = client
            self._closed = False
            spawner = ThreadPoolExecutor(self.concurrency, thread_name_prefix="rewardkit-docker-slot")
            self._spawner = spawner
            self._size = self.warm_slots
            launches = [spawner.submit(self._launch) for _ in range(self.warm_slots)]
        self._await_first_slot(launches)
        return self

    def _await_first_slot(self, launches: list[Future[None]]) -> None:
        """Wait for one slot; if every container fails to start, close and raise the first error."""
        errors: list[BaseException] = []
        for launch in as_completed(launches):
            error = RuntimeError("the sandbox pool was closed") if launch.cancelled() else launch.exception()
            if error is None:
                # Slots that failed to start are retried in the background so the pool reaches its size.
                for other in launches:
                    other.add_done_callback(self._retry_failed_launch)
                return
            errors.append(error)
        self.close(wait=True)
        raise errors[0]

    def _retry_failed_launch(self, launch: Future[None]) -> None:
        if launch.cancelled() or launch.exception() is None:
            return
        logger.warning("starting a sandbox container failed: %s", launch.exception())
        self._submit(self._refill)

    def close(self, wait: bool = False) -> None:
        """Stop every container. `wait=False` returns at once: each supervisor sees EOF on its attach
        stream and exits, and dockerd removes the container (auto-remove); the start-up sweep of
        labelled leftovers remains the safety net. `wait=True` returns when the containers are gone."""
        with self._lock:
            if self._client is None:
                return
            self._closed = True
            client, self._client = self._client, None
            spawner, self._spawner = self._spawner, None
            slots, self._slots = self._slots, set()
        for slot in slots:
            slot.channel.close()
        while not self._ready.empty():
            self._ready.get_nowait()
        if spawner is not None:
            spawner.shutdown(wait=False, cancel_futures=True)
        if wait:
            self._finish_close(spawner, client, remove=True)
        else:
            # Container starts still in flight finish (and are thrown away) on a thread the interpreter
            # waits for at exit, so none is left running unattached.
            threading.Thread(
                target=self._finish_close, args=(spawner, client, False), name="rewardkit-docker-close"
            ).start()

    def _finish_close(self, spawner: ThreadPoolExecutor | None, client: Any, remove: bool) -> None:
        if spawner is not None:
            spawner.shutdown(wait=True)
        if remove:
            remove_containers(client, {OWNER_LABEL: self.owner})
        client.close()

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
        slot = self._acquire()
        if slot is None:
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
            self._release(slot)
        return result

    def _acquire(self) -> Slot | None:
        """A free slot; after waiting `grow_after` seconds, ask for one more container (up to pool_size)."""
        with contextlib.suppress(queue.Empty):
            return self._ready.get(timeout=min(self.grow_after, self.acquire_timeout))
        self._grow()
        try:
            return self._ready.get(timeout=max(0.0, self.acquire_timeout - self.grow_after))
        except queue.Empty:
            return None

    def _grow(self) -> None:
        with self._lock:
            if self._closed or self._size >= self.concurrency:
                return
            self._size += 1
        if not self._submit(self._refill):
            with self._lock:
                self._size -= 1

    # -- slots -------------------------------------------------------------------------------------
    def _replace(self, slot: Slot) -> None:
        """Throw `slot` away and start its successor in the background."""
        self.stats["recycled"] += 1
        self._forget(slot)
        if not self._submit(self._swap, slot):
            self._discard(slot)

    def _submit(self, fn: Any, *args: Any) -> bool:
        """Run `fn` on the spawner; False when the pool is closing."""
        spawner = self._spawner
        if spawner is None or self._closed:
            return False
        try:
            spawner.submit(fn, *args)
        except RuntimeError:  # shut down between the check and the submit
            return False
        return True

    def _swap(self, old: Slot) -> None:
        self._discard(old)
        self._refill()

    def _refill(self) -> None:
        for attempt in range(3):
            if self._closed:
                return
            try:
                self._launch()
                return
            except Exception as error:  # keep trying: a drained pool would stall every caller
                logger.warning("starting a sandbox container failed (attempt %d): %s", attempt + 1, error)
                time.sleep(1 + attempt)
        with self._lock:
            self._size -= 1  # given up: a later wait for a slot may try again

    def _launch(self) -> None:
        """Start one slot and make it available to jobs (or throw it away if the pool closed meanwhile)."""
        slot = self._new_slot()
        with self._lock:
            open_pool = not self._closed
            if open_pool:
                self._slots.add(slot)
        if open_pool:
            self._ready.put(slot)
        else:
            self._discard(slot)

    def _release(self, slot: Slot) -> None:
        """Back to the ready queue, unless the pool was closed (or restarted) while the job ran."""
        with self._lock:
            live = slot in self._slots
            if live:
                self._ready.put(slot)
        if not live:
            self._discard(slot)

    def _forget(self, slot: Slot) -> None:
        with self._lock:
            self._slots.discard(slot)

    def _new_slot(self) -> Slot:
        client = self._client
        if client is None:
            raise RuntimeError("the sandbox pool is closed")
        api = client.api
        container_id = api.create_container_from_config(self._container_config(api))["Id"]
        try:
            api.start(container_id)
            channel = AttachChannel(*attach(client, container_id))
            channel.request({"ping": True}, time.monotonic() + self.api_timeout)
        except Exception:
            _force_remove(api, container_id)
            raise
        self.stats["started"] += 1
        return Slot(container_id, channel)

    def _discard(self, slot: Slot) -> None:
        slot.channel.close()  # the supervisor exits on EOF and dockerd removes the container
        _force_remove(self._client.api if self._client is not None else None, slot.container_id)

    def _container_config(self, api: Any) -> dict[str, Any]:
        """The create-container request: every lockdown flag of the sandbox notes, plus auto-remove."""
        from docker.types import LogConfig, Ulimit

        memory = f"{self.memory_mb}m"
        host_config = api.create_host_config(
            network_mode="none",
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=self.pids,
            nano_cpus=int(self.cpus * 1e9),
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"},
            shm_size="16m",
            # The supervisor needs only these: drop to the job uid, and SIGKILL the job's processes.
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID", "KILL"],
            security_opt=["no-new-privileges"],
            ulimits=[
                Ulimit(name="nofile", soft=256, hard=256),
                Ulimit(name="fsize", soft=16 << 20, hard=16 << 20),
            ],
            log_config=LogConfig(type="none"),
            # dockerd removes the container once the supervisor exits, so closing needs no API call.
            auto_remove=True,
        )
        config: dict[str, Any] = api.create_container_config(
            self.image,
            ["python3", "-I", "-c", WORKER_SOURCE],
            detach=True,
            stdin_open=True,
            tty=False,
            user="0",
            labels={LABEL: "1", OWNER_LABEL: self.owner},
            environment={"PYTHONDONTWRITEBYTECODE": "1"},
            working_dir="/tmp",
            host_config=host_config,
        )
        # When our attach connection ends (close, or this process dies), dockerd closes the
        # supervisor's stdin; it exits on that EOF, even mid-job. The SDK has no argument for it.
        config["StdinOnce"] = True
        return config


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def attach(client: Any, container_id: str) -> tuple[socket.socket, Any]:
    """The raw attach socket, plus the SDK object that must stay referenced for it to stay open."""
    params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    raw = client.api.attach_socket(container_id, params=params)
    return getattr(raw, "_sock", raw), raw  # the SDK hands back a SocketIO on unix sockets


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
        with ThreadPoolExecutor(min(8, len(ids))) as pool:  # removal is ~0.05-0.3 s each
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
