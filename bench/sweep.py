"""``python -m bench sweep``: the default learning-rate sweep (LeNet and LeNet-BN at 9 rates, 2 epochs
on 12,000 real Fashion-MNIST images, test on 5,000), batched vs one model after another, and the
table of test accuracies for ReLU and sigmoid."""

from __future__ import annotations

import math
import time

import numpy as np

from bench.common import print_table
from bnviz.batchnorm import models
from bnviz.data import fashion_mnist
from bnviz.training import sweep


def one_after_another(fashion, config: sweep.SweepConfig) -> float:
    """Seconds for the same 2K models trained by a plain loop, one model at a time."""
    import torch
    from torch import nn

    (x, y), (xt, yt) = sweep.tensors(fashion, config)
    t0 = time.perf_counter()
    for name in models.MODELS:
        for lr in config.lrs:
            model = models.lenet(name == "lenet_bn", activation=config.activation)
            models.init_weights(model, config.seed)
            model = model.to(config.device)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            for idx in sweep.batches(config, len(y)):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                if not math.isfinite(loss.item()) or loss.item() > sweep.DIVERGED_LOSS:
                    break
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                (model(xt).argmax(-1) == yt).float().mean()
    return time.perf_counter() - t0


def run() -> None:
    fashion = fashion_mnist.load_fashion_mnist()
    rows, timing = [], []
    for activation in ("relu", "sigmoid"):
        config = sweep.SweepConfig(activation=activation)
        t0 = time.perf_counter()
        result = sweep.run(fashion, config)
        t_batched = time.perf_counter() - t0
        if activation == "relu":
            t_alone = one_after_another(fashion, config)
            timing.append({"measure": f"default sweep, {2 * len(config.lrs)} models × {config.total_steps} steps",
                           "batched s": f"{t_batched:.1f}", "one after another s": f"{t_alone:.1f}",
                           "ratio": f"{t_batched / t_alone:.2f}"})
        for k, lr in enumerate(config.lrs):
            cells = []
            for name in models.MODELS:
                acc = result[name]["accuracy"][-1][k]
                cells.append("diverged" if np.isnan(acc) else f"{acc:.3f}")
            rows.append({"activation": activation, "lr": f"{lr:.3g}", "LeNet": cells[0], "LeNet-BN": cells[1]})
    print_table("LR sweep: batched (bnviz.training.wide) vs one after another, this CPU", timing)
    print_table("LR sweep: test accuracy after 2 epochs (12,000 images; test 5,000)", rows)
