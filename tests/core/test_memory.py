"""The server's malloc arenas (bnviz/server/memory.py), in fresh processes: a thread per page run must
not give the server an arena per thread. The load test checks the running server's count."""

import os
import re
import subprocess
import sys
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
