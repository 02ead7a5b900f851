"""The server's malloc arenas (bnviz/server/memory.py), in fresh processes: a thread per page run must
not give the server an arena per thread; a trim gives freed pages back; malloc's own count of what it
holds. The load test checks the running server's count."""

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from bnviz.server.memory import ARENAS

ROOT = Path(__file__).resolve().parents[2]
# Eight threads allocating at once outside the GIL (torch's matrix products), then the count (20
# products each already give every thread an arena of its own without the limit: 9 here).
CODE = """
import threading, torch
from bnviz.server import memory
def work():
    for _ in range(20):
        torch.randn(300, 300) @ torch.randn(300, 300)
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print(memory.arenas())
"""


def arenas_after_threads(**env) -> int:
    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    return int(subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, cwd=ROOT, timeout=120,
                              env={**base, "OMP_NUM_THREADS": "1", **env}, check=True).stdout)


def test_the_limit_holds_whatever_the_threads_and_without_it_they_multiply():
    assert arenas_after_threads(MALLOC_ARENA_MAX=str(ARENAS)) == ARENAS
    assert arenas_after_threads() > ARENAS  # what the limit prevents (9 here)


def test_the_app_script_sets_the_limit_and_keeps_one_already_set():
    script = (ROOT / "scripts" / "app.sh").read_text()
    assert re.search(r"^export MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-(\d+)\}$", script, re.M).group(1) == str(ARENAS)
    assert script.index("export MALLOC_ARENA_MAX") < script.index("exec .venv/bin/streamlit run")


# 400 MB in blocks of 100 kB (below glibc's mmap threshold: they come from the heap), all freed but
# the last, which keeps the heap's top in use: the freed pages stay with the process until a trim.
TRIM = """
import ctypes, sys
from bnviz.server import memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
blocks = [libc.malloc(100_000) for _ in range(4_000)]
for b in blocks:
    ctypes.memset(b, 1, 100_000)
for b in blocks[:-1]:
    libc.free(b)
before = rss_mb()
if sys.argv[1] == "trim":
    memory.trim()
print(before, rss_mb())
"""


def rss_around_trim(trim: bool) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", TRIM, "trim" if trim else "keep"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, env={**os.environ, "MALLOC_ARENA_MAX": str(ARENAS)}, check=True)
    before, after = map(float, out.stdout.split())
    return before, after


def test_a_trim_gives_freed_pages_back_and_without_it_they_stay():
    before, after = rss_around_trim(trim=True)
    assert before > 350 and after < before - 300, (before, after)
    before, after = rss_around_trim(trim=False)
    assert before > 350 and after > before - 10, (before, after)  # what the trim prevents


def test_the_server_trims_every_so_often_in_one_thread():
    from bnviz.server import memory

    first = memory.keep_trimmed()
    assert first.is_alive() and first.daemon and memory.keep_trimmed() is first
    assert sum(t.name == "bnviz-trim" for t in threading.enumerate()) == 1


# A block of 64 MB (above glibc's mmap threshold, with nothing free in the heap: mapped on its own),
# then 200 MB in blocks of 100 kB from the heap, all freed but the last; malloc's count after each.
HEAP = """
import ctypes, json
from bnviz.server import memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
seen = [memory.heap()]
big = libc.malloc(64 << 20)
seen.append(memory.heap())
blocks = [libc.malloc(100_000) for _ in range(2_000)]
seen.append(memory.heap())
for b in blocks[:-1]:
    libc.free(b)
seen.append(memory.heap())
print(json.dumps(seen))
"""


def test_the_heap_count_tells_memory_in_use_from_memory_kept_free_and_mapped_blocks():
    out = subprocess.run([sys.executable, "-c", HEAP], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "MALLOC_ARENA_MAX": str(ARENAS)}, check=True)
    start, mapped, allocated, freed = json.loads(out.stdout)
    assert mapped["mmap"] - start["mmap"] >= 63 and abs(mapped["in_use"] - start["in_use"]) < 5, (start, mapped)
    assert allocated["in_use"] - mapped["in_use"] >= 190, (mapped, allocated)
    assert freed["free"] - allocated["free"] >= 190 and freed["in_use"] <= mapped["in_use"] + 5, (allocated, freed)
