"""The server process's memory: how many malloc arenas glibc keeps.

Streamlit runs every page run in a thread of its own. glibc gives threads that allocate at the
same time arenas of their own (up to 8 per core) and keeps what they free for reuse, so the
server's resident memory grew round after round of a class while Python's objects did not
(``python -m bench load``: 681 → 773 MB after a round of 30 watchers, blocks flat). With
``MALLOC_ARENA_MAX=2`` it stayed flat (652–669 MB over three rounds, 637 MB after the warm-up),
the server's time per refresh unchanged (19–22 ms median). glibc reads the limit once, before
the server's first threads: ``scripts/app.sh`` sets it in the environment (a value there wins).
"""

from __future__ import annotations

import ctypes
import tempfile

ARENAS = 2  # scripts/app.sh's MALLOC_ARENA_MAX


def arenas() -> int:
    """How many arenas glibc has made in this process so far (from ``malloc_info``)."""
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile(mode="r") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        return out.read().count("<heap nr=")
