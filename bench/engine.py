"""``python -m bench engine``: trainings in this process against trainings on a Ray cluster on this
machine (harness/ray_cluster.py: a head and one worker node with one CPU), one run.

- Training speed: the BatchNorm page's run (LeNet and LeNet-BN, d2l recipe, 12,000 real
  Fashion-MNIST images, batch 64) in a thread here, one torch thread, against the same run in a
  run's actor on the worker node (Ray gives a one-CPU actor one torch thread); images per second of
  training time, three rounds interleaved, medians; while it trains, its snapshot is read once a
  second, as by the owner's page.
- Start to first step: from the press (a new run: for Ray, its actor created and placed) to the
  first step shown by a snapshot.
- A watcher's refresh: a wire tab (harness/wire.py) watching an owner's run at 1 s for 20 s, on
  the same server (in-process) or on the other of two replicas (Ray); seconds from the refresh's
  request to its end, p50 and p95.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.common import print_table
from bnviz.training import Job, TrainConfig

CONFIG = TrainConfig(epochs=1, train_limit=12_000, test_limit=1_000, batch_size=64, hist_every=10)
ROUNDS, WATCH_S = 3, 20.0
PAGE_S = 1.0  # while it trains, each way's snapshot is read once a second, as the owner's page does
RUN = "batchnorm?bn_subset=12000&bn_epochs=50&bn_batch=64"


def _until(ok, every: float = 0.01, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while not (value := ok()):
        if time.monotonic() > deadline:
            raise TimeoutError("bench engine: waited too long")
        time.sleep(every)
    return value


def here() -> tuple[float, float]:
    """(images/s, seconds from Start to the first step) of one run in this process."""
    job = Job(CONFIG)
    began = time.perf_counter()
    job.start()
    _until(lambda: job.steps_done >= 1)
    first = time.perf_counter() - began
    snap = _until(lambda: (s := job.snapshot()).state == "finished" and not s.measuring and s, every=PAGE_S)
    return snap.images_per_s, first


def on_ray() -> tuple[float, float]:
    """The same on the cluster: a new run's actor, placed, then trained."""
    from bnviz.cluster import remote

    began = time.perf_counter()
    run = remote.REGISTRY.open(CONFIG, owner="bench")
    run.job.start()
    _until(lambda: (s := run.snapshot()) is not None and s.step >= 1)
    first = time.perf_counter() - began
    snap = _until(lambda: (s := run.snapshot()) is not None and s.state == "finished" and s, every=PAGE_S)
    remote.REGISTRY.drop(run)
    return snap.images_per_s, first


def watcher(owner_port: int, watcher_port: int) -> list[float]:
    """Refresh times of a watcher on ``watcher_port`` of an owner's run started on ``owner_port``."""
    from bnviz.ui.strings import STRINGS
    from harness.wire import Wire

    start, code = STRINGS["en"]["bn_start"], None
    wire = Wire()
    try:
        owner = wire.open(owner_port, RUN)
        wire.wait(lambda: start in owner.buttons, 120, "the owner's Start")
        wire.press(owner, start)
        wire.wait(lambda: (owner.last_step() or 0) > 0, 120, "the run")
        code = next(m.group(1) for text in list(owner.texts) if (m := _code(text)))
        tab = wire.open(watcher_port, f"batchnorm?watch={code}")
        wire.wait(lambda: len(tab.refreshes) >= 2, 60, "the watcher's refreshes")
        tab.refreshes.clear()
        time.sleep(WATCH_S)
        return list(tab.refreshes)
    finally:
        wire.close()


def _code(text: str):
    import re

    return re.search(r"[?&]watch=([A-Za-z0-9_-]+)", text)


def run() -> None:
    import torch

    from bnviz.cluster import engine
    from harness.browser import Server
    from harness.ray_cluster import LocalCluster

    torch.set_num_threads(1)
    cluster = LocalCluster()
    rows = []
    try:
        os.environ.update(BNVIZ_ENGINE="ray", RAY_ADDRESS=cluster.address)
        engine.reset()
        assert engine.current().kind == "ray", engine.current()
        rates = {"in-process": [], "Ray": []}
        firsts = {"in-process": [], "Ray": []}
        for _ in range(ROUNDS):
            for name, way in (("in-process", here), ("Ray", on_ray)):
                rate, first = way()
                rates[name].append(rate)
                firsts[name].append(first)
        local = Server(env={"BNVIZ_ENGINE": ""})
        try:
            near = watcher(local.port, local.port)
        finally:
            local.stop()
        replicas = [Server(env={"BNVIZ_ENGINE": "ray", "RAY_ADDRESS": cluster.address}) for _ in range(2)]
        try:
            far = watcher(replicas[0].port, replicas[1].port)
        finally:
            for replica in replicas:
                replica.stop()
        for name, refreshes, where in (("in-process", near, "same server"), ("Ray", far, "other replica")):
            rows.append({"engine": name, "images/s (median)": f"{np.median(rates[name]):,.0f}",
                         "ratio to in-process": f"{np.median(rates[name]) / np.median(rates['in-process']):.2f}",
                         "Start → first step (s, median)": f"{np.median(firsts[name]):.2f}",
                         "watcher": where, "refreshes": len(refreshes),
                         "refresh p50 (ms)": f"{np.percentile(refreshes, 50) * 1000:.0f}" if refreshes else "—",
                         "refresh p95 (ms)": f"{np.percentile(refreshes, 95) * 1000:.0f}" if refreshes else "—"})
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    print_table(f"Trainings in this process vs on a local Ray cluster ({ROUNDS} rounds, 12,000 images, "
                f"batch 64; a watcher at 1 s for {WATCH_S:g} s)", rows)
