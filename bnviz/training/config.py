"""What defines a training run of the BatchNorm page, and the devices it can run on.

:class:`TrainConfig` holds every setting (defaults: the d2l recipe); ``validate`` refuses a
setting that cannot be used with a :class:`ConfigError` naming the field. The option sets live
here or in :mod:`bnviz.batchnorm.choices` and nowhere else: pages, presets and links read them from here.
No torch is imported until a device is looked for.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from bnviz.batchnorm.choices import ACTIVATIONS, BN_IMPLS, BN_POSITIONS
from bnviz.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "adam")
DEVICES = ("auto", "cuda", "mps", "cpu")
MAX_LR = 1e4


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults: the d2l recipe (SGD, sigmoid, batch 256, 10 epochs)."""

    lr: float = 0.9  # LeNet
    lr_bn: float = 1.0  # LeNet-BN
    batch_size: int = 256
    epochs: int = 10
    optimizer: str = "sgd"
    momentum: float = 0.9
    activation: str = "sigmoid"
    bn_position: str = "before"
    bn_impl: str = "torch"
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    seed: int = 0
    device: str = "auto"
    hist_every: int = 10  # steps between histogram captures
    hist_samples: int = 64  # examples of the batch that are histogrammed (0: the whole batch)
    # captures between two looks at the loss landscape (bnviz.batchnorm.probe; 0: never): a look costs
    # both models 5 forward passes and a backward one (~180 ms on 2 cores, 3.5 steps): ~3.5 % every 100 steps
    probe_every: int = 10
    probe_step: float = 0.0  # the probe's step length for every model (0: each model's own step η·g)
    bins: int = 50
    train_limit: int = 0  # use only the first n training / test images (0: all)
    test_limit: int = 0
    test_time_batches: tuple[int, ...] = (1, 8, 256)
    max_captures: int = 500

    def validate(self) -> None:
        checks = (
            ("lr", valid_lr(self.lr)),
            ("lr_bn", valid_lr(self.lr_bn)),
            ("batch_size", 1 <= self.batch_size <= 4096),
            ("epochs", 1 <= self.epochs <= 200),
            ("optimizer", self.optimizer in OPTIMIZERS),
            ("momentum", 0 <= self.momentum < 1),
            ("activation", self.activation in ACTIVATIONS),
            ("bn_position", self.bn_position in BN_POSITIONS),
            ("bn_impl", self.bn_impl in BN_IMPLS),
            ("bn_momentum", 0 < self.bn_momentum <= 1),
            ("bn_eps", 0 < self.bn_eps <= 1),
            ("device", self.device in DEVICES),
            ("hist_every", 1 <= self.hist_every <= 1_000_000),
            ("hist_samples", 0 <= self.hist_samples),
            ("probe_every", 0 <= self.probe_every <= 1000),
            ("probe_step", 0 <= self.probe_step <= 100),
            ("bins", 4 <= self.bins <= 200),
            ("train_limit", self.train_limit >= 0),
            ("test_limit", self.test_limit >= 0),
            ("test_time_batches", all(b >= 1 for b in self.test_time_batches)),
            ("max_captures", self.max_captures >= 2),
        )
        for name, ok in checks:
            if not ok:
                raise ConfigError("config_bad", field=name, value=getattr(self, name))


def valid_lr(lr: float) -> bool:
    """A learning rate the trainer accepts: finite, in (0, MAX_LR]."""
    return math.isfinite(lr) and 0 < lr <= MAX_LR


def pick_device(preference: str = "auto") -> str:
    """``auto``: CUDA if available, else Apple MPS, else CPU. An unavailable choice raises."""
    import torch

    has = {"cuda": torch.cuda.is_available(),
           "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
           "cpu": True}
    if preference == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if has[name])
    if preference not in has:
        raise ConfigError("config_bad", field="device", value=preference)
    if not has[preference]:
        raise ConfigError("device_unavailable", device=preference)
    return preference


def available_devices() -> list[str]:
    found = []
    for name in ("cuda", "mps", "cpu"):
        try:
            pick_device(name)
            found.append(name)
        except ConfigError:
            pass
    return found


def device_info(device: str) -> tuple[str, dict]:
    """(kind, details) of a device, for the UI to word: ``("cuda", {"name": …})``,
    ``("mps", {})`` or ``("cpu", {"cores": n})``."""
    if device == "cuda":
        import torch

        return "cuda", {"name": torch.cuda.get_device_name()}
    if device == "mps":
        return "mps", {}
    return "cpu", {"cores": os.cpu_count() or 1}
