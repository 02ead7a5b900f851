r"""LeNet and LeNet-BN trained in lockstep: same initial weights, same batches, one step each.

Like ``torch/optim``: the maths of a step is one function, :func:`train_step`

.. math:: \ell = \mathrm{CE}(f_\theta(x_\mathcal{B}), y_\mathcal{B}),\qquad
          \theta \leftarrow \mathrm{opt}(\theta, \nabla_\theta \ell)

and :class:`Lockstep` is the thin wrapper that owns both models, their optimizers and the seeded
batch order. It is synchronous and has no thread; :class:`bnviz.jobs.Job` runs it in one.
"""

from __future__ import annotations

from . import histograms, history, models
from .evaluation import forward
from .run_config import TrainConfig


def build_model(config: TrainConfig, batch_norm: bool):
    """A LeNet with the run's activation and BN settings, initialised from the run's seed."""
    model = models.lenet(batch_norm, activation=config.activation, bn_position=config.bn_position,
                         bn_impl=config.bn_impl, bn_momentum=config.bn_momentum, bn_eps=config.bn_eps)
    models.init_weights(model, config.seed)
    return model


def make_optimizer(config: TrainConfig, params, lr: float):
    """``torch.optim`` SGD, SGD with momentum or Adam, as the run's settings say."""
    import torch

    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


def train_step(model, optimizer, xb, yb, *, capture: dict | None = None, on_backward=None):
    """One optimisation step of one model on one batch; returns (loss, logits), both detached.

    ``capture``: passed to :func:`bnviz.evaluation.forward` to record the layers' values.
    ``on_backward``: called after the backward pass, before the update (gradients are fresh).
    """
    import torch.nn.functional as functional

    logits = forward(model, xb, capture=capture) if capture is not None else model(xb)
    loss = functional.cross_entropy(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if on_backward is not None:
        on_backward()
    optimizer.step()
    return loss.detach(), logits.detach()


class Lockstep:
    """Both models (``models[0]`` plain, ``models[1]`` with BN), their optimizers, the batch order."""

    def __init__(self, config: TrainConfig):
        import torch

        self.config = config
        self.models = [build_model(config, bn) for bn in (False, True)]
        self.optimizers = [make_optimizer(config, m.parameters(), lr)
                           for m, lr in zip(self.models, (config.lr, config.lr_bn))]
        self.generator = torch.Generator().manual_seed(config.seed)
        self.ranges = histograms.ranges(config.activation)

    def to(self, device) -> "Lockstep":
        for model in self.models:
            model.to(device).train()
        return self

    def epoch_order(self, n: int, device=None):
        """The next epoch's shuffled order of ``n`` training examples (seeded, drawn on the CPU)."""
        import torch

        order = torch.randperm(n, generator=self.generator)
        return order if device is None else order.to(device, non_blocking=True)

    def step(self, xb, yb, *, capture: bool = False):
        """One step of each model on the same batch.

        Returns (losses, correct, packs): per model the detached loss and the number of correct
        predictions (device tensors, nothing waits), and with ``capture`` each model's packed
        capture vector (:func:`bnviz.history.pack`), else None.
        """
        cfg = self.config
        losses, correct, packs = [], [], [] if capture else None
        for model, optimizer in zip(self.models, self.optimizers):
            cap = {"samples": cfg.hist_samples or None} if capture else None
            pack = (lambda m=model, c=cap: packs.append(history.pack(c, m, cfg.bins, self.ranges))) \
                if capture else None
            loss, logits = train_step(model, optimizer, xb, yb, capture=cap, on_backward=pack)
            losses.append(loss)
            correct.append((logits.argmax(1) == yb).sum())
        return losses, correct, packs
