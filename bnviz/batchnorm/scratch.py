"""Batch normalisation written out, beside PyTorch's ``nn.BatchNorm1d/2d``.

Training: normalise each channel with the statistics of the current mini-batch, then scale by γ
and shift by β (both learned). The running statistics are an exponentially weighted average of
the batch statistics (page 1's EWMA), used at test time when a batch may hold a single example.

Momentum follows PyTorch's convention: ``running = (1 − momentum)·running + momentum·batch``
(momentum 0.1 here is β = 0.9 in the EWMA's notation). One deliberate difference: this layer
stores the *biased* batch variance (divide by m) in ``running_var`` as the course notes do, where
PyTorch stores the *unbiased* one (divide by m − 1). The tests measure that difference.
"""

from __future__ import annotations

import torch
from torch import nn

LATEX = {
    "mean": r"\mu_\mathcal{B} = \frac{1}{m}\sum_{i=1}^{m} x_i",
    "var": r"\sigma^2_\mathcal{B} = \frac{1}{m}\sum_{i=1}^{m} (x_i - \mu_\mathcal{B})^2",
    "normalise": r"\hat{x}_i = \frac{x_i - \mu_\mathcal{B}}{\sqrt{\sigma^2_\mathcal{B} + \epsilon}}",
    "scale": r"y_i = \gamma \hat{x}_i + \beta",
    "running": r"\hat\mu \leftarrow (1-\text{momentum})\,\hat\mu + \text{momentum}\cdot\mu_\mathcal{B}",
    "eval": r"y = \gamma \frac{x - \hat\mu}{\sqrt{\hat\sigma^2 + \epsilon}} + \beta",
    "unbiased": r"\hat\sigma^2_\text{PyTorch} \text{ averages } \tfrac{m}{m-1}\sigma^2_\mathcal{B}",
}


def batch_stats(x: torch.Tensor, group: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of ``x`` (N, C) or (N, C, H, W).

    With ``group``, the batch is split into consecutive groups of that many examples and each
    group gets its own statistics (shape (N/group, C)): train-mode BN at batch size ``group``,
    evaluated for many batches at once. LaTeX: ``LATEX["mean"]``, ``LATEX["var"]``.
    """
    n = x.shape[0]
    g = group or n
    xs = x.reshape(n // g, g, *x.shape[1:])
    dims = (1,) if x.dim() == 2 else (1, 3, 4)
    mean = xs.mean(dim=dims)
    var = ((xs - _expand(mean, xs)) ** 2).mean(dim=dims)
    return mean, var


def _expand(stat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(G, C) statistics broadcast against (G, g, C[, H, W])."""
    return stat.reshape(stat.shape[0], 1, stat.shape[1], *([1] * (like.dim() - 3)))


def normalise(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, gamma: torch.Tensor,
              beta: torch.Tensor, eps: float, group: int | None = None) -> torch.Tensor:
    """γ·(x − μ)/√(σ² + ε) + β per channel. ``mean``/``var`` are (C,) or, with ``group``, (G, C).

    LaTeX: ``LATEX["normalise"]`` then ``LATEX["scale"]``.
    """
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if group is None:
        x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    else:
        xs = x.reshape(x.shape[0] // group, group, *x.shape[1:])
        x_hat = ((xs - _expand(mean, xs)) / torch.sqrt(_expand(var, xs) + eps)).reshape(x.shape)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def running_update(running: torch.Tensor, batch: torch.Tensor, momentum: float) -> torch.Tensor:
    """The running statistic after one batch, in place: (1 − momentum)·running + momentum·batch
    (``LATEX["running"]``; PyTorch's momentum 0.1 is the EWMA's β = 0.9)."""
    return running.lerp_(batch, momentum)


def unbiased(var: torch.Tensor, m: int) -> torch.Tensor:
    """The unbiased variance m/(m − 1)·σ²_B of a batch of ``m`` values per channel (``LATEX["unbiased"]``)."""
    return var * (m / max(1, m - 1))


def values_per_channel(x: torch.Tensor) -> int:
    """How many values each channel of a BN layer's input holds: N, or N·H·W."""
    return x.numel() // x.shape[1]


class BatchNormScratch(nn.Module):
    """The course's from-scratch BatchNorm layer, for 2-D (N, C) or 4-D (N, C, H, W) inputs.

    ``self.training`` picks batch statistics (and updates the running ones) or the running ones —
    not ``torch.is_grad_enabled()``, so evaluating in train mode under ``no_grad`` is possible.
    """

    def __init__(self, num_features: int, num_dims: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if num_dims not in (2, 4):
            raise ValueError("num_dims must be 2 (fully connected) or 4 (convolution)")
        self.num_features, self.num_dims = num_features, num_dims
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))  # γ
        self.bias = nn.Parameter(torch.zeros(num_features))  # β
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.num_dims:
            raise ValueError(f"expected a {self.num_dims}-D input, got {x.dim()}-D")
        if not self.training:
            return normalise(x, self.running_mean, self.running_var, self.weight, self.bias,
                             self.eps)
        mean, var = batch_stats(x)
        mean, var = mean[0], var[0]
        with torch.no_grad():
            running_update(self.running_mean, mean, self.momentum)
            running_update(self.running_var, var, self.momentum)
        return normalise(x, mean, var, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, biased running_var"
