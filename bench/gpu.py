"""``python -m bench gpu``: the GPU path, measured and checked on one CUDA device in one run (the
figures of docs/DEPLOY.md's "A GPU"). Without a GPU it runs on the CPU at small sizes: a dry run of
the script, its figures meaningless.

- the BatchNorm page's training (LeNet and LeNet-BN in lockstep, batch 256): images/s per model
  with histograms off and every 10 steps, the GPU's peak memory, and the host waits per step
  (``torch.cuda.set_sync_debug_mode``: every operation that waits for the GPU warns);
- as many such trainings at once as the cap allows (4 per GPU): each one's images/s and their sum;
- one LeNet alone by a plain loop: eager, the whole step as one CUDA graph, ``torch.compile``;
- the learning-rate sweep and a class (``bnviz.training.wide``) against one model after another;
- one step on the GPU against the same step on the CPU from the same weights (float32, TF32
  convolutions allowed as PyTorch's default and not);
- the d2l recipe, 10 epochs.
"""

from __future__ import annotations

import copy
import time
import traceback
import warnings
from collections import Counter

import numpy as np

from bench import bn, caviar
from bench import sweep as sweep_bench
from bench.common import finished, print_table
from bnviz.batchnorm import models
from bnviz.batchnorm.evaluation import as_input
from bnviz.data import fashion_mnist
from bnviz.training import sweep


def _torch():
    import torch

    return torch


def _peak_mb(device: str) -> str:
    torch = _torch()
    if device != "cuda":
        return "—"
    peak = torch.cuda.max_memory_allocated() / 2 ** 20
    torch.cuda.reset_peak_memory_stats()
    return f"{peak:,.0f} MB"


def environment(device: str) -> list[dict]:
    torch = _torch()
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (dry run: small sizes, figures meaningless)"
    return [{"device": name, "torch": torch.__version__, "CUDA": str(torch.version.cuda),
             "cuDNN": str(torch.backends.cudnn.version()), "TF32 in convolutions": str(torch.backends.cudnn.allow_tf32),
             "TF32 in matrix products": str(torch.backends.cuda.matmul.allow_tf32)}]


def host_waits(ds, device: str, steps: int) -> tuple[int, str]:
    """Operations of a lockstep job that waited for the GPU over ``steps`` steps (one epoch, its
    end included), each of which warns under ``set_sync_debug_mode("warn")``, and the lines of
    Python that called them most often."""
    torch = _torch()
    if device != "cuda":
        return 0, ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            bn._timed_run(ds, steps, device=device, hist_every=10, probe_every=0)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    waits = [w for w in caught if "synchroniz" in str(w.message)]
    where = Counter(f"{w.filename.rsplit('/', 2)[-1]}:{w.lineno}" for w in waits)
    return len(waits), ", ".join(f"{line} ×{n}" for line, n in where.most_common(4))


def lockstep(ds, device: str, steps: int, rounds: int = 2) -> list[dict]:
    rows = []
    bn._throughput(ds, 10, device=device)  # warm-up
    _peak_mb(device)
    for label, cfg in (("histograms off", {"hist_every": 10 ** 6, "probe_every": 0}),
                       ("histograms every 10 steps", {"hist_every": 10, "probe_every": 0}),
                       ("histograms every 10 steps + smoothness probe (the page's default)", {})):
        best = max(bn._throughput(ds, steps, device=device, **cfg) for _ in range(rounds))
        rows.append({"BatchNorm page's training, batch 256, both models in lockstep": label,
                     "images/s per model": f"{best:,.0f}", "vs d2l's 55,000": f"{best / 55_000:.1f}×",
                     "GPU peak memory": _peak_mb(device)})
    waits, where = host_waits(ds, device, steps)
    rows.append({"BatchNorm page's training, batch 256, both models in lockstep":
                 f"operations that waited for the GPU in {steps} steps (one epoch, its end included): {where}",
                 "images/s per model": str(waits), "vs d2l's 55,000": "", "GPU peak memory": ""})
    return rows


def together_jobs(ds, device: str, steps: int) -> list[dict]:
    """As many lockstep jobs as the cap lets one server run on ``device`` at once (4 per GPU),
    started together, histograms every 10 steps: each job's images/s per model and their sum."""
    from bnviz.training import Job, JobManager, TrainConfig
    from bnviz.training.manager import default_cap

    n = default_cap(device)
    manager = JobManager()
    config = TrainConfig(epochs=1, train_limit=256 * steps, test_limit=256, test_time_batches=(1,),
                         device=device, hist_every=10, probe_every=0)
    jobs = [Job(config, ds, manager=manager) for _ in range(n)]
    _peak_mb(device)
    t0 = time.perf_counter()
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    wall = time.perf_counter() - t0
    rates = [job.snapshot().images_per_s for job in jobs]
    return [{"jobs at once (the cap)": n, "each, images/s per model": " · ".join(f"{r:,.0f}" for r in rates),
             "together, images/s per model": f"{n * steps * 256 / wall:,.0f}", "GPU peak memory": _peak_mb(device)}]


