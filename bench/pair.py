"""``python -m bench pair``: two trainings at once on this machine, as a server runs them (two
threads of one process, one torch thread each) against each in a process of its own.

Threads of one process share Python's GIL: a training step of the BatchNorm page's small models
(LeNet and LeNet-BN, batch 64) is hundreds of short torch calls, each taking the GIL back after
its computation, so two trainings wait on each other, and a core can sit idle while both are
busy. Each way: the two runs' images per second and the machine's idle cores over a window after
a warm-up; three rounds, the ways interleaved, medians."""

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


def _way(processes: int) -> dict:
    """Two trainings: in one process (``processes`` 1) or one in each of two."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench.pair", str(2 // processes)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(processes)]
    time.sleep(WARM_S)
    idle0, t0 = machine()[1], time.monotonic()
    time.sleep(WINDOW_S)
    idle1, t1 = machine()[1], time.monotonic()
    paces = [p for child in children for p in json.loads(child.communicate(timeout=120)[0].strip().splitlines()[-1])]
    return {"paces": paces, "idle": (idle1 - idle0) / (t1 - t0)}


def run() -> None:
    found = {1: [], 2: []}
    for _ in range(ROUNDS):
        for processes in (1, 2):
            found[processes].append(_way(processes))
    rows = []
    for processes, name in ((1, "two threads of one process (as the server runs them)"),
                            (2, "each in a process of its own")):
        paces = [sorted(r["paces"]) for r in found[processes]]
        rows.append({"two trainings": name,
                     "images/s of each (median)": " / ".join(f"{statistics.median(p[i] for p in paces):.0f}"
                                                             for i in range(2)),
                     "together": f"{statistics.median(sum(p) for p in paces):.0f}",
                     "idle cores (median)": f"{statistics.median(r['idle'] for r in found[processes]):.2f}"})
    base = statistics.median(sum(r["paces"]) for r in found[1])
    rows[1]["together"] += f" ({statistics.median(sum(r['paces']) for r in found[2]) / base:.2f}×)"
    print_table(f"Two trainings at once on {os.cpu_count()} cores: {ROUNDS} rounds interleaved, "
                f"{WINDOW_S:.0f} s each after {WARM_S:.0f} s", rows)


if __name__ == "__main__":
    _child(int(sys.argv[1]))
