"""glibc's allocator in a process that trains on a CPU: what a step frees is kept for the next.

A step of a class's wide networks allocates and frees tens of MB of activations. glibc hands a
thread's freed memory back to the system once more than its trim threshold lies free at the top
of a heap (by default twice the largest block freed so far: a few MB), so each step faulted the
same pages in again: 90,000–150,000 page faults in twelve steps of a class of 30 on two threads,
a tenth of the time. :func:`keep_freed_memory` lets blocks of up to 32 MB come from the heaps
and keeps up to 64 MB free at a heap's top: a few dozen faults, the peak memory the same
(``python -m bench class``). A threshold already set in the environment wins. (The server also
hands free pages back every 30 s, :func:`bnviz.server.memory.keep_trimmed`: a step then faults
them in again, once.)
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's largest (half a thread's 64 MB heap)
TRIM_THRESHOLD = 64 << 20
ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Set both thresholds for the whole process (once is enough; again is harmless); False where
    the C library has no ``mallopt`` or the environment sets either."""
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
