"""What the supervisor removes after a job and what it checks (host-side, on temporary directories)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rewardkit.sandbox import hygiene


def deep_tree(root: Path, depth: int) -> None:
    """Directories nested `depth` deep, far past PATH_MAX, made one fd at a time."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as leaf:
        leaf.write("x")
    os.close(fd)


def test_the_wipe_empties_deep_locked_and_tricky_trees_without_recursion(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("not the job's")
    deep_tree(root, 400)  # 80 KB of path
    locked = root / "locked" / "inner"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    locked.chmod(0)
    (root / "locked").chmod(0)
    (root / "link").symlink_to(outside)
    (root / ".rk-wipe-0").mkdir()  # the name a moved directory would take
    (root / ".rk-wipe-0" / "x").write_text("x")
    for i in range(500):
        (root / f"flood{i}").mkdir()
    assert hygiene.wipe_root(str(root), time.monotonic() + 30)
    assert os.listdir(root) == []
    assert (outside / "keep.txt").read_text() == "not the job's"


def test_the_wipe_stops_at_its_deadline(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert not hygiene.wipe_root(str(tmp_path), time.monotonic() - 1)
    assert os.listdir(tmp_path) == ["a"]


def test_a_missing_mount_has_nothing_to_wipe(tmp_path: Path) -> None:
    assert hygiene.wipe_root(str(tmp_path / "absent"), time.monotonic() + 1)


@pytest.fixture
def fake_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cgroup and /proc/sysvipc files the checks read, as files under tmp_path."""
    (tmp_path / "memory").mkdir()
    monkeypatch.setattr(hygiene, "CGROUP_V1", f"{tmp_path}/memory/")
    monkeypatch.setattr(hygiene, "CGROUP_V2", f"{tmp_path}/none/")
    tables = [tmp_path / name for name in ("shm", "msg", "sem")]
    for table in tables:
        table.write_text("       key      shmid perms ...\n")
    monkeypatch.setattr(hygiene, "SYSV_IPC", tuple(map(str, tables)))
    (tmp_path / "mqueue").mkdir()
    monkeypatch.setattr(hygiene, "MQUEUE", str(tmp_path / "mqueue"))
    return tmp_path


def test_memory_in_use_counts_anonymous_and_shared_memory_not_page_cache(fake_kernel: Path) -> None:
    stat = "cache 900000000\nrss 1000\nshmem 500\ntotal_rss 3000\ntotal_shmem 700\n"
    (fake_kernel / "memory" / "memory.stat").write_text(stat)
    (fake_kernel / "memory" / "memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    )
    assert (hygiene.memory_in_use(), hygiene.oom_kills()) == (3700, 3)


def test_problems_name_every_leftover(fake_kernel: Path) -> None:
    me = os.getpid()
    held = hygiene._anonymous(me)
    (fake_kernel / "memory" / "memory.stat").write_text(f"rss {held + (1 << 20)}\nshmem 0\n")
    (fake_kernel / "shm").write_text("       key      shmid perms\n         0      32768   600 ...\n")
    (fake_kernel / "mqueue" / "queue").write_text("")
    assert held > 0
    assert hygiene.problems({me}, True, True, True) == [
        f"IPC object left: {fake_kernel}/shm: 32768",
        f"IPC object left: {fake_kernel}/mqueue/queue",
    ]
    (fake_kernel / "memory" / "memory.stat").write_text(f"rss {held}\nshmem {100 << 20}\n")
    found = hygiene.problems({me}, False, False, False)
    assert found[:3] == [
        "job processes survived SIGKILL",
        "the wipe left files or ran out of time",
        "the zygote died",
    ]
    assert found[-1] == "100 MiB of memory held by no process"
