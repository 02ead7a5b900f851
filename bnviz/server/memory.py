"""The server process's memory: how many malloc arenas glibc keeps, and what it gives back.

Streamlit runs every page run in a thread of its own. glibc gives threads that allocate at the
same time arenas of their own (up to 8 per core) and keeps what they free for reuse, so the
server's resident memory grew round after round of a class while Python's objects did not
(``python -m bench load``: 681 → 773 MB after a round of 30 watchers, blocks flat). With
``MALLOC_ARENA_MAX=2`` it stayed flat (652–669 MB over three rounds, 637 MB after the warm-up),
the server's time per refresh unchanged (19–22 ms median). glibc reads the limit once, before
the server's first threads: ``scripts/app.sh`` sets it in the environment (a value there wins).

Within two arenas glibc still keeps the pages a class's page runs free, inside its heaps, until
something asks for them back: resident memory after a round of 30 watchers went 765 → 871 MB
and 798 → 827 MB over two rounds (baseline ~690 MB). The server (``serve.py``) therefore gives
them back every :data:`TRIM_EVERY_S` seconds (:func:`keep_trimmed`; a trim of 200 MB free took
16 ms, one with nothing to give 1 ms): 766 → 759 MB.

Read after a trim over three rounds (:func:`heap`, ``python -m bench load``), resident memory still
went 668 → 679 → 690 → 716 MB: malloc's memory in use 191 → 200 → 203 → 206 MB, what lies free
inside its heaps (not all of it resident) 30 → 45 → 63 → 58 MB, its mapped blocks 49 MB throughout,
Python's blocks flat; in a second soak 656 → 734 MB, in use 191 → 207 MB, free 16 → 92 MB. Some in
use (+10 MB, then +3 MB a round), more freed and kept between live blocks: no leak found yet.
"""

from __future__ import annotations

import ctypes
import tempfile
import threading
import time

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


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap() -> dict:
    """glibc's count of what malloc holds, over every arena (``mallinfo2``, glibc 2.33 and later),
    in MB: ``in_use`` (allocated, in the arenas' heaps), ``free`` (freed there, kept for reuse: a
    trim gives back its whole pages) and ``mmap`` (large blocks mapped on their own, given back
    when freed). Python's own small objects are not in it (its allocator maps its arenas itself)."""
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"in_use": round(info.uordblks / 2**20, 1), "free": round(info.fordblks / 2**20, 1),
            "mmap": round(info.hblkhd / 2**20, 1)}


TRIM_EVERY_S = 30.0


def trim() -> bool:
    """glibc's ``malloc_trim(0)``: the pages lying free in every arena go back to the system (True
    if any did). Without it a server keeps what a class's page runs freed."""
    libc = ctypes.CDLL(None)
    return hasattr(libc, "malloc_trim") and bool(libc.malloc_trim(0))


_trimmer: threading.Thread | None = None
_trimmer_lock = threading.Lock()


def keep_trimmed(every_s: float = TRIM_EVERY_S) -> threading.Thread:
    """A thread that calls :func:`trim` every ``every_s`` seconds, started once per process."""
    global _trimmer
    with _trimmer_lock:
        if _trimmer is None:
            def loop():
                while True:
                    time.sleep(every_s)
                    trim()

            _trimmer = threading.Thread(target=loop, name="bnviz-trim", daemon=True)
            _trimmer.start()
        return _trimmer
