"""Keep freed heap memory in the process (glibc), so training steps stop page-faulting their tensors in.

Why: glibc hands large freed blocks back to the kernel: blocks above its mmap threshold are unmapped on free,
and the top of the heap is trimmed once more than its trim threshold is free. A training step frees and
reallocates the same activation and gradient buffers every step, so every step faulted them in afresh. On the
benchmark's 21.5M-param model (2 CPU cores) an optimizer step took 37k-62k minor page faults and 0.14-0.45 s
of system time; with the thresholds below, steps after the first few take almost none (docs/trainer.md).

The cost: memory freed during the run stays in the process (its peak is what the run reaches anyway).
Only glibc is changed; other C libraries (musl, macOS) keep their own behaviour.
"""

from __future__ import annotations

import ctypes

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above half its arena heap size (32 MiB on 64-bit). Blocks up to this size
# come from the heap and are reused; larger ones are still mapped and unmapped per use.
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest, i.e. trim only past 2 GiB of free heap top


def retain_freed_memory() -> bool:
    """Set glibc's malloc thresholds for this process; returns False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl has mallopt as a no-op)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
