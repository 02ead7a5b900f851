"""The learning rates of a sweep: K values evenly spaced on a log scale, checked.

Kept apart from :mod:`bnviz.training.sweep` so the page can check a range without importing torch.
"""

from __future__ import annotations

import math

import numpy as np

from bnviz.errors import KeyedError

RATE_LIMITS = (1e-5, 1e4)  # the rates a sweep may use (the BatchNorm page's trainer stops at 1e4 too)
MAX_RATES = 15  # 2 × 15 models at once: what one server trains in a few minutes on a CPU
# What each of the 2K models does with its rate on mini-batch B_t (bnviz.training.wide, plain SGD); a
# model whose loss stops being finite or passes 1000 is frozen there.
LATEX_UPDATE = r"\theta_k \leftarrow \theta_k - \alpha_k \nabla_\theta L(\theta_k;\ B_t),\quad k = 0,\dots,K-1"
LATEX_GRID = r"\alpha_k = \alpha_{\min}\left(\frac{\alpha_{\max}}{\alpha_{\min}}\right)^{k/(K-1)},\quad k = 0,\dots,K-1"


def label(lr: float) -> str:
    """A rate as the page, the loss chart's runs and the CSV write it: 0.03162, 1, 100."""
    return f"{lr:g}"


class SweepError(KeyedError, ValueError):
    """A sweep that cannot be run as asked (its message names what to change)."""


def log_grid(lo: float, hi: float, k: int) -> tuple[float, ...]:
    """K learning rates evenly spaced on a log scale from ``lo`` to ``hi``, both included,
    rounded to 4 significant digits (:data:`LATEX_GRID`, with k counted from 0). An empty, absurd or
    too large range raises :class:`SweepError`."""
    a, b = RATE_LIMITS
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lo, hi)) or lo <= 0 or hi <= 0:
        raise SweepError("sweep_rate_bad", lo=lo, hi=hi)
    if not (a <= lo <= b and a <= hi <= b):
        raise SweepError("sweep_rate_limits", lo=a, hi=b)
    if lo >= hi:
        raise SweepError("sweep_range_empty", lo=lo, hi=hi)
    if not float(k).is_integer() or k < 2:
        raise SweepError("sweep_too_few", k=k)
    if k > MAX_RATES:
        raise SweepError("sweep_too_many", k=int(k), models_asked=2 * int(k), max=MAX_RATES, models=2 * MAX_RATES)
    rates = tuple(float(f"{v:.4g}") for v in np.geomspace(lo, hi, int(k)))
    if len(set(rates)) < len(rates):  # a range too narrow for so many distinct rates
        raise SweepError("sweep_range_narrow", lo=lo, hi=hi, k=int(k))
    return rates
