"""What a sandbox container is: the create-container request with every lockdown setting.

No network; read-only root; size- and inode-capped tmpfs at /tmp and /dev/shm; memory (swap included), pids
and CPU limits; all capabilities dropped but the three the supervisor needs; no new privileges (which also
lets the supervisor stack its seccomp filter, see seccomp.py); SysV IPC and POSIX message queues disabled
or force-removed; kernel and host details masked; no logs on disk. The command is the supervisor's loader:
its source arrives on stdin. Nothing here needs more than a stock daemon: cgroup v1 or v2, Docker's
default seccomp profile, no user-namespace remapping.
"""

from __future__ import annotations

from typing import Any

from rewardkit.sandbox.options import ContainerOptions
from rewardkit.sandbox.protocol import LOADER

LABEL = "rewardkit.sandbox"
OWNER_LABEL = "rewardkit.sandbox.owner"
TMP_INODES = 8192
SHM_MB, SHM_INODES = 16, 256
# IPC objects outlive the processes that made them; a job must not hand any to the next one.
SYSCTLS = {
    "kernel.shm_rmid_forced": "1",  # SysV shared memory goes when its last process detaches or dies
    "kernel.msgmni": "0",  # no SysV message queues
    "kernel.sem": "0 0 0 0",  # no SysV semaphore sets
    "fs.mqueue.queues_max": "0",  # no POSIX message queues
}
# Docker's defaults (a MaskedPaths list replaces them, so they are repeated here), plus what tells a job
# about the host's kernel: its boot command line, build config, BTF type data, ELF notes and modules.
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    "/proc/cmdline", "/proc/config.gz", "/proc/modules", "/proc/fs", "/sys/kernel", "/sys/module",
]  # fmt: skip


def container_config(
    api: Any, image: str, options: ContainerOptions, labels: dict[str, str]
) -> dict[str, Any]:
    """The create-container request, for the low-level docker SDK client `api`."""
    from docker.types import LogConfig

    memory = f"{options.memory_mb}m"
    tmpfs = "rw,nosuid,nodev,noexec,mode=1777,size={}m,nr_inodes={}"
    host_config = api.create_host_config(
        network_mode="none",
        mem_limit=memory,
        memswap_limit=memory,
        pids_limit=options.pids,
        nano_cpus=int(options.cpus * 1e9),
        read_only=True,
        tmpfs={
            "/tmp": tmpfs.format(options.tmpfs_mb, TMP_INODES),
            "/dev/shm": tmpfs.format(SHM_MB, SHM_INODES),
        },
        sysctls=SYSCTLS,
        # The supervisor needs only these: drop to the job users, and SIGKILL their processes.
        cap_drop=["ALL"],
        cap_add=["SETUID", "SETGID", "KILL"],
        security_opt=["no-new-privileges"],
        log_config=LogConfig(type="none"),
        # dockerd removes the container once the supervisor exits, so closing needs no API call.
        auto_remove=True,
    )
    host_config["MaskedPaths"] = MASKED_PATHS
    config: dict[str, Any] = api.create_container_config(
        image,
        ["python3", "-I", "-c", LOADER],
        detach=True,
        stdin_open=True,
        tty=False,
        user="0",
        labels={LABEL: "1", **labels},
        environment={"PYTHONDONTWRITEBYTECODE": "1"},
        working_dir="/",
        host_config=host_config,
    )
    # When our attach connection ends (close, or this process dies), dockerd closes the supervisor's
    # stdin; it exits on that EOF, even mid-job. The SDK has no argument for it.
    config["StdinOnce"] = True
    return config
