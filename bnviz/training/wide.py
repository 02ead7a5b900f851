r"""Many LeNets trained as one wide network: a class's models (or a sweep's) in one batched job.

Model :math:`k` of :math:`N` has its own weights, its own BatchNorm statistics, its own optimizer
and learning rate; every model sees the same mini-batch. :class:`Wide` holds models of one
architecture (all with BatchNorm, or all without), :class:`Ensemble` any mix, as at most two
:class:`Wide` (a mask choosing BN's output per model cost more than the rest of a step). The
layers of a :class:`Wide` sit side by side in one network:

- the first convolution is one convolution of the image to every model's channels; the second
  one grouped convolution (``groups=N``): model :math:`k`'s channels see only model :math:`k`'s
  channels, computed in PyTorch's channels-last layout (twice as fast on a CPU);
- BatchNorm over :math:`N\cdot C` channels normalises each channel by its own batch statistics,
  so each model keeps exact statistics of its own (``nn.BatchNorm`` per model, in one call). It
  runs in the usual layout: PyTorch's channels-last BatchNorm sums in float32 with errors of
  ~4e-5 (1e-6 in the usual layout), and training grows them to 1e-3 of the loss in ten steps;
- on a CPU, each 2×2 average pooling is :func:`bnviz.training.pooling.mean_pool2` (PyTorch's CPU
  kernel took a sixth of a step);
- each fully connected layer is one batched product (``torch.baddbmm``) of the :math:`N` weight
  matrices.

The models are independent, so the gradient of :math:`\sum_k \ell_k` with respect to model
:math:`k`'s weights is the gradient of :math:`\ell_k` alone. Each model then takes its own update
(as ``torch.optim`` does for one model; :math:`g` its gradient, :math:`\alpha` its rate, :math:`t`
its number of updates):

.. math::
    \text{SGD: }\ \theta \leftarrow \theta - \alpha g \qquad
    \text{momentum: }\ v \leftarrow \mu v + g,\ \ \theta \leftarrow \theta - \alpha v

.. math::
    \text{Adam: }\ m \leftarrow \beta_1 m + (1-\beta_1) g,\ \ s \leftarrow \beta_2 s + (1-\beta_2) g^2,\ \
    \theta \leftarrow \theta - \frac{\alpha}{1-\beta_1^t}\,
    \frac{m}{\sqrt{s}/\sqrt{1-\beta_2^t} + \epsilon}

A model whose loss stops being finite (or exceeds :data:`DIVERGED_LOSS`) is marked diverged at
that step and frozen there: weights, optimizer state and BatchNorm statistics stay as they were.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from bnviz.batchnorm import models
from bnviz.optimization import optimizers
from bnviz.training import allocator

DIVERGED_LOSS = 1e3  # far above ln 10 ≈ 2.3, the loss of a uniform guess over 10 classes
# Models × images a network on a CPU: a few LeNets' activations stay in its caches, thirty do not;
# fewer networks also mean fewer Python calls, which two threads take turns at (networks of 5 to 8
# alike at batches of 64, of 2 the best at 256: the figures in Ensemble's docstring).
CPU_IMAGES = 320


def cpu_width(batch_size: int) -> int:
    """How many models a network holds on a CPU, for mini-batches of ``batch_size``."""
    return max(2, CPU_IMAGES // max(1, batch_size))


OPTIMIZERS = ("sgd", "momentum", "adam")
BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults
# Shown beside each choice: plain SGD and Adam as the optimizer page writes them (Adam's bias
# correction there on m̂ and v̂, the same update); momentum in torch.optim's form, which this uses.
LATEX = {"sgd": optimizers.GD.latex, "momentum": r"v \leftarrow \mu v + g,\quad \theta \leftarrow \theta - \alpha v",
         "adam": optimizers.Adam.latex}
# The layers in order: name, kind, (out, in) channels or features.
LAYERS = (("conv1", "conv", (6, 1)), ("conv2", "conv", (16, 6)), ("fc1", "fc", (120, 256)),
          ("fc2", "fc", (84, 120)), ("fc3", "fc", (10, 84)))


@dataclass(frozen=True)
class Member:
    """One model's settings."""

    lr: float
    batch_norm: bool = True
    optimizer: str = "sgd"  # one of OPTIMIZERS
    momentum: float = 0.9  # μ, for "momentum"
    seed: int = 0  # its initial weights (:func:`bnviz.batchnorm.models.init_weights`)

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}")
        if not (math.isfinite(self.lr) and self.lr > 0) or not 0 <= self.momentum < 1:
            raise ValueError("a learning rate > 0 and a momentum in [0, 1) are needed")


