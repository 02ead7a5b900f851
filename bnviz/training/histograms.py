"""Histograms of activations computed on the training device, without waiting for it.

``torch.histc`` with an explicit range does not synchronise (``torch.histogram`` has no CUDA
kernel; ``bincount`` and an automatic range both sync). Bins are fixed per kind of tensor so a
chart's axis never jumps: pre-activations on [−10, 10], sigmoid outputs on [0, 1], ReLU outputs
on [0, 10]. Finite values outside the range land in the edge bins and are also counted apart
(``under``, ``over``); NaN and ±inf are counted apart and left out of the bins and percentiles.

One capture of one tensor is a flat float32 vector:
``bins`` counts, then under, over, nan, inf, then the 15th/50th/85th percentiles, all of an evenly
strided sample of at most ``HIST_SAMPLE`` of its values (conv1's 64 examples hold 221,184: 50
bins need far fewer, and counting all of them cost ~5 % of training at a capture every 10 steps).
"""

from __future__ import annotations

import math

import numpy as np
import torch

PRE_RANGE = (-10.0, 10.0)
ACT_RANGES = {"sigmoid": (0.0, 1.0), "relu": (0.0, 10.0)}
QUANTILES = (0.15, 0.50, 0.85)
OUTSIDE = ("under", "over", "nan", "inf")
HIST_SAMPLE = 32_768  # a capture reads an evenly strided sample of at most this many values
QUANTILE_SAMPLE = 4096  # percentiles from an evenly strided sample of at most this many values
_QUANTILES_ON: dict = {}  # device → QUANTILES as a tensor there, made once: a copy to a GPU waits for it


def ranges(activation: str) -> dict[str, tuple[float, float]]:
    return {"pre": PRE_RANGE, "act": ACT_RANGES[activation]}


def edges(lo: float, hi: float, bins: int) -> np.ndarray:
    return np.linspace(lo, hi, bins + 1)


def width(bins: int) -> int:
    """Length of one capture vector."""
    return bins + len(OUTSIDE) + len(QUANTILES)


def capture(t: torch.Tensor, lo: float, hi: float, bins: int) -> torch.Tensor:
    """Counts, out-of-range / non-finite counts and percentiles of ``t`` (of an evenly strided
    sample of at most ``HIST_SAMPLE`` of its values), all on its device."""
    t = t.detach().reshape(-1)
    t = t[::max(1, math.ceil(t.numel() / HIST_SAMPLE))].float()
    finite = torch.isfinite(t)
    nan = torch.isnan(t)
    stats = torch.stack([(t < lo).logical_and(finite).sum(), (t > hi).logical_and(finite).sum(),
                         nan.sum(), (~finite).sum() - nan.sum()]).float()
    inside = torch.where(finite, t.clamp(lo, hi), torch.full_like(t, lo - 1.0))
    counts = torch.histc(inside, bins=bins, min=lo, max=hi)
    stride = max(1, math.ceil(t.numel() / QUANTILE_SAMPLE))
    sample = t[::stride]
    sample = torch.where(torch.isfinite(sample), sample, torch.full_like(sample, math.nan))
    q = torch.nanquantile(sample, _quantiles(t.device))
    return torch.cat([counts, stats, q])


def split(vec: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, outside, percentiles) from a capture vector (or a stack of them, last axis)."""
    return vec[..., :bins], vec[..., bins:bins + len(OUTSIDE)], vec[..., bins + len(OUTSIDE):]


def _quantiles(device) -> torch.Tensor:
    """QUANTILES on ``device``, made once. Made at every call, it is a copy from the host that waits
    for a GPU: 16 a capture (``python -m bench gpu`` counted 434 waits in an epoch of 230 steps with a
    capture every 10, most of them, it seems, these)."""
    q = _QUANTILES_ON.get(device)
    if q is None:
        q = _QUANTILES_ON[device] = torch.tensor(QUANTILES, device=device)
    return q
