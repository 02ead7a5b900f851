r"""LeNet and LeNet-BN trained in lockstep: same initial weights, same batches, one step each.

Like ``torch/optim``: the maths of a step is one function, :func:`train_step`

.. math:: \ell = \mathrm{CE}(f_\theta(x_\mathcal{B}), y_\mathcal{B}),\qquad
          \theta \leftarrow \mathrm{opt}(\theta, \nabla_\theta \ell)

and :class:`Lockstep` is the thin wrapper that owns both models, their optimizers and the seeded
batch order. It is synchronous and has no thread; :class:`bnviz.training.job.Job` runs it in one.

A model that diverged is set inactive and skipped; the other trains on. Each model's learning
rate can be changed between steps. For the BN model the wrapper also keeps, beside PyTorch's own
running statistics, what they would be with other BN momenta (``ALT_MOMENTA``): the same update
fed the same batch statistics, to show what the momentum does to the test-time estimates.
"""

from __future__ import annotations

from bnviz.batchnorm import models, probe, scratch
from bnviz.batchnorm.evaluation import forward
from bnviz.training import captures, histograms
from bnviz.training.config import TrainConfig

ALT_MOMENTA = (0.01, 0.5)


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

    ``capture``: passed to :func:`bnviz.batchnorm.evaluation.forward` to record the layers' values.
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
        self.models = [build_model(config, bn_on) for bn_on in (False, True)]
        self.optimizers = [make_optimizer(config, m.parameters(), lr)
                           for m, lr in zip(self.models, (config.lr, config.lr_bn))]
        self.generator = torch.Generator().manual_seed(config.seed)
        self.ranges = histograms.ranges(config.activation)
        self.active = [True, True]
        self.alt: dict[str, dict[float, tuple]] = {}  # layer → momentum → (running mean, running var)
        self._track = True
        for layer, module in models.bn_layers(self.models[1]).items():
            module.register_forward_pre_hook(self._alt_update(layer))

    # ---- settings between steps -------------------------------------------------------------
    @property
    def lrs(self) -> list[float]:
        return [opt.param_groups[0]["lr"] for opt in self.optimizers]

    def set_lr(self, k: int, lr: float) -> None:
        """Model ``k``'s learning rate from the next step on."""
        for group in self.optimizers[k].param_groups:
            group["lr"] = lr

    def _alt_update(self, layer: str):
        def hook(module, inputs):
            if not (module.training and self._track):
                return
            import torch

            x = inputs[0].detach()
            with torch.no_grad():
                mean, var = scratch.batch_stats(x)
                mean, var = mean[0], var[0]
                if self.config.bn_impl == "torch":  # PyTorch averages the unbiased batch variance
                    var = scratch.unbiased(var, scratch.values_per_channel(x))
                slots = self.alt.setdefault(layer, {m: (torch.zeros_like(mean), torch.ones_like(var))
                                                    for m in ALT_MOMENTA})
                for m, (r_mean, r_var) in slots.items():
                    scratch.running_update(r_mean, mean, m)
                    scratch.running_update(r_var, var, m)
        return hook

    # ---- the step -------------------------------------------------------------------------
    def to(self, device) -> "Lockstep":
        for model in self.models:
            model.to(device).train()
        return self

    def epoch_order(self, n: int, device=None):
        """The next epoch's shuffled order of ``n`` training examples (seeded, drawn on the CPU)."""
        import torch

        order = torch.randperm(n, generator=self.generator)
        return order if device is None else order.to(device, non_blocking=True)

    def peek_order(self, n: int):
        """The order the next :meth:`epoch_order` will give, without drawing it."""
        import torch

        generator = torch.Generator()
        generator.set_state(self.generator.get_state())
        return torch.randperm(n, generator=generator)

    def step(self, xb, yb, *, capture: bool = False, landscape: bool = False):
        """One step of each active model on the same batch.

        Returns (losses, correct, packs, probes): per model the detached loss (NaN for an
        inactive model) and the number of correct predictions (device tensors, nothing waits);
        with ``capture`` each model's packed capture (:func:`bnviz.training.captures.pack`), else None; with
        ``landscape`` each model's :func:`bnviz.batchnorm.probe.landscape` vector, else None.
        """
        import torch

        cfg = self.config
        losses, correct = [], []
        packs = [] if capture else None
        probes = [] if landscape else None
        for k, (model, optimizer) in enumerate(zip(self.models, self.optimizers)):
            if not self.active[k]:  # diverged: no update, its (non-finite) values still counted
                nan = torch.full((), float("nan"), device=xb.device)
                losses.append(nan)
                correct.append(torch.zeros((), dtype=torch.int64, device=xb.device))
                if capture:
                    packs.append(self._capture_one(k, xb, yb))
                if landscape:
                    probes.append(torch.full((len(probe.KS) + 2,), float("nan"), device=xb.device))
                continue
            cap = {"samples": cfg.hist_samples or None} if capture else None

            def after_backward(k=k, model=model, cap=cap, lr=self.lrs[k]):
                if capture:
                    packs.append(captures.pack(cap, model, cfg.bins, self.ranges))
                if landscape:
                    probes.append(probe.landscape(model, xb, yb, lr, step_length=cfg.probe_step))

            loss, logits = train_step(model, optimizer, xb, yb, capture=cap, on_backward=after_backward)
            losses.append(loss)
            correct.append((logits.argmax(1) == yb).sum())
        return losses, correct, packs, probes

    def _capture_one(self, k, xb, yb):
        """Model ``k``'s capture on this batch with its current weights, changing nothing: a
        forward and backward pass whose gradients, BN running statistics and other momenta's
        statistics are all put back."""
        import torch.nn.functional as functional

        model = self.models[k]
        buffers = {name: b.clone() for name, b in model.named_buffers()}
        cap = {"samples": self.config.hist_samples or None}
        self._track = False
        try:
            model.zero_grad(set_to_none=True)
            functional.cross_entropy(forward(model, xb, capture=cap), yb).backward()
            return captures.pack(cap, model, self.config.bins, self.ranges)
        finally:
            self._track = True
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
            model.zero_grad(set_to_none=True)

    def capture(self, xb, yb) -> list:
        """Both models' captures on this batch with the current weights, changing nothing."""
        return [self._capture_one(k, xb, yb) for k in range(len(self.models))]