def lone_model(member: Member, activation: str = "relu"):
    """The member as one ordinary LeNet, initialised from its seed (its weights in the wide net)."""
    model = models.lenet(member.batch_norm, activation=activation)
    models.init_weights(model, member.seed)
    return model


class Wide:
    """``members``, all with BatchNorm or all without, as one network. ``params`` and
    ``buffers``: name → tensor with a leading axis of N (named as one LeNet's ``state_dict``);
    ``diverged_at``: per model a step or None."""

    def __init__(self, members, activation: str = "relu", device: str = "cpu",
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5, dtype=None):
        import torch

        self.members = tuple(members)
        if not self.members or len({m.batch_norm for m in self.members}) != 1:
            raise ValueError("models of one architecture are needed (all with BatchNorm or all without)")
        self.batch_norm = self.members[0].batch_norm
        self.n, self.activation = len(self.members), activation
        self.bn_momentum, self.bn_eps = bn_momentum, bn_eps
        lone = [lone_model(m, activation).state_dict() for m in self.members]
        self.params, self.buffers = {}, {}
        for name, _, (out, _) in LAYERS:
            for part in ("weight", "bias"):
                self.params[f"{name}.{part}"] = torch.stack([s[f"{name}.{part}"] for s in lone])
            if name != "fc3" and self.batch_norm:  # a hidden layer: BatchNorm's γ, β and statistics
                self.params[f"{name}_bn.weight"] = torch.ones(self.n, out)
                self.params[f"{name}_bn.bias"] = torch.zeros(self.n, out)
                self.buffers[f"{name}_bn.running_mean"] = torch.zeros(self.n, out)
                self.buffers[f"{name}_bn.running_var"] = torch.ones(self.n, out)
        for key, t in self.params.items():
            self.params[key] = t.to(device, dtype).requires_grad_()
        for key, t in self.buffers.items():
            self.buffers[key] = t.to(device, dtype)
        real = self.params["fc3.weight"].dtype  # a rate rounded to float32 moves float64 weights by 1e-8

        def column(values, dtype=real):
            return torch.tensor(values, dtype=dtype, device=device)

        self.lrs = column([m.lr for m in self.members])
        self.mu = column([m.momentum for m in self.members])
        self.kind = {k: column([m.optimizer == k for m in self.members], torch.bool) for k in OPTIMIZERS}
        self.sgd_only = all(m.optimizer == "sgd" for m in self.members)
        self.updates = column([0.0] * self.n)  # t, per model
        self.state = {}  # name → {"v": …} and/or {"m": …, "s": …}, only for optimizers in use
        for key, p in self.params.items():
            slot = {}
            if bool(self.kind["momentum"].any()):
                slot["v"] = torch.zeros_like(p, requires_grad=False)
            if bool(self.kind["adam"].any()):
                slot["m"], slot["s"] = (torch.zeros_like(p, requires_grad=False) for _ in range(2))
            self.state[key] = slot
        self.diverged_at: list = [None] * self.n
        self._frozen = column([False] * self.n, torch.bool)  # diverged_at is not None, on the device

    # ---- the network ----------------------------------------------------------------------
    def _norm(self, name: str, h, training: bool):
        """BatchNorm of every model's channels at once (nothing for models without it)."""
        import torch.nn.functional as functional

        if not self.batch_norm:
            return h
        p, b = self.params, self.buffers
        return functional.batch_norm(h, b[f"{name}_bn.running_mean"].view(-1), b[f"{name}_bn.running_var"].view(-1),
                                     p[f"{name}_bn.weight"].reshape(-1), p[f"{name}_bn.bias"].reshape(-1),
                                     training, self.bn_momentum, self.bn_eps)

    def forward(self, x, training: bool = True):
        """Every model's logits for the images ``x`` (B, 1, 28, 28): a tensor (N, B, 10)."""
        import torch
        import torch.nn.functional as functional

        from bnviz.training import pooling

        n, batch, p = self.n, x.shape[0], self.params
        act = torch.relu if self.activation == "relu" else torch.sigmoid
        h = x
        for name, kind, (out, inp) in LAYERS:
            if kind == "conv":
                weight = p[f"{name}.weight"].reshape(n * out, inp, 5, 5)
                if inp == 1:  # every model sees the same image: one convolution to all models' channels
                    h = functional.conv2d(h, weight, p[f"{name}.bias"].reshape(-1))
                else:  # grouped, in channels-last (2× faster on a CPU), then back for BatchNorm
                    h = functional.conv2d(h.contiguous(memory_format=torch.channels_last), weight,
                                          p[f"{name}.bias"].reshape(-1), groups=n).contiguous()
                h = act(self._norm(name, h, training))
                h = pooling.mean_pool2(h) if h.device.type == "cpu" else functional.avg_pool2d(h, 2)
                continue
            if h.dim() == 4:  # (B, N·16, 4, 4) → (N, B, 256), each model's features in LeNet's order
                h = h.reshape(batch, n, inp).transpose(0, 1)
            h = torch.baddbmm(p[f"{name}.bias"].unsqueeze(1), h, p[f"{name}.weight"].transpose(1, 2))
            if name != "fc3":  # (N, B, C) → (B, N·C) for BatchNorm, and back
                flat = self._norm(name, h.transpose(0, 1).reshape(batch, n * out), training)
                h = act(flat.view(batch, n, out).transpose(0, 1))
        return h

    # ---- training -------------------------------------------------------------------------
    def losses(self, x, y):
        """Each model's mean cross-entropy on the batch (with the graph), a tensor (N,)."""
        import torch.nn.functional as functional

        logits = self.forward(x)
        per_image = functional.cross_entropy(logits.reshape(-1, 10), y.repeat(self.n), reduction="none")
        return per_image.view(self.n, -1).mean(1)

    def step(self, x, y, step: int):
        """One update of every live model on the batch (x, y); returns the N losses before it (NaN
        for a model that diverged at an earlier step)."""
        import torch

        # The frozen models' mask stays on the device (on a GPU, a mask copied from the host or a
        # test of it read back waits for the device): one read a step, of the models that diverged.
        frozen = self._frozen
        any_frozen = any(d is not None for d in self.diverged_at)
        kept = {k: b.clone() for k, b in self.buffers.items()} if any_frozen else None
        losses = self.losses(x, y)
        with torch.no_grad():
            bad = (~torch.isfinite(losses) | (losses > DIVERGED_LOSS)) & ~frozen
            new = torch.nonzero(bad).flatten().tolist()
            for k in new:
                self.diverged_at[k] = step
            alive = None if not any_frozen and not new else ~(frozen | bad)  # None: every model
            if new:
                self._frozen = frozen | bad
        # A frozen model's gradient may be NaN (its weights may be): the masks below never read it.
        grads = torch.autograd.grad(losses.sum() if alive is None else torch.where(alive, losses, 0.0).sum(),
                                    list(self.params.values()))
        with torch.no_grad():
            self.updates += 1.0 if alive is None else alive.to(self.updates.dtype)
            if alive is None and self.sgd_only:  # the common case in two calls, not two per tensor
                torch._foreach_sub_(list(self.params.values()), torch._foreach_mul(grads, self._shaped(self.lrs)))
            else:
                for (key, p), g in zip(self.params.items(), grads):
                    self._update(key, p, g, alive)
            if kept is not None:  # a frozen model's statistics stay where it diverged
                for key, b in self.buffers.items():
                    b.copy_(torch.where(frozen.view(-1, 1), kept[key], b))
        return torch.where(frozen, torch.full_like(losses, math.nan), losses).detach()

    def _shaped(self, column) -> list:
        """A per-model column (N,) viewed to broadcast against each parameter, in order."""
        return [column.view((-1,) + (1,) * (p.dim() - 1)) for p in self.params.values()]

    def _update(self, key: str, p, g, alive) -> None:
        """Each live model's update of the parameter ``p`` (leading axis: the model); ``alive``
        None: every model."""
        import torch

        shape = (-1,) + (1,) * (p.dim() - 1)
        live = None if alive is None else alive.view(shape)

        def where_live(new, old):
            return new if live is None else torch.where(live, new, old)

        direction = g
        slot = self.state[key]
        if "v" in slot:
            v = where_live(self.mu.view(shape) * slot["v"] + g, slot["v"])
            slot["v"].copy_(v)
            direction = torch.where(self.kind["momentum"].view(shape), v, direction)
        if "m" in slot:
            beta1, beta2 = BETAS
            m = where_live(slot["m"].lerp(g, 1 - beta1), slot["m"])
            s = where_live(slot["s"] * beta2 + (1 - beta2) * g * g, slot["s"])
            slot["m"].copy_(m)
            slot["s"].copy_(s)
            t = self.updates.clamp(min=1).view(shape)
            adam = m / (1 - beta1 ** t) / (s.sqrt() / (1 - beta2 ** t).sqrt() + ADAM_EPS)
            direction = torch.where(self.kind["adam"].view(shape), adam, direction)
        p.sub_(where_live(self.lrs.view(shape) * direction, torch.zeros_like(p)))

    # ---- reading --------------------------------------------------------------------------
    def accuracy(self, x, y, chunk: int = 1000) -> list:
        """Each model's accuracy on (x, y) in eval mode (BatchNorm with its running statistics);
        NaN for a model that diverged."""
        import torch

        correct = torch.zeros(self.n, dtype=torch.long, device=self.lrs.device)
        with torch.no_grad():
            for i in range(0, len(y), chunk):
                logits = self.forward(x[i:i + chunk], training=False)
                correct += (logits.argmax(-1) == y[i:i + chunk]).sum(-1)
        acc = [c / len(y) for c in correct.cpu().tolist()]
        return [math.nan if d is not None else a for a, d in zip(acc, self.diverged_at)]

    def state_dict(self, k: int) -> dict:
        """Model ``k`` as an ordinary LeNet's ``state_dict`` (what :func:`lone_model` builds), less
        BatchNorm's counts of batches (its momentum is fixed)."""
        return {key: t[k].detach().clone() for key, t in {**self.params, **self.buffers}.items()}


