"""``python -m bench pair``: two trainings at once on this machine, as a server runs them (two
threads of one process, one torch thread each) against each in a process of its own; each way
alone and beside a stand-in for a class's tabs.

Threads of one process share Python's GIL: a training step of the BatchNorm page's small models
(LeNet and LeNet-BN, batch 64) is hundreds of short torch calls, each taking the GIL back after
its computation, so two trainings wait on each other, and a core can sit idle while both are
busy. Each way: the two runs' images per second and the machine's idle cores over a window after
a warm-up; three rounds, the ways interleaved, medians.

The stand-in: :data:`TABS_CORES` of the machine's cores taken in short bursts by processes at the
default priority, about what a class's 30 settled Chromium tabs, the answers to them and the
kernel's work took beside the trainings in ``bench load`` (renderers 0.13, Chromium's other
processes 0.07, the server 0.04 more, everything else 0.06). The trainings' pace beside it over
their pace alone is what ``bench load`` calls the run's pace watched over unwatched."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from bench.common import print_table
from harness.cpu_use import machine

WARM_S, WINDOW_S, ROUNDS = 10.0, 15.0, 3
TABS_CORES, BURNERS, BURST_S = 0.3, 3, 0.004
_BURN = """import sys, time
busy, rest = float(sys.argv[1]), float(sys.argv[2])
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < busy:
        pass
    time.sleep(rest)
"""


def _child(runs: int) -> None:
    """``runs`` trainings in this process: after the warm-up, each one's images/s over the window (JSON)."""
    from bnviz.training import Job, TrainConfig

    jobs = [Job(TrainConfig(batch_size=64, epochs=50, train_limit=12_000, hist_every=20)) for _ in range(runs)]
    for job in jobs:
        job.start()
    time.sleep(WARM_S)
    before, t0 = [job.snapshot().step for job in jobs], time.monotonic()
    time.sleep(WINDOW_S)
    after, t1 = [job.snapshot().step for job in jobs], time.monotonic()
    print(json.dumps([(b - a) * job.config.batch_size / (t1 - t0) for job, a, b in zip(jobs, before, after)]),
          flush=True)
    for job in jobs:
        job.stop()


def _tabs() -> list[subprocess.Popen]:
    """The stand-in for a class's tabs: :data:`BURNERS` processes, each busy :data:`BURST_S` at a
    time, :data:`TABS_CORES` of the cores in all."""
    rest = BURST_S * BURNERS / TABS_CORES - BURST_S
    return [subprocess.Popen([sys.executable, "-c", _BURN, str(BURST_S), str(rest)]) for _ in range(BURNERS)]


def _way(processes: int, beside_tabs: bool = False) -> dict:
    """Two trainings: in one process (``processes`` 1) or one in each of two; beside the tabs' stand-in or not."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.pair", str(2 // processes)]
    tabs = _tabs() if beside_tabs else []
    try:
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(processes)]
        time.sleep(WARM_S)
        idle0, t0 = machine()[1], time.monotonic()
        time.sleep(WINDOW_S)
        idle1, t1 = machine()[1], time.monotonic()
        paces = [p for child in children
                 for p in json.loads(child.communicate(timeout=120)[0].strip().splitlines()[-1])]
    finally:
        for tab in tabs:
            tab.kill()
            tab.wait()
    return {"paces": paces, "idle": (idle1 - idle0) / (t1 - t0)}


def run() -> None:
    found = {(processes, tabs): [] for processes in (1, 2) for tabs in (False, True)}
    for _ in range(ROUNDS):
        for processes, tabs in found:
            found[processes, tabs].append(_way(processes, tabs))

    def together(key) -> float:
        return statistics.median(sum(r["paces"]) for r in found[key])

    rows = []
    for processes, name in ((1, "two threads of one process (as the server runs them)"),
                            (2, "each in a process of its own")):
        paces = [sorted(r["paces"]) for r in found[processes, False]]
        rows.append({"two trainings": name,
                     "images/s of each (median)": " / ".join(f"{statistics.median(p[i] for p in paces):.0f}"
                                                             for i in range(2)),
                     "together": f"{together((processes, False)):.0f}",
                     "idle cores (median)": f"{statistics.median(r['idle'] for r in found[processes, False]):.2f}",
                     f"together beside {TABS_CORES:g} cores of tabs": f"{together((processes, True)):.0f}",
                     "beside tabs / alone": f"{together((processes, True)) / together((processes, False)):.2f}"})
    rows[1]["together"] += f" ({together((2, False)) / together((1, False)):.2f}×)"
    print_table(f"Two trainings at once on {os.cpu_count()} cores: {ROUNDS} rounds interleaved, "
                f"{WINDOW_S:.0f} s each after {WARM_S:.0f} s", rows)


if __name__ == "__main__":
    _child(int(sys.argv[1]))
