"""What a job leaves behind, and removing it. Runs in the container as the supervisor (PID 1, root).

After every job, every process of the program's user is killed and reaped; the writable places are emptied
by a bounded, non-recursive wipe; and the slot counts as healthy only when no process but the supervisor, the
zygote and the judge is left, no file or IPC object, no memory that none of those holds, and the zygote lives.
The host replaces an unhealthy slot. Standard library only (shipped into the container).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import time
from collections.abc import Iterator

PROGRAM_UID = 65534  # the untrusted program
JUDGE_UID = 65533  # the trusted judge of judged jobs
MQUEUE = "/dev/mqueue"
WORK_ROOTS = ("/tmp", "/dev/shm", MQUEUE)
WIPE_BUDGET = 5.0  # seconds; the inode caps of the tmpfs mounts bound the work, this bounds the time
KILL_ROUNDS = 200
KILL_WAIT = 1.0  # seconds to wait for the program's death in the first round
MEMORY_MARGIN = 16 << 20  # bytes of memory held by no live process that still count as clean
SYSV_IPC = ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem")
CGROUP_V1 = "/sys/fs/cgroup/memory/"
CGROUP_V2 = "/sys/fs/cgroup/"


@contextlib.contextmanager
def as_user(uid: int) -> Iterator[None]:
    """Act as `uid` (real and effective; saved stays root to come back). Signals then reach only that
    user's processes, and files are touched with that user's rights."""
    os.setresuid(uid, uid, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)


def kill_jobs(spares: set[int], statuses: dict[int, int], exit_fd: int | None = None) -> bool:
    """SIGKILL every process of the program user and reap those that are our children (orphans come to
    PID 1; their wait statuses land in `statuses`). True when no process is left but us and `spares` (the
    zygote, which root owns, and the judge: both out of the program user's reach, and of this sweep's).
    `exit_fd`, the program's pidfd, lets the first round wait for its death instead of polling."""
    for _ in range(KILL_ROUNDS):
        with as_user(PROGRAM_UID), contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        if exit_fd is not None:
            select.select([exit_fd], [], [], KILL_WAIT)
            exit_fd = None
        reap(statuses)
        if not other_processes(spares):
            reap(statuses)  # those that turned zombie between the reap and the check above
            return True
        time.sleep(0.001)
    return False


def reap(statuses: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        statuses[pid] = status


def other_processes(spares: set[int]) -> list[int]:
    """Processes but us and `spares`, zombies of the zygote's children aside (the zygote reaps those)."""
    return [
        int(name)
        for name in os.listdir("/proc")
        if name.isdigit() and int(name) != 1 and int(name) not in spares and not _zombie(name)
    ]


def _zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True  # gone meanwhile


def wipe(roots: tuple[str, ...] = WORK_ROOTS, budget: float = WIPE_BUDGET) -> bool:
    """Empty `roots` as the program user (the judge writes no files). False when anything is left or the
    time budget ran out."""
    deadline = time.monotonic() + budget
    with as_user(PROGRAM_UID):
        if not all(wipe_root(root, deadline) for root in roots):
            return False
    return not any(_entries(root) for root in roots)


def wipe_root(root: str, deadline: float) -> bool:
    """Remove what the current user may remove under `root`, with no recursion and one directory open at
    a time: a directory's subdirectories move up into `root` before it is emptied, so no depth of nesting
    costs a stack frame, an fd or a long path. False only when the deadline passed."""
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True  # no such mount here: nothing to wipe
    moved = 0
    try:
        progress = True
        while progress:
            progress = False
            for name in os.listdir(root_fd):
                if time.monotonic() > deadline:
                    return False
                removed, moved = _remove(root_fd, name, moved)
                progress = progress or removed
        return True
    finally:
        os.close(root_fd)


def _remove(root_fd: int, name: str, moved: int) -> tuple[bool, int]:
    """Remove one entry of the root: a file or an empty directory in one call (the common case, and a
    flood of them stays cheap); a directory with content by moving its subdirectories up first."""
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=root_fd)
        return True, moved
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=root_fd)
        return True, moved
    try:
        if not stat.S_ISDIR(os.stat(name, dir_fd=root_fd, follow_symlinks=False).st_mode):
            return False, moved  # a file we may not remove
        os.chmod(name, 0o700, dir_fd=root_fd)  # the job may have locked its own directory
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        try:
            for child in os.listdir(fd):
                if stat.S_ISDIR(os.stat(child, dir_fd=fd, follow_symlinks=False).st_mode):
                    os.chmod(child, 0o700, dir_fd=fd)  # renaming a directory rewrites its ".."
                    os.rename(child, f".rk-wipe-{moved}", src_dir_fd=fd, dst_dir_fd=root_fd)
                    moved += 1
                else:
                    os.unlink(child, dir_fd=fd)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=root_fd)
        return True, moved
    except OSError:
        return False, moved + 1  # a name taken by the job: the next move uses another


def _entries(root: str) -> list[str]:
    try:
        return os.listdir(root)
    except FileNotFoundError:
        return []


def ipc_objects() -> list[str]:
    """SysV shared memory segments, message queues and semaphore sets, and POSIX message queues."""
    found = []
    for path in SYSV_IPC:
        with contextlib.suppress(OSError), open(path) as table:
            found += [f"{path}: {line.split()[1]}" for line in table.readlines()[1:] if line.strip()]
    return found + [f"{MQUEUE}/{name}" for name in _entries(MQUEUE)]


def memory_in_use() -> int | None:
    """Anonymous plus shared (tmpfs, shm) memory of the container's memory cgroup, in bytes. Page cache is
    left out (the kernel reclaims it)."""
    values = _cgroup_values(CGROUP_V1 + "memory.stat") or _cgroup_values(CGROUP_V2 + "memory.stat")
    if not values:
        return None
    anon = values.get("total_rss", values.get("rss", values.get("anon", 0)))
    return anon + values.get("total_shmem", values.get("shmem", 0))


def memory_left(live: set[int]) -> int | None:
    """Memory in use that none of the `live` processes holds: what a job could leave behind (in shared
    memory, or in a process that escaped) to starve the next one. Pages the live processes share with one
    another count once per process here, so this errs on the side of zero."""
    used = memory_in_use()
    return None if used is None else max(0, used - sum(map(_anonymous, live)))


def _anonymous(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) << 10 for line in status if line.startswith("RssAnon:"))
    except (OSError, StopIteration, ValueError):
        return 0


def oom_kills() -> int | None:
    """How many processes the memory cgroup's OOM killer has killed so far (cgroup v1 or v2)."""
    values = _cgroup_values(CGROUP_V1 + "memory.oom_control") or _cgroup_values(CGROUP_V2 + "memory.events")
    return values.get("oom_kill") if values else None


def _cgroup_values(path: str) -> dict[str, int]:
    try:
        with open(path) as lines:
            return {key: int(value) for key, value in (line.split() for line in lines if line.strip())}
    except (OSError, ValueError):
        return {}


def problems(live: set[int], zygote_alive: bool, swept: bool, wiped: bool) -> list[str]:
    """Why the slot is not clean after a job; empty when it is. `live`: the processes meant to outlive a
    job (us, the zygote, the judge)."""
    found = [] if swept else ["job processes survived SIGKILL"]
    found += [] if wiped else ["the wipe left files or ran out of time"]
    found += [] if zygote_alive else ["the zygote died"]
    found += [f"IPC object left: {name}" for name in ipc_objects()]
    left = memory_left(live)
    if left is not None and left > MEMORY_MARGIN:
        found.append(f"{left >> 20} MiB of memory held by no process")
    return found
