"""The learning-rate sweep (bnviz.training.sweep): every model trained in the batch equals the same model
trained alone by a plain PyTorch loop, on real Fashion-MNIST — per-step losses, BatchNorm's
running statistics, test accuracy and where it diverged."""

import math
import os
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from bnviz.batchnorm import models
from bnviz.data import fashion_mnist
from bnviz.training import sweep

# Three learning rates, one of which diverges within the 8 steps; real images, batches of 64.
CONFIG = sweep.SweepConfig(lrs=(0.05, 0.5, 200.0), epochs=1, train_limit=512, test_limit=256, batch_size=64)


@pytest.fixture(scope="module")
def fashion():
    return fashion_mnist.load_fashion_mnist()


def alone(name, lr, fashion, config=CONFIG):
    """One model, one plain loop: torch.optim.SGD on the sweep's batches, stopped where it diverges."""
    torch.manual_seed(config.seed)
    (x, y), (xt, yt) = sweep.tensors(fashion, config)
    model = models.lenet(name == "lenet_bn", activation=config.activation)
    models.init_weights(model, config.seed)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses, diverged = [], None
    for step, idx in enumerate(sweep.batches(config, len(y)), 1):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        losses.append(loss.item())
        if diverged is None and (not math.isfinite(loss.item()) or loss.item() > sweep.DIVERGED_LOSS):
            diverged = step
        if diverged is None:
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(-1) == yt).float().mean().item()
    return np.array(losses), acc, diverged, model


@pytest.fixture(scope="module")
def batched(fashion):
    return sweep.run(fashion, CONFIG)


@pytest.mark.parametrize("name", models.MODELS)
@pytest.mark.parametrize("k", range(len(CONFIG.lrs)))
def test_each_batched_model_equals_the_same_model_trained_alone(fashion, batched, name, k):
    result = batched
    losses, acc, diverged, _ = alone(name, CONFIG.lrs[k], fashion)
    got = result[name]
    assert got["diverged_at"][k] == diverged
    n = diverged or len(losses)  # up to the step it diverged, the losses agree
    np.testing.assert_allclose(got["losses"][:n, k], losses[:n], rtol=2e-4)
    if diverged is None:
        assert abs(got["accuracy"][-1][k] - acc) <= 1 / CONFIG.test_limit  # one image at most
    else:
        assert math.isnan(got["accuracy"][-1][k])


def test_the_large_rate_diverges_and_the_others_learn(batched):
    result = batched
    for name in models.MODELS:
        assert result[name]["diverged_at"][2] is not None and result[name]["diverged_at"][:2] == [None, None]
        assert result[name]["losses"][-1, 1] < result[name]["losses"][0, 1]  # α = 0.5 brought the loss down


def test_each_model_keeps_its_own_batchnorm_statistics(fashion):
    """The running mean of each batched LeNet-BN equals its lone twin's, and differs between rates
    (statistics shared between the models would make them equal)."""
    config = CONFIG
    (x, y), _ = sweep.tensors(fashion, config)
    net = sweep.ensemble(config)
    for step, idx in enumerate(sweep.batches(config, len(y)), 1):
        net.step(x[idx], y[idx], step)
    first_bn = len(config.lrs)  # LeNet's K models come first, then LeNet-BN's
    for k in (0, 1):
        twin = alone("lenet_bn", config.lrs[k], fashion)[3]
        mine = net.state_dict(first_bn + k)
        for layer in models.HIDDEN_LAYERS:
            np.testing.assert_allclose(mine[f"{layer}_bn.running_mean"].numpy(),
                                       getattr(twin, f"{layer}_bn").running_mean.numpy(), rtol=1e-3, atol=1e-5)
    a, b = net.state_dict(first_bn)["fc1_bn.running_var"], net.state_dict(first_bn + 1)["fc1_bn.running_var"]
    assert not torch.allclose(a, b, rtol=1e-2)


def test_every_model_starts_from_the_same_weights():
    net = sweep.ensemble(CONFIG)
    first, last = net.state_dict(0), net.state_dict(net.n - 1)  # LeNet at the first rate, LeNet-BN at the last
    for name, w in first.items():
        torch.testing.assert_close(w, last[name], rtol=1e-6, atol=1e-7)  # every layer they share, alike
    assert set(last) - set(first) and all("_bn." in name for name in set(last) - set(first))


def test_the_sweep_job_takes_a_slot_reports_progress_and_stops(fashion):
    from bnviz.training.manager import MANAGER, JobRefused, train_nice
    from bnviz.training.sweep_job import SweepJob

    config = sweep.SweepConfig(lrs=(0.1, 1.0), epochs=2, train_limit=640, test_limit=200, batch_size=64)
    before = MANAGER.cap
    MANAGER.cap = 1
    try:
        job = SweepJob(config, fashion).start()
        with pytest.raises(JobRefused):  # the same cap as the BatchNorm trainings
            SweepJob(config, fashion).start()
        assert job.join(60) and not job.alive
        snap = job.snapshot()
        assert snap.state == "finished" and snap.step == snap.total == 20 and snap.eta is None
        assert snap.losses["lenet_bn"].shape == (20, 2) and snap.accuracy["lenet"].shape == (2, 2)
        assert job not in MANAGER.active()
        stopped = SweepJob(sweep.SweepConfig(lrs=(0.1,), epochs=50, train_limit=640, test_limit=200,
                                             batch_size=64), fashion).start()
        deadline = time.time() + 60
        while stopped.snapshot().step == 0 and time.time() < deadline:
            time.sleep(0.02)
        # It runs as the BatchNorm trainings do: named, and nicer than the server.
        nice = os.getpriority(os.PRIO_PROCESS, stopped._thread.native_id)
        assert nice == min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + train_nice())
        stopped.stop()
        assert stopped.join(60)
        assert stopped.snapshot().state == "stopped" and stopped.snapshot().step < stopped.config.total_steps
    finally:
        MANAGER.cap = before
