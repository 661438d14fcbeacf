"""A seccomp filter stacked on Docker's default profile: no AF_VSOCK sockets, no io_uring.

Docker's default profile allows both: a vsock socket reaches the host past the container's network
namespace, and io_uring is a large kernel surface that bypasses the per-syscall filter. The supervisor
installs this filter on itself before anything else runs; every process of the container inherits it and
none can remove it. Stacked filters all apply, so the container runs under Docker's default minus these.
Runs in the container; standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_EPERM = 0x00050000 | errno.EPERM
AF_VSOCK = 40
IO_URING = (425, 426, 427)  # io_uring_setup, io_uring_enter, io_uring_register: the same on every arch
X32_SYSCALL_BIT = 0x40000000
# machine -> (AUDIT_ARCH of the native ABI, number of socket()); any other ABI (i386 or arm32 compat
# calls, x32) is refused outright, since its socketcall() hides the address family from a filter.
ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}

# classic BPF
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
RET_K = 0x06
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (ARG0: the low half of args[0], little-endian)


def program(machine: str) -> list[tuple[int, int, int, int]]:
    """The filter for `machine` as (code, jump-if-true, jump-if-false, k) instructions."""
    arch, socket_nr = ARCHES[machine]
    return [
        (LD_W_ABS, 0, 0, ARCH),
        (JEQ_K, 1, 0, arch),
        (RET_K, 0, 0, RET_EPERM),  # a foreign ABI
        (LD_W_ABS, 0, 0, NR),
        (JGE_K, 5, 0, X32_SYSCALL_BIT),  # -> EPERM
        (JEQ_K, 4, 0, IO_URING[0]),
        (JEQ_K, 3, 0, IO_URING[1]),
        (JEQ_K, 2, 0, IO_URING[2]),
        (JEQ_K, 2, 0, socket_nr),  # -> check the family
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, RET_EPERM),
        (LD_W_ABS, 0, 0, ARG0),
        (JEQ_K, 1, 0, AF_VSOCK),
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, RET_EPERM),
    ]


def install() -> None:
    """Install the filter on the calling process (needs no_new_privs, which the container sets).
    Raises OSError when it cannot: the supervisor must not serve jobs without it."""
    machine = platform.machine()
    if machine not in ARCHES:
        raise OSError(f"no seccomp filter for machine {machine!r}; supported: {', '.join(ARCHES)}")
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in program(machine))
    filters = ctypes.create_string_buffer(code)
    fprog = struct.pack("=HxxxxxxQ", len(code) // 8, ctypes.addressof(filters))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_buffer, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot install the seccomp filter: {errno.errorcode.get(error, error)}")
