"""harness/cpu_use.py: the cores of a window split by who used them, with four known burners at
once — a server's training thread and its other thread (a process of our own standing in for the
server), a Chromium page's script, and a thread of this test's own process (counted as "else")."""

import hashlib
import os
import subprocess
import sys
import threading
import time

from harness import cpu_use

BURN_S = 2.0
# A server of our own: one thread named as a training job names its thread, one not; each hashes
# (hashlib lets go of the GIL on large buffers, so both run at once) once the test says go; both
# stay until told to end, so that their counts can be read once they are done.
SERVER = """
import hashlib, sys, threading, time
from bnviz.training.manager import as_training_thread
data, burnt, end = b"x" * (1 << 20), threading.Semaphore(0), threading.Event()
def burn(name):
    if name:
        as_training_thread(name, nicer=False)
    until = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < until:
        hashlib.sha256(data).digest()
    burnt.release()
    end.wait()  # a thread that ended counts in its process's total only: kept until read
print("ready", flush=True)
sys.stdin.readline()
threads = [threading.Thread(target=burn, args=(n,)) for n in ("bnviz-train-7", None)]
for t in threads: t.start()
for t in threads: burnt.acquire()
print("done", flush=True)
sys.stdin.readline()
end.set()
"""
PAGE_BURN = "(ms) => setTimeout(() => { const end = performance.now() + ms; while (performance.now() < end); }, 0)"


def _burn_here(seconds: float) -> None:
    data, end = b"x" * (1 << 20), time.monotonic() + seconds
    while time.monotonic() < end:
        hashlib.sha256(data).digest()


def test_the_cores_of_a_window_are_split_by_who_used_them(browser):
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(BURN_S)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    page = browser.new_page()
    try:
        assert server.stdout.readline().strip() == "ready"
        then = cpu_use.read(server.pid)
        server.stdin.write("go\n")
        server.stdin.flush()
        page.evaluate(PAGE_BURN, BURN_S * 1000)
        here = threading.Thread(target=_burn_here, args=(BURN_S,))
        here.start()
        here.join()
        assert server.stdout.readline().strip() == "done"
        used = cpu_use.cores(then, cpu_use.read(server.pid))
        server.stdin.write("end\n")
        server.stdin.flush()
        server.wait(timeout=30)
    finally:
        page.close()
        server.kill()
    assert list(used) == list(cpu_use.KINDS)
    # Four burners on the machine's cores, each counted as what it is: each gets a share of them
    # (the server's two threads ~0.33 each here, ~0.16 beside three busy processes), and a burner
    # counted as another kind gives its own kind 0.
    for kind in ("trainings", "server", "renderers", "else"):
        assert used[kind] >= 0.05, (kind, used)
    assert 0.8 * os.cpu_count() <= sum(used.values()) <= 1.05 * os.cpu_count(), used
