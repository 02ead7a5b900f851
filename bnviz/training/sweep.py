"""A learning-rate sweep, caviar style: LeNet and LeNet-BN at K learning rates, all 2K models
trained at once in one batched computation (``torch.func``), each keeping its own weights and
its own BatchNorm running statistics.

Every model starts from the same weights (one seed; the BN model shares every layer the plain one
has) and sees the same mini-batches in the same order, so the models differ only in α and in
BatchNorm. Plain SGD, the update each model takes on its own:

    θ_k ← θ_k − α_k ∇_θ L(θ_k; batch)

:func:`vmap` over the stacked parameters computes the K gradients in one pass; a model whose loss
stops being finite (or exceeds :data:`DIVERGED_LOSS`) is marked diverged at that step and frozen.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from bnviz.batchnorm import models
from bnviz.training.sweep_rates import log_grid

DIVERGED_LOSS = 1e3  # far above ln 10 ≈ 2.3, the loss of a uniform guess over 10 classes
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


@dataclass
class Family:
    """K copies of one architecture, stacked: ``params`` and ``buffers`` have a leading axis K."""

    name: str
    base: object  # the module on the meta device, called functionally
    params: dict
    buffers: dict
    lrs: object  # (K,) tensor
    diverged_at: list = field(default_factory=list)  # per model: step or None


def family(name: str, config: SweepConfig):
    """K identical copies of ``name`` ("lenet" or "lenet_bn") initialised with the config's seed."""
    import torch
    from torch.func import stack_module_state

    def one():
        m = models.lenet(name == "lenet_bn", activation=config.activation)
        models.init_weights(m, config.seed)
        return m.to(config.device).train()

    copies = [one() for _ in config.lrs]
    params, buffers = stack_module_state(copies)
    base = copy.deepcopy(copies[0]).to("meta")
    lrs = torch.tensor(config.lrs, dtype=torch.float32, device=config.device)
    return Family(name, base, params, buffers, lrs, [None] * len(config.lrs))


def _loss(base, params, buffers, x, y):
    import torch
    from torch.func import functional_call

    return torch.nn.functional.cross_entropy(functional_call(base, (params, buffers), (x,)), y)


def train_step(fam: Family, x, y, step: int):
    """One SGD step of every model of ``fam`` on the batch (x, y); returns the K losses (before
    the step). BatchNorm's running statistics of each model are updated in place, as
    ``nn.BatchNorm`` does in training mode."""
    import torch
    from torch.func import grad_and_value, vmap

    grads, losses = vmap(grad_and_value(lambda p, b, xx, yy: _loss(fam.base, p, b, xx, yy)),
                         in_dims=(0, 0, None, None))(fam.params, fam.buffers, x, y)
    with torch.no_grad():
        bad = ~torch.isfinite(losses) | (losses > DIVERGED_LOSS)
        for k in torch.nonzero(bad).flatten().tolist():
            if fam.diverged_at[k] is None:
                fam.diverged_at[k] = step
        alive = torch.tensor([d is None for d in fam.diverged_at], device=fam.lrs.device)
        rate = torch.where(alive, fam.lrs, torch.zeros_like(fam.lrs))
        for name, p in fam.params.items():
            g = torch.nan_to_num(grads[name], nan=0.0, posinf=0.0, neginf=0.0)
            p.sub_(rate.view(-1, *([1] * (p.dim() - 1))) * g)
    return losses.detach()


def accuracy(fam: Family, x, y, chunk: int = 1000):
    """Each model's test accuracy in eval mode (BatchNorm uses its running statistics)."""
    import torch
    from torch.func import functional_call, vmap

    fam.base.eval()
    try:
        correct = torch.zeros(len(fam.diverged_at), device=fam.lrs.device)
        with torch.no_grad():
            for i in range(0, len(y), chunk):
                xs, ys = x[i:i + chunk], y[i:i + chunk]
                logits = vmap(lambda p, b, xs=xs: functional_call(fam.base, (p, b), (xs,)))(fam.params, fam.buffers)
                correct += (logits.argmax(-1) == ys).sum(-1)
    finally:
        fam.base.train()
    acc = (correct / len(y)).cpu().numpy()
    return [math.nan if d is not None else float(a) for a, d in zip(acc, fam.diverged_at)]


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
    per model: its losses per step, test accuracy per epoch, and where it diverged."""
    import torch

    torch.manual_seed(config.seed)
    (x, y), (xt, yt) = tensors(data, config)
    fams = [family(name, config) for name in models.MODELS]
    losses = {f.name: [] for f in fams}
    acc = {f.name: [] for f in fams}
    for step, idx in enumerate(batches(config, len(y)), 1):
        xb, yb = x[idx], y[idx]
        for f in fams:
            losses[f.name].append(train_step(f, xb, yb, step).cpu().numpy())
        epoch_end = step % config.steps_per_epoch == 0
        if epoch_end:
            for f in fams:
                acc[f.name].append(accuracy(f, xt, yt))
        if progress:
            progress(step, config.total_steps, {f.name: losses[f.name][-1] for f in fams},
                     {f.name: acc[f.name][-1] for f in fams} if epoch_end else None,
                     {f.name: list(f.diverged_at) for f in fams})
        if stop and stop():
            break
    return {f.name: {"losses": np.array(losses[f.name]), "accuracy": np.array(acc[f.name]),
                     "diverged_at": list(f.diverged_at), "lrs": list(config.lrs)} for f in fams}
