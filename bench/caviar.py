"""``python -m bench class``: a class's models trained together (bnviz.training.wide) against the
same models trained one after another by a plain loop, on real Fashion-MNIST, on this machine.

A class of 30: learning rates log-uniform over 0.01 … 1, every other model with BatchNorm, SGD.
Each way trains every model the same number of steps on the same batches (after one warm-up
step), three rounds interleaved, glibc keeping freed memory for both (bnviz.training.allocator);
the table gives the median images per second per model and the ratio of medians, at batches of
64 (a class's) and 256 (the sweep's), for the whole class as one network per architecture and in
chunks of a few models (the CPU's caches hold a chunk's activations, not the whole class's), the
networks side by side on the cores (the default) and, at the default width, one network after
another."""

from __future__ import annotations

import time

import numpy as np

from bench.common import finished, print_table, timings
from bnviz.data import fashion_mnist
from bnviz.training import allocator, wide

MODELS, STEPS = 30, 12


def members(n: int = MODELS) -> list:
    rates = np.exp(np.random.default_rng(0).uniform(np.log(0.01), np.log(1.0), n))
    return [wide.Member(float(r), batch_norm=k % 2 == 0, seed=k) for k, r in enumerate(rates)]


def one_after_another(group, batches, device: str = "cpu") -> float:
    """Seconds for a plain loop over the models, each through every batch."""
    import torch
    from torch import nn

    models = [wide.lone_model(m).to(device).train() for m in group]
    opts = [torch.optim.SGD(model.parameters(), lr=m.lr) for model, m in zip(models, group)]

    def step(xb, yb):
        for model, opt in zip(models, opts):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()

    step(*batches[0])
    finished(device)
    t0 = time.perf_counter()
    for xb, yb in batches[1:]:
        step(xb, yb)
    finished(device)
    return time.perf_counter() - t0


def together(group, batches, width: int | None, threads: int | None = None, device: str = "cpu") -> float:
    net = wide.Ensemble(group, width=width, threads=threads, device=device)
    net.step(*batches[0], 1)
    t0 = time.perf_counter()
    for step, (xb, yb) in enumerate(batches[1:], 2):
        net.step(xb, yb, step)
    finished(device)
    took = time.perf_counter() - t0
    net.close()
    return took


def board_cost(n: int = MODELS, steps: int = 300, repeats: int = 20) -> list[dict]:
    """Server time of one board refresh for a class of ``n`` after ``steps`` steps: the board's
    tables (bnviz.training.class_board) and its three charts' specs with their data, per viewer
    (each viewer's page computes its own today)."""
    from bnviz.training import class_board, class_job, classes
    from bnviz.ui.class_board import charts
    from bnviz.ui.vega import vega_spec

    rng = np.random.default_rng(0)
    entries = [classes.Entry(f"s{k}", f"student {k}", m, 0.0) for k, m in enumerate(members(n))]
    losses = np.abs(rng.normal(1.0, 0.3, (steps, n))).astype(np.float32)
    snap = class_job.ClassSnapshot("running", steps, steps, 1.0, None, losses, rng.uniform(0.5, 0.9, (8, n)),
                                   tuple(range(8)), (None,) * n, "cpu")

    def refresh():
        table = class_board.points(entries, snap)
        class_board.leaderboard(table)
        class_board.bands(table)
        frame, _ = class_board.search(table, *classes.LR_RANGE)
        titles = dict(x_title="α", y_title="acc", model_title="model", nick_title="nick")
        vega_spec(charts.accuracy_chart, {"points": table}, diverged_label="x", pending_label="…", **titles)
        vega_spec(charts.loss_chart, {"loss": class_board.losses(entries, snap, "bench").frame},
                  **{k: v for k, v in titles.items() if k != "x_title"}, x_title="step")
        vega_spec(charts.search_chart, {"search": frame}, x_title="α", who_title="who",
                  labels={"class": "class", "uniform": "uniform"}, lo=classes.LR_RANGE[0], hi=classes.LR_RANGE[1])

    took = timings(refresh, repeats)
    return [{"class": n, "steps so far": steps, "board refresh, server ms p50": f"{1000 * np.median(took):.1f}",
             "p95": f"{1000 * np.quantile(took, 0.95):.1f}"}]


def run(rounds: int = 3) -> None:
    import torch

    allocator.keep_freed_memory()  # for both ways, as for any training of the app's
    ds = fashion_mnist.load_fashion_mnist()
    group = members()
    rows = []
    for batch in (64, 256):
        x = torch.from_numpy(np.ascontiguousarray(ds.x_train[:(STEPS + 1) * batch])).unsqueeze(1).float() / 255
        y = torch.from_numpy(np.ascontiguousarray(ds.y_train[:(STEPS + 1) * batch])).long()
        batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(STEPS + 1)]
        ways = {f"{MODELS} one after another": lambda batches=batches: one_after_another(group, batches)}
        for width in sorted({MODELS, 8, 3, 2, wide.cpu_width(batch)}, reverse=True):
            name = ("together, one network per architecture" if width >= MODELS
                    else f"together, {width} models a network")
            if width == wide.cpu_width(batch):
                ways[name + ", one network after another"] = \
                    lambda width=width, batches=batches: together(group, batches, width, threads=1)
                name += " (the default)"
            ways[name] = lambda width=width, batches=batches: together(group, batches, width)
        took = {name: [] for name in ways}
        for _ in range(rounds):  # interleaved: a slow spell of the machine falls on every way alike
            for name, way in ways.items():
                took[name].append(way())
        alone = float(np.median(took[f"{MODELS} one after another"]))
        for name, seconds in took.items():
            median = float(np.median(seconds))
            rows.append({"batch": batch, "way": name, "images/s per model": f"{STEPS * batch / median:,.0f}",
                         "vs one after another": f"{alone / median:.2f}",
                         "spread of the rounds": f"{min(seconds) / median:.2f}–{max(seconds) / median:.2f}"})
    print_table(f"A class of {MODELS} models: trained together vs one after another, {STEPS} steps, "
                f"median of {rounds} interleaved rounds, {torch.get_num_threads()} threads, this CPU", rows)
    print_table("The class board: one viewer's refresh on the server (tables and chart specs, not Streamlit's "
                "sending)", board_cost(MODELS, 300) + board_cost(60, 1000))
