"""Docker pool behaviour: network isolation from the host, recovery from container death, concurrency,
recycling and clean shutdown."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from rewardkit.sandbox import Job, Limits
from rewardkit.sandbox.docker_backend import LABEL, OWNER_LABEL, DockerSandbox
from rewardkit.sandbox.protocol import KEPT_PROGRAMS_MAX, AttachChannel, program_digest
from rewardkit.sandbox.testing import CLEAN_PROBE, PROBE, require_docker

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def docker_client():
    require_docker()
    import docker

    client = docker.from_env()
    yield client
    client.close()


def owned(client, sandbox: DockerSandbox) -> list:
    return client.containers.list(all=True, sparse=True, filters={"label": f"{OWNER_LABEL}={sandbox.owner}"})


def test_host_loopback_listener_gets_no_connections(docker_client) -> None:
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    hits: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                hits.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        "import socket\nfor host in ['127.0.0.1', '172.17.0.1', 'host.docker.internal', '10.0.0.1']:\n"
        f"    try: socket.create_connection((host, {port}), timeout=1); print(host, 'CONNECTED')\n"
        "    except OSError as e: print(host, type(e).__name__)"
    )
    with DockerSandbox(pool_size=1) as sandbox:
        result = sandbox.run(code, timeout=8)
    stop.set()
    thread.join(2)
    listener.close()
    assert result.status == "ok" and b"CONNECTED" not in result.stdout
    assert hits == []


def test_killing_the_container_mid_job_is_sandbox_error_and_slot_is_recycled(docker_client) -> None:
    with DockerSandbox(pool_size=1, retries=0) as sandbox:
        victim = owned(docker_client, sandbox)[0]
        threading.Timer(0.5, victim.kill).start()
        result = sandbox.run("import time; time.sleep(5)", timeout=8)
        assert result.status == "sandbox_error" and result.error
        assert sandbox.stats["recycled"] == 1
        after = sandbox.run(PROBE)  # served by the replacement container
        assert (after.status, after.stdout) == ("ok", CLEAN_PROBE)
        assert [c.id for c in owned(docker_client, sandbox)] != [victim.id]


def test_sandbox_error_is_retried_on_a_fresh_slot(docker_client) -> None:
    with DockerSandbox(pool_size=1, retries=1) as sandbox:
        victim = owned(docker_client, sandbox)[0]
        threading.Timer(0.5, victim.kill).start()
        result = sandbox.run("import time; time.sleep(1); print('second try')", timeout=8)
        assert (result.status, result.stdout) == ("ok", b"second try\n")
        assert sandbox.stats["sandbox_errors"] == 1


def test_a_trusted_program_travels_once_per_container(docker_client, monkeypatch) -> None:
    sent: list[dict] = []
    request = AttachChannel.request

    def spy(self, payload, deadline):
        sent.append(payload)
        return request(self, payload, deadline)

    monkeypatch.setattr(AttachChannel, "request", spy)
    n = KEPT_PROGRAMS_MAX
    with DockerSandbox(pool_size=1) as sandbox:
        for i in [0, 0, 0, *range(n + 2), n + 1]:
            job = Job(
                f"print({i}, open('x').read())", files={"x": b"f"}, limits=Limits(timeout=5), trusted=True
            )
            result = sandbox.run_job(job)
            assert (result.status, result.stdout) == ("ok", f"{i} f\n".encode())
    programs = [job["program"] for job in sent if "ping" not in job]
    sent_code_and_keep = [("source" in program, program.get("keep", False)) for program in programs]
    assert sent_code_and_keep[:3] == [(True, True), (False, False), (False, False)]
    # The container keeps n programs; beyond that, the code is sent with every job and nothing is kept.
    later = [(False, False)] + [(True, True)] * (n - 1) + [(True, False)] * 3
    assert sent_code_and_keep[3:] == later


def test_a_program_the_supervisor_does_not_keep_is_retried_on_a_fresh_slot(docker_client) -> None:
    job = Job("print('harness')", limits=Limits(timeout=5), trusted=True)
    with DockerSandbox(pool_size=1, retries=1) as sandbox:
        slot = sandbox._pool.acquire()
        slot.kept_programs.add(program_digest(job.code))  # the host believes wrongly that it was sent
        sandbox._pool.release(slot)
        result = sandbox.run_job(job)
        assert (result.status, result.stdout) == ("ok", b"harness\n")
        assert sandbox.stats["sandbox_errors"] == 1 and sandbox.stats["recycled"] == 1


def test_eight_concurrent_jobs_match_serial(docker_client) -> None:
    programs = [
        "print(sum(range(10**6)))",
        "import sys; print(sys.stdin.read().upper())",
        "raise ValueError('boom')",
        "import time; time.sleep(5)",
        "print('x' * 5000)",
        "import os; print(sorted(os.listdir('.')))",
        "x = bytearray(10**9)",
        "import json; print(json.dumps({'a': [1, 2]}))",
    ]
    jobs = [Job(code, stdin=b"abc", limits=Limits(timeout=1.0, memory=256 << 20)) for code in programs]
    with DockerSandbox(pool_size=4) as sandbox:
        serial = [sandbox.run_job(job) for job in jobs]
        concurrent = sandbox.run_batch(jobs, max_concurrency=8)
    key = [(r.status, r.exit_code, r.stdout) for r in serial]
    assert key == [(r.status, r.exit_code, r.stdout) for r in concurrent]
    assert [r.status for r in serial] == ["ok", "ok", "error", "timeout", "ok", "ok", "memory", "ok"]


def eventually(condition, within: float = 15.0) -> bool:
    """Poll `condition` until it holds or `within` seconds pass (dockerd removes containers on its own)."""
    give_up = time.monotonic() + within
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.05)
    return True


def test_pool_start_recycle_close_leaves_no_containers(docker_client) -> None:
    sandbox = DockerSandbox(pool_size=2, warm_slots=2, max_jobs=2).start()
    assert eventually(lambda: len(owned(docker_client, sandbox)) == 2)
    for _ in range(6):
        assert sandbox.run("print(1)").status == "ok"
    assert eventually(lambda: sandbox.stats["started"] >= 4)  # replacements start in the background
    assert sandbox.stats["recycled"] >= 2
    assert eventually(lambda: len(owned(docker_client, sandbox)) == 2)
    sandbox.close(wait=True)
    assert owned(docker_client, sandbox) == []
    assert sandbox.run("print(2)").stdout == b"2\n"  # a closed pool restarts on demand
    sandbox.close(wait=True)
    assert owned(docker_client, sandbox) == []


def test_jobs_start_before_the_whole_pool_is_up(docker_client, monkeypatch) -> None:
    new_slot = DockerSandbox._open_slot
    calls = []

    def slow_after_the_first(self):
        calls.append(1)
        if len(calls) > 1:
            time.sleep(3)
        return new_slot(self)

    monkeypatch.setattr(DockerSandbox, "_open_slot", slow_after_the_first)
    started = time.monotonic()
    sandbox = DockerSandbox(pool_size=3, warm_slots=3).start()
    try:
        assert sandbox.run("print('early')").stdout == b"early\n"
        assert time.monotonic() - started < 2.5
        assert sandbox.stats["started"] == 1
        assert eventually(lambda: sandbox.stats["started"] == 3)
    finally:
        sandbox.close(wait=True)
    assert owned(docker_client, sandbox) == []


def test_pool_starts_warm_slots_and_grows_only_when_jobs_wait(docker_client) -> None:
    sandbox = DockerSandbox(pool_size=3, warm_slots=1, grow_after=1.0).start()
    try:
        quick = [Job(f"print({i})", limits=Limits(timeout=5)) for i in range(12)]
        assert [r.stdout for r in sandbox.run_batch(quick, max_concurrency=3)] == [
            b"%d\n" % i for i in range(12)
        ]
        assert sandbox.stats["started"] == 1  # short jobs never wait a second for the one slot
        sleepy = [Job("import time; time.sleep(2.5)", limits=Limits(timeout=5))] * 3
        started = time.monotonic()
        assert {r.status for r in sandbox.run_batch(sleepy, max_concurrency=3)} == {"ok"}
        assert time.monotonic() - started < 6.5  # three at once, not one after the other (7.5 s)
        assert sandbox.stats["started"] == 3
    finally:
        sandbox.close(wait=True)


def test_close_without_waiting_returns_at_once_and_dockerd_removes_the_containers(docker_client) -> None:
    sandbox = DockerSandbox(pool_size=2, warm_slots=2).start()
    assert eventually(lambda: len(owned(docker_client, sandbox)) == 2)
    assert sandbox.run("print(1)").status == "ok"
    started = time.monotonic()
    sandbox.close()
    assert time.monotonic() - started < 0.2
    assert eventually(lambda: owned(docker_client, sandbox) == [])


def test_close_ends_a_running_job_and_its_container(docker_client) -> None:
    sandbox = DockerSandbox(pool_size=1, retries=0).start()
    results = []
    worker = threading.Thread(
        target=lambda: results.append(sandbox.run("import time; time.sleep(30)", timeout=60))
    )
    worker.start()
    time.sleep(0.5)
    sandbox.close()
    worker.join(5)
    assert not worker.is_alive() and results[0].status == "sandbox_error"
    assert eventually(lambda: owned(docker_client, sandbox) == [])


def test_containers_go_away_when_the_owner_process_dies(docker_client, tmp_path) -> None:
    # The supervisor's stdin closes with the owner's attach connection, so no sweep is needed.
    script = (
        "import sys\nfrom rewardkit.sandbox.docker_backend import DockerSandbox\n"
        "box = DockerSandbox(pool_size=1).start()\nprint(box.owner, flush=True)\nsys.stdin.read()\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        label = owner.stdout.readline().decode().strip()
        filters = {"label": f"{OWNER_LABEL}={label}"}
        assert len(docker_client.containers.list(all=True, sparse=True, filters=filters)) == 1
    finally:
        owner.kill()
        owner.wait()
    assert eventually(lambda: docker_client.containers.list(all=True, sparse=True, filters=filters) == [])


def test_leftovers_of_dead_owners_are_swept(docker_client) -> None:
    from rewardkit.sandbox.image import image_tag

    orphan = docker_client.containers.create(
        image_tag(), command=["true"], labels={LABEL: "1", OWNER_LABEL: "some-host:999999:0"}
    )
    with DockerSandbox(pool_size=1):
        remaining = docker_client.containers.list(all=True, filters={"id": orphan.id})
    assert remaining == []


def test_missing_image_fails_at_start_with_the_build_command(docker_client) -> None:
    from rewardkit.errors import ConfigError

    with pytest.raises(ConfigError, match="rewardkit sandbox build --package nosuchpkg"):
        DockerSandbox(packages=("nosuchpkg",)).start()