def _one_core(parent: str) -> None:
    """A thread a network steps on: one PyTorch thread (a setting of the calling thread alone),
    named after the training it works for."""
    import torch

    from bnviz.training.manager import as_training_thread

    torch.set_num_threads(1)
    as_training_thread(parent, nicer=False)


class Ensemble:
    """Any mix of models, in member order: the ones with BatchNorm in :class:`Wide` networks of
    ``width`` models, the ones without in others, stepped on the same batch (``width``: all of an
    architecture in one network on a GPU, :func:`cpu_width` of ``batch_size`` on a CPU).

    On a CPU the networks step side by side, ``threads`` at a time (by default as many as the
    calling thread's PyTorch threads), each on one core: their small operations spread over
    several cores poorly, and independent networks keep every core busy. A class of 30 on two
    cores, against one model after another (``python -m bench class``; glibc keeping freed memory
    for both, :mod:`bnviz.training.allocator`): at batches of 64, networks of 5 side by side
    2.17×, one after another 1.95× (networks of 3: 1.91×, of 8: 2.25×, all in one network per
    architecture 1.89×); at 256, networks of 2 side by side 1.48×, one after another 1.40×,
    all at once 0.75×. The networks share nothing: each step is the same either way."""

    def __init__(self, members, width: int | None = None, batch_size: int = 64, threads: int | None = None,
                 **options):
        import torch

        self.members = tuple(members)
        if not self.members:
            raise ValueError("no models")
        cpu = str(options.get("device", "cpu")).startswith("cpu")
        if cpu:
            allocator.keep_freed_memory()
        if width is None:
            width = cpu_width(batch_size) if cpu else len(self.members)
        self.parts = []  # (the members' positions, their Wide)
        for batch_norm in (False, True):
            where = [k for k, m in enumerate(self.members) if m.batch_norm == batch_norm]
            for i in range(0, len(where), width):
                self.parts.append((where[i:i + width], Wide([self.members[k] for k in where[i:i + width]], **options)))
        if threads is None:
            threads = torch.get_num_threads() if cpu else 1
        self.threads = max(1, min(threads, len(self.parts)))
        self._pool = None

    def _each(self, work) -> list:
        """``work(net)`` for every network, in order; side by side on :attr:`threads` threads."""
        nets = [net for _, net in self.parts]
        if self.threads == 1:
            return [work(net) for net in nets]
        if self._pool is None:  # started by the training's thread: its threads are as nice as it is
            import weakref
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.threads, initializer=_one_core,
                                            initargs=(threading.current_thread().name,))
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return list(self._pool.map(work, nets))

    def close(self) -> None:
        """End the threads the networks step on (they also end when the ensemble is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    @property
    def n(self) -> int:
        return len(self.members)

    def _gather(self, values_per_part) -> list:
        out = [None] * self.n
        for (where, _), values in zip(self.parts, values_per_part):
            for k, value in zip(where, values):
                out[k] = value
        return out

    @property
    def diverged_at(self) -> list:
        return self._gather(net.diverged_at for _, net in self.parts)

    def step(self, x, y, step: int) -> list:
        """One update of every live model; each model's loss before it, as floats (NaN once diverged)."""
        return self._gather(self._each(lambda net: net.step(x, y, step).cpu().tolist()))

    def accuracy(self, x, y, chunk: int = 1000) -> list:
        return self._gather(self._each(lambda net: net.accuracy(x, y, chunk)))

    def state_dict(self, k: int) -> dict:
        for where, net in self.parts:
            if k in where:
                return net.state_dict(where.index(k))
        raise IndexError(k)
