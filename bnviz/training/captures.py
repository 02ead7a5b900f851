"""One capture of a run: what both models' hidden layers hold at a histogram step.

During the step the capture is a flat device vector per model (:func:`pack`: histograms of every
hidden layer's input and output, the weights' gradient norms, BatchNorm's parameters and
statistics); :class:`Outbox` copies it to the host without waiting for the device, and
:func:`unpack` turns it into a read-only :class:`Capture` there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from bnviz.batchnorm.models import HIDDEN_LAYERS, WEIGHTED, WIDTHS
from bnviz.training import histograms

if TYPE_CHECKING:
    import torch

KINDS = ("pre", "act")  # a hidden layer's input (pre-activation) and output (activation)
BN_FIELDS = ("gamma", "beta", "running_mean", "running_var", "batch_mean", "batch_var")


def frozen(a) -> np.ndarray:
    """A read-only float32 array (the snapshot's arrays can be shared between viewers)."""
    a = np.array(a, dtype=np.float32) if not isinstance(a, np.ndarray) else a
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Capture:
    """Everything recorded at one histogram step. Arrays are float32 and read-only.

    - ``hist``: (model, layer, kind, bins) counts; kind 0 = pre-activation, 1 = activation.
    - ``outside``: (model, layer, kind, 4) counts under / over the range, NaN, ±inf.
    - ``pct``: (model, layer, kind, 3) 15th, 50th, 85th percentiles (NaN if none finite).
    - ``grad_norm``: (model, 5) ‖∇W‖₂ of conv1, conv2, fc1, fc2, fc3 at this step.
    - ``bn``: BN model only, layer → {γ, β, running mean/var, batch mean/var} per channel.
    """

    step: int
    epoch: float
    hist: np.ndarray
    outside: np.ndarray
    pct: np.ndarray
    grad_norm: np.ndarray
    bn: Mapping[str, Mapping[str, np.ndarray]]


def pack(cap: dict, model, bins: int, ranges: dict) -> "torch.Tensor":
    """One model's capture as a flat device vector: per hidden layer and kind a histogram vector
    (:func:`bnviz.training.histograms.capture`), the weights' gradient norms, then for a BN model each
    layer's γ, β, running mean/var and batch mean/var. Call between backward and the update."""
    import torch

    from bnviz.batchnorm.models import bn_layers, weighted_layers

    parts = [histograms.capture(cap[(layer, kind)], *ranges[kind], bins)
             for layer in HIDDEN_LAYERS for kind in KINDS]
    parts.append(torch.stack([m.weight.grad.norm() for m in weighted_layers(model).values()]).float())
    for layer, bn in bn_layers(model).items():
        mean, var = cap[(layer, "batch")]
        parts += [bn.weight.detach(), bn.bias.detach(), bn.running_mean, bn.running_var, mean, var]
    return torch.cat([p.reshape(-1).float() for p in parts])


def unpack(step: int, epoch: float, vec: np.ndarray, bins: int) -> Capture:
    """The :class:`Capture` of both models' packed vectors, concatenated (plain model first)."""
    w = histograms.width(bins)
    hist_len = len(HIDDEN_LAYERS) * len(KINDS) * w
    plain_len = hist_len + len(WEIGHTED)
    out = {"hist": [], "outside": [], "pct": [], "grad": []}
    bn = {}
    for k, chunk in enumerate((vec[:plain_len], vec[plain_len:])):
        counts, outside, pct = histograms.split(chunk[:hist_len].reshape(len(HIDDEN_LAYERS), len(KINDS), w), bins)
        out["hist"].append(counts)
        out["outside"].append(outside)
        out["pct"].append(pct)
        out["grad"].append(chunk[hist_len:plain_len])
        pos = plain_len
        if k == 1 and len(chunk) > pos:
            for layer in HIDDEN_LAYERS:
                c = WIDTHS[layer]
                bn[layer] = MappingProxyType({f: frozen(chunk[pos + j * c:pos + (j + 1) * c].copy())
                                              for j, f in enumerate(BN_FIELDS)})
                pos += len(BN_FIELDS) * c
    return Capture(step=step, epoch=epoch, hist=frozen(np.stack(out["hist"])),
                   outside=frozen(np.stack(out["outside"])), pct=frozen(np.stack(out["pct"])),
                   grad_norm=frozen(np.stack(out["grad"])), bn=MappingProxyType(bn))


class Outbox:
    """Device → host copies that never block the training loop.

    On CUDA each item is copied into pinned memory with ``non_blocking`` and an event; items are
    handed out only once their event has completed. Elsewhere copies are immediate.
    """

    def __init__(self, device):
        import torch

        self.cuda = device.type == "cuda"
        self.items: deque = deque()
        self._torch = torch

    def put(self, tag, tensor) -> None:
        tensor = tensor.detach()
        if self.cuda:
            host = self._torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            host.copy_(tensor, non_blocking=True)
            event = self._torch.cuda.Event()
            event.record()
            self.items.append((tag, host, event))
        else:
            self.items.append((tag, tensor.to("cpu", copy=True), None))

    def ready(self, wait: bool = False):
        while self.items:
            tag, host, event = self.items[0]
            if event is not None:
                if wait:
                    event.synchronize()
                elif not event.query():
                    return
            self.items.popleft()
            yield tag, host.numpy()


