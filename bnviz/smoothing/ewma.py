"""Exponentially weighted moving averages (EWMA), as taught in the course.

Three variants are compared on the page:

* ``start="zero"``: v_0 = 0, v_t = beta * v_{t-1} + (1 - beta) * theta_t (Ng).
  Biased towards 0 for the first ~1/(1-beta) points.
* ``start="zero", bias_correction=True``: v_t / (1 - beta^t). Equals
  ``pandas.Series.ewm(alpha=1-beta, adjust=True).mean()`` and TensorBoard's
  scalar smoothing.
* ``start="first"``: S_1 = Y_1, then the same recursion. Equals
  ``pandas.Series.ewm(alpha=1-beta, adjust=False).mean()``.

Non-finite inputs (NaN, +-inf) are left out of the average and returned unchanged,
like TensorBoard does; t in the bias correction counts only finite points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

LATEX = {
    "first": r"S_1 = Y_1,\qquad S_t = \beta\,S_{t-1} + (1-\beta)\,Y_t",
    "zero": r"v_0 = 0,\qquad v_t = \beta\,v_{t-1} + (1-\beta)\,\theta_t",
    "corrected": r"\hat v_t = \frac{v_t}{1-\beta^{t}}",
    "weights": r"v_t = (1-\beta)\sum_{k=0}^{t-1}\beta^{k}\,\theta_{t-k}",
    "window": r"N_{\text{eff}} \approx \frac{1}{1-\beta},\qquad \beta^{1/(1-\beta)} \approx \frac{1}{e}",
    "lag": r"t_f = \left\lceil \frac{\ln(1-f)}{\ln\beta} \right\rceil",
}

VARIANTS = ("zero", "corrected", "first")


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not (0.0 <= beta < 1.0):
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    return beta


def ewma(values, beta: float, *, bias_correction: bool = False, start: str = "zero") -> np.ndarray:
    r"""EWMA of a 1-D series; see the module docstring for the variants.

    LaTeX: ``LATEX["zero"]``, ``LATEX["corrected"]``, ``LATEX["first"]``.
    Returns float64 of the same length; non-finite inputs pass through unchanged.
    """
    beta = _check_beta(beta)
    if start not in ("zero", "first"):
        raise ValueError(f"start must be 'zero' or 'first', got {start!r}")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("values must be one-dimensional")
    out = x.copy()
    finite = np.isfinite(x)
    all_finite = bool(finite.all())
    xs = x if all_finite else x[finite]
    if xs.size == 0:
        return out
    b, a = [1.0 - beta], [1.0, -beta]
    if start == "first":
        # y_0 = (1-beta) x_0 + zi = x_0  <=>  zi = beta * x_0
        v, _ = lfilter(b, a, xs, zi=[beta * xs[0]])
    else:
        v = lfilter(b, a, xs)
        if bias_correction and beta > 0:
            # 1 - beta^t rounds to exactly 1.0 once beta^t < 2^-54: only that prefix needs dividing.
            k = min(xs.size, math.ceil(-54 * math.log(2) / math.log(beta)) + 1)
            t = np.arange(1, k + 1, dtype=np.float64)
            v[:k] /= -np.expm1(t * math.log(beta))
    if all_finite:
        return v
    out[finite] = v
    return out


def variant(values, beta: float, name: str) -> np.ndarray:
    """One of ``VARIANTS`` by name: 'zero', 'corrected' or 'first'."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}")
    if name == "first":
        return ewma(values, beta, start="first")
    return ewma(values, beta, bias_correction=(name == "corrected"))


def weights(beta: float, n: int) -> np.ndarray:
    r"""Weight of the value k steps in the past, k = 0..n-1: ``(1-beta) * beta**k`` (``LATEX["weights"]``)."""
    beta = _check_beta(beta)
    return (1.0 - beta) * beta ** np.arange(int(n), dtype=np.float64)


def effective_window(beta: float) -> float:
    r"""About how many past values the average spans: 1/(1-beta) (``LATEX["window"]``)."""
    return 1.0 / (1.0 - _check_beta(beta))


def window_decay(beta: float) -> float:
    r"""What is left of a value's weight one effective window later: beta^(1/(1-beta)) ≈ 1/e
    (``LATEX["window"]``); 0.9 gives 0.9^10 ≈ 0.35."""
    return _check_beta(beta) ** effective_window(beta)


def first_step(values, beta: float) -> dict | None:
    r"""The first finite value theta_1 and the averages after it: v_1 = (1-beta) theta_1 from
    v_0 = 0, and the corrected v_1 / (1 - beta) = theta_1 (``LATEX["zero"]``, ``LATEX["corrected"]``).
    None when the series has no finite value."""
    x = np.asarray(values, dtype=np.float64)
    finite = x[np.isfinite(x)][:1]
    if not finite.size:
        return None
    return {"theta": float(finite[0]), "v": float(ewma(finite, beta)[0]),
            "v_corrected": float(ewma(finite, beta, bias_correction=True)[0])}


def steps_to_fraction(beta: float, fraction: float) -> int:
    r"""Steps after a step change until v (started at the old level) covers ``fraction`` of the jump.

    After k steps the remaining gap is beta^k, so k = ceil(ln(1-f)/ln(beta)) (``LATEX["lag"]``).
    """
    beta = _check_beta(beta)
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    if beta == 0.0:
        return 1
    return max(1, math.ceil(math.log1p(-fraction) / math.log(beta) - 1e-12))
