r"""What changes the step besides the optimizer: learning-rate decay and mini-batch noise.

Decay (the notes' four schedules and a staircase) multiplies α₀ by :func:`lr_factor`, formulas in
``LATEX``. Mini-batch noise stands for the gradient of a batch of ``b`` examples instead of the
whole set: the exact gradient plus seeded Gaussian noise of standard deviation σ/√b (``NOISE_LATEX``).
"""

from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("constant", "inverse", "exp", "sqrt", "staircase")
LATEX = {
    "constant": r"\alpha = \alpha_0",
    "inverse": r"\alpha = \frac{\alpha_0}{1 + k\cdot\text{epoch}}",
    "exp": r"\alpha = 0.95^{\text{epoch}}\,\alpha_0",
    "sqrt": r"\alpha = \frac{k}{\sqrt{\text{epoch}+1}}\,\alpha_0",
    "staircase": r"\alpha = \alpha_0\,\gamma^{\lfloor \text{epoch}/n \rfloor}",
}
NOISE_LATEX = r"\tilde g = \nabla f(\theta) + \frac{\sigma}{\sqrt{b}}\,\xi,\qquad \xi \sim \mathcal N(0, I)"


def lr_factor(schedule: dict | None, step: int) -> float:
    r"""Multiplier of α₀ at optimizer step ``step`` (0-based); formulas in ``LATEX``.

    ``schedule``: {"kind": one of SCHEDULES, "k": float, "rate": base of "exp" (0.95),
    "gamma"/"every": staircase factor and length, "steps_per_epoch": int}.
    """
    if not schedule or schedule.get("kind", "constant") == "constant":
        return 1.0
    epoch = step // max(1, int(schedule.get("steps_per_epoch", 1)))
    kind, k = schedule["kind"], float(schedule.get("k", 1.0))
    if kind == "inverse":
        return 1.0 / (1.0 + k * epoch)
    if kind == "exp":
        return float(schedule.get("rate", 0.95)) ** epoch
    if kind == "sqrt":
        return k / math.sqrt(epoch + 1)
    if kind == "staircase":
        return float(schedule.get("gamma", 0.5)) ** (epoch // max(1, int(schedule.get("every", 10))))
    raise ValueError(f"unknown schedule {kind!r}")


def noise_sequence(steps: int, hp: dict) -> np.ndarray:
    """Seeded mini-batch noise σ/√b·ξ for every step (zeros without noise), shape (steps, 2)."""
    sigma = float(hp.get("noise") or 0.0)
    if sigma <= 0:
        return np.zeros((steps, 2))
    b = max(1, int(hp.get("batch_size") or 1))
    return np.random.default_rng(hp.get("seed", 0)).normal(0.0, sigma / math.sqrt(b), size=(steps, 2))
