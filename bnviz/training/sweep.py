"""A learning-rate sweep, caviar style: LeNet and LeNet-BN at K learning rates, all 2K models
trained at once as wide networks (:mod:`bnviz.training.wide`: grouped convolutions, batched
products), each keeping its own weights and its own BatchNorm running statistics.

Every model starts from the same weights (one seed; the BN model shares every layer the plain one
has) and sees the same mini-batches in the same order, so the models differ only in α and in
BatchNorm. Plain SGD, the update each model takes on its own:

    θ_k ← θ_k − α_k ∇_θ L(θ_k; batch)

A model whose loss stops being finite (or exceeds :data:`DIVERGED_LOSS`) is marked diverged at
that step and frozen there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnviz.batchnorm import models
from bnviz.training import wide
from bnviz.training.sweep_rates import log_grid

DIVERGED_LOSS = wide.DIVERGED_LOSS
LEARNING_RATES = log_grid(0.01, 100.0, 9)  # 0.01 … 100, the default


@dataclass(frozen=True)
class SweepConfig:
    lrs: tuple = LEARNING_RATES
    activation: str = "relu"  # with sigmoid, plain LeNet stays at chance in so short a run
    epochs: int = 2
    train_limit: int = 12_000
    test_limit: int = 5_000
    batch_size: int = 256
    seed: int = 0
    device: str = "cpu"

    @property
    def steps_per_epoch(self) -> int:
        return self.train_limit // self.batch_size  # full batches only: every step the same size

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def members(config: SweepConfig) -> list:
    """The 2K models: LeNet at each rate, then LeNet-BN at each rate, plain SGD, one seed."""
    return [wide.Member(lr, batch_norm=name == "lenet_bn", optimizer="sgd", seed=config.seed)
            for name in models.MODELS for lr in config.lrs]


def ensemble(config: SweepConfig) -> wide.Ensemble:
    return wide.Ensemble(members(config), activation=config.activation, device=config.device,
                         batch_size=config.batch_size)


def batches(config: SweepConfig, n_train: int):
    """The order of the training images: one seeded permutation per epoch, full batches only."""
    rng = np.random.default_rng(config.seed)
    for _ in range(config.epochs):
        order = rng.permutation(n_train)
        for i in range(config.steps_per_epoch):
            yield order[i * config.batch_size:(i + 1) * config.batch_size]


def tensors(data, config: SweepConfig):
    """The training subset and the test subset as float tensors in [0, 1] on the config's device."""
    import torch

    from bnviz.batchnorm.evaluation import as_input

    def take(x, y, n):
        n = min(n, len(y)) if n else len(y)
        return (as_input(torch.from_numpy(np.ascontiguousarray(x[:n]))).to(config.device),
                torch.from_numpy(np.ascontiguousarray(y[:n])).to(config.device))

    return take(data.x_train, data.y_train, config.train_limit), take(data.x_test, data.y_test, config.test_limit)


def run(data, config: SweepConfig, progress=None, stop=None) -> dict:
    """Train both families through the whole sweep. ``progress(step, total, losses, accuracy,
    diverged)`` is called after every step (per model: the K losses, the K test accuracies at the
    end of an epoch or None, where each diverged); ``stop()`` returning True ends early. Returns
    per model: its losses per step (NaN after it diverged), test accuracy per epoch, and where it
    diverged."""
    import torch

    torch.manual_seed(config.seed)
    (x, y), (xt, yt) = tensors(data, config)
    net = ensemble(config)
    k = len(config.lrs)

    def per_model(values) -> dict:  # the 2K values, LeNet's K first
        return {name: list(values[i * k:(i + 1) * k]) for i, name in enumerate(models.MODELS)}

    losses = {name: [] for name in models.MODELS}
    acc = {name: [] for name in models.MODELS}
    for step, idx in enumerate(batches(config, len(y)), 1):
        for name, values in per_model(net.step(x[idx], y[idx], step)).items():
            losses[name].append(np.array(values, dtype=np.float32))
        epoch_end = step % config.steps_per_epoch == 0
        if epoch_end:
            for name, values in per_model(net.accuracy(xt, yt)).items():
                acc[name].append(values)
        if progress:
            progress(step, config.total_steps, {name: losses[name][-1] for name in models.MODELS},
                     {name: acc[name][-1] for name in models.MODELS} if epoch_end else None,
                     per_model(net.diverged_at))
        if stop and stop():
            break
    diverged = per_model(net.diverged_at)
    return {name: {"losses": np.array(losses[name]), "accuracy": np.array(acc[name]),
                   "diverged_at": diverged[name], "lrs": list(config.lrs)} for name in models.MODELS}
