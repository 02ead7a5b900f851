"""``python -m bench feed``: what a watcher's poll costs the server, table by table, on the
BatchNorm page's run as the load test trains it (6,000 real Fashion-MNIST images, batches of 64,
a capture every 5 steps), one thread.

A watcher polls every few seconds; between two polls here the run trains 25 steps (5 captures)
and stops, so nothing else runs while a poll is timed. A poll of a table is what
:meth:`bnviz.server.live_feed.Feeds.answer` does for it: build the table from the snapshot
(:mod:`bnviz.training.live_tables`), take the rows the viewer lacks (the histogram grid and γ/β
tailed, as while the scrubber follows the newest capture) and write them as JSON. Figures at
about 100 and 400 captures (the history grows to 500 before it is thinned), median of 5 polls,
and as training steps of the same run (a poll holds the GIL the training's Python parts need)."""

from __future__ import annotations

import time

import numpy as np

from bench.common import print_table
from bnviz.server import feeds, live_feed

POLLS, STEPS_BETWEEN = 5, 25
METRICS = {"train_acc": "train accuracy", "test_acc": "test accuracy"}
SOURCES = {"running": "running", "batch": "batch"}


def _tables() -> dict:
    """name → (make(snap, run), tailed): the tables the BatchNorm page's panels feed."""
    from bnviz.training import live_tables as tables

    return {
        "loss": (tables.loss, False), "epochs": (lambda s, r: tables.epochs(s, r, METRICS), False),
        "histogram grid (pre)": (lambda s, r: tables.histograms(s, r, "pre"), True),
        "Figure 1 percentiles": (lambda s, r: tables.percentiles(s, r, "conv2", "pre"), False),
        "ridges": (lambda s, r: tables.ridges(s, r, "conv2", "pre", 6.0), False),
        "γ / β": (lambda s, r: tables.gamma_beta(s, r, "conv1"), True),
        "running vs batch": (lambda s, r: tables.bn_stats(s, r, "conv1", SOURCES), False),
        "gradient norms": (tables.grads, False), "probes": (tables.probes, False),
    }


def _poll(make, tailed: bool, snap, held):
    """One viewer's poll of one table: seconds, and what the viewer holds after it."""
    t0 = time.perf_counter()
    table = make(snap, "bench")
    sent = feeds.tail(table, held, "capture") if tailed else feeds.delta(table, held)
    live_feed.rows_json(sent.rows)
    return time.perf_counter() - t0, sent.held


def run() -> None:
    import torch

    from bnviz.training import Job, TrainConfig

    torch.set_num_threads(1)
    job = Job(TrainConfig(batch_size=64, epochs=50, hist_every=5, train_limit=6000))
    tables = _tables()
    held = dict.fromkeys(tables)
    figures, step_s = {}, {}
    try:
        for target in (100, 400):
            job.step(target * 5 - POLLS * STEPS_BETWEEN - job.snapshot().step)
            job.wait_parked(600)
            times, steps = {name: [] for name in tables}, []
            for _ in range(POLLS):
                t0 = time.perf_counter()
                job.step(STEPS_BETWEEN)
                job.wait_parked(120)
                steps.append((time.perf_counter() - t0) / STEPS_BETWEEN)
                snap = job.snapshot()
                for name, (make, tailed) in tables.items():
                    seconds, held[name] = _poll(make, tailed, snap, held[name])
                    times[name].append(seconds)
            figures[len(snap.captures)] = {name: float(np.median(t)) for name, t in times.items()}
            step_s[len(snap.captures)] = float(np.median(steps))
    finally:
        job.stop()
    (few, few_step), (many, many_step) = sorted(step_s.items())
    rows = [{"table": name, f"ms a poll at {few} captures": f"{1e3 * figures[few][name]:.2f}",
             f"ms a poll at {many} captures": f"{1e3 * figures[many][name]:.2f}",
             f"training steps at {many}": f"{figures[many][name] / many_step:.2f}"} for name in tables]
    rows.append({"table": f"one training step (both models): {1e3 * few_step:.1f} / {1e3 * many_step:.1f} ms"})
    print_table("A watcher's poll on the server, table by table (median of 5 polls, one thread)", rows)