def _one_model(x_all, y_all, batch_norm: bool, batch: int):
    torch = _torch()
    model = models.lenet(batch_norm)
    models.init_weights(model, 0)  # on the CPU (its generator's), then moved
    model = model.to(x_all.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.9)
    order = torch.randperm(len(y_all), device=x_all.device)
    idx = [order[i:i + batch] for i in range(0, len(y_all) - batch + 1, batch)]
    return model, opt, idx


def _apart(model, x_all, y_all, batches, step) -> float:
    """How far ``step`` (a replayed graph) takes ``model``'s weights from the same steps taken
    eagerly by a copy of it, on the ``batches`` (indices): a replay that read stale inputs or
    skipped the update ends far apart, float32 rounding ~1e-6."""
    torch = _torch()
    from torch.nn import functional

    twin = copy.deepcopy(model)
    opt = torch.optim.SGD(twin.parameters(), lr=0.9)
    for i in batches:
        step(i)
        opt.zero_grad(set_to_none=False)
        functional.cross_entropy(twin(as_input(x_all[i])), y_all[i]).backward()
        opt.step()
    mine = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    eager = torch.cat([p.detach().reshape(-1) for p in twin.parameters()])
    return float((mine - eager).norm() / eager.norm())


def alone(x_all, y_all, batch_norm: bool, way: str, steps: int, batch: int = 256) -> tuple[float, str]:
    """(images/s, note) of one LeNet trained alone by a plain loop (sigmoid, SGD 0.9), ``way`` one
    of "eager", "CUDA graph" (the whole step captured once, replayed with the batch's indices
    copied into its input) and "torch.compile" (the model, mode reduce-overhead)."""
    torch = _torch()
    from torch.nn import functional

    model, opt, idx = _one_model(x_all, y_all, batch_norm, batch)
    net = model
    note = ""

    def step(i):
        opt.zero_grad(set_to_none=False)
        functional.cross_entropy(net(as_input(x_all[i])), y_all[i]).backward()
        opt.step()

    if way == "torch.compile":
        t0 = time.perf_counter()
        net = torch.compile(model, mode="reduce-overhead")
        eager_step = step

        def step(i):  # a new step of the compiled CUDA graphs (else its outputs may be overwritten)
            torch.compiler.cudagraph_mark_step_begin()
            eager_step(i)

        for i in idx[:3]:
            step(i)
        finished(x_all.device)
        note = f"compiled in {time.perf_counter() - t0:.1f} s"
    elif way == "CUDA graph":
        static = idx[0].clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for i in idx[:3]:
                static.copy_(i)
                step(static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step(static)

        def step(i):  # from now on a step is a replay of the captured one
            static.copy_(i)
            graph.replay()

        note = f"after 5 steps {_apart(model, x_all, y_all, idx[3:8], step):.1e} from eager steps (relative)"
    else:
        for i in idx[:3]:
            step(i)
    finished(x_all.device)
    t0 = time.perf_counter()
    for k in range(steps):
        step(idx[k % len(idx)])
    finished(x_all.device)
    return steps * batch / (time.perf_counter() - t0), note


def alone_rows(ds, device: str, steps: int) -> list[dict]:
    torch = _torch()
    x_all = torch.from_numpy(ds.x_train).to(device)
    y_all = torch.from_numpy(ds.y_train).long().to(device)
    ways = ["eager"] + (["CUDA graph", "torch.compile"] if device == "cuda" else [])
    rows = []
    for batch_norm in (False, True):
        for way in ways:
            try:
                rate, note = alone(x_all, y_all, batch_norm, way, steps)
                rows.append({"one LeNet alone, batch 256": f"{'LeNet-BN' if batch_norm else 'LeNet'}, {way}",
                             "images/s": f"{rate:,.0f}", "note": note, "GPU peak memory": _peak_mb(device)})
            except Exception as exc:  # a way that does not run here is reported, the rest goes on
                rows.append({"one LeNet alone, batch 256": f"{'LeNet-BN' if batch_norm else 'LeNet'}, {way}",
                             "images/s": "failed", "note": f"{type(exc).__name__}: {str(exc)[:120]}",
                             "GPU peak memory": ""})
    return rows


def same_step(ds, device: str) -> list[dict]:
    """One SGD step of LeNet-BN (lr 0.9) from the same weights on the same batch, on ``device`` and
    on the CPU: the loss's and the update's relative differences (a wrong step: 1e-2 and more)."""
    torch = _torch()
    from torch.nn import functional

    x = as_input(torch.from_numpy(ds.x_train[:256]))
    y = torch.from_numpy(ds.y_train[:256]).long()
    rows = []
    for tf32 in ((True, False) if device == "cuda" else (False,)):
        if device == "cuda":
            torch.backends.cudnn.allow_tf32 = tf32
        out = {}
        for where in ("cpu", device):
            model = models.lenet(True)
            models.init_weights(model, 0)
            model = model.to(where)
            before = torch.cat([t.detach().double().cpu().reshape(-1) for t in model.state_dict().values()])
            opt = torch.optim.SGD(model.parameters(), lr=0.9)
            loss = functional.cross_entropy(model(x.to(where)), y.to(where))
            loss.backward()
            opt.step()
            after = torch.cat([t.detach().double().cpu().reshape(-1) for t in model.state_dict().values()])
            out[where] = (loss.item(), after - before)
        (l_cpu, d_cpu), (l_dev, d_dev) = out["cpu"], out[device]
        rows.append({"one step on the device vs the CPU (LeNet-BN, float32)": f"TF32 convolutions {tf32}",
                     "loss, relative difference": f"{abs(l_dev - l_cpu) / abs(l_cpu):.1e}",
                     "update, relative difference": f"{float((d_dev - d_cpu).norm() / d_cpu.norm()):.1e}"})
    if device == "cuda":
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default, as the app runs
    return rows


def sweep_rows(fashion, device: str, sizes: dict) -> list[dict]:
    config = sweep.SweepConfig(device=device, **sizes)
    sweep.run(fashion, sweep.SweepConfig(device=device, epochs=1, train_limit=config.batch_size * 3))  # warm-up
    _peak_mb(device)
    t0 = time.perf_counter()
    sweep.run(fashion, config)
    finished(device)
    batched = time.perf_counter() - t0
    peak = _peak_mb(device)
    one_by_one = sweep_bench.one_after_another(fashion, config)
    images = config.total_steps * config.batch_size
    return [{"sweep": f"{2 * len(config.lrs)} models × {config.total_steps} steps, batch {config.batch_size}",
             "batched s": f"{batched:.1f}", "one after another s": f"{one_by_one:.1f}",
             "batched images/s per model": f"{images / batched:,.0f}",
             "speed-up": f"{one_by_one / batched:.1f}×", "GPU peak memory": peak}]


def class_rows(fashion, device: str, sizes: tuple, steps: int) -> list[dict]:
    torch = _torch()
    rows = []
    for batch in (64, 256):
        x = torch.from_numpy(np.ascontiguousarray(fashion.x_train[:(steps + 1) * batch])).unsqueeze(1).float() / 255
        y = torch.from_numpy(np.ascontiguousarray(fashion.y_train[:(steps + 1) * batch])).long()
        x, y = x.to(device), y.to(device)
        batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(steps + 1)]
        for n in sizes:
            group = caviar.members(n)
            _peak_mb(device)
            together = caviar.together(group, batches, None, device=device)
            peak = _peak_mb(device)
            one_by_one = caviar.one_after_another(group, batches, device=device)
            rows.append({"class": f"{n} models, batch {batch}, {steps} steps",
                         "together images/s per model": f"{steps * batch / together:,.0f}",
                         "one after another images/s per model": f"{steps * batch / one_by_one:,.0f}",
                         "speed-up": f"{one_by_one / together:.1f}×", "GPU peak memory": peak})
    return rows


def run() -> None:
    torch = _torch()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device == "cuda"
    fashion = fashion_mnist.load_fashion_mnist()
    sections = [("Where", lambda: environment(device)),
                ("One step on the device against the CPU", lambda: same_step(fashion, device)),
                ("The BatchNorm page's training",
                 lambda: lockstep(fashion, device, 230 if gpu else 6, 2 if gpu else 1)),
                ("Several trainings at once", lambda: together_jobs(fashion, device, 230 if gpu else 6)),
                ("The learning-rate sweep (bnviz.training.wide)",
                 lambda: sweep_rows(fashion, device, {} if gpu else {"epochs": 1, "train_limit": 1024})),
                ("A class: together vs one after another",
                 lambda: class_rows(fashion, device, (30, 120) if gpu else (4,), 60 if gpu else 2)),
                ("d2l recipe, 10 epochs, real Fashion-MNIST", bn.reproduce if gpu else list),
                ("One LeNet alone", lambda: alone_rows(fashion, device, 600 if gpu else 5))]  # last: compiling is long
    for title, rows in sections:
        try:
            print_table(title, rows())
        except Exception:  # a section that fails on a machine is reported; the others still run
            traceback.print_exc()
