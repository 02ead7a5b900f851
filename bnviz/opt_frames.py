"""Presets and the tidy tables behind the optimizer page (pandas, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnviz import optimizers
from bnviz.surfaces import Surface, grid

# Learning rates on a roughly logarithmic grid (the page's α slider).
LRS = [1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 2.0, 5.0, 10.0]

# One click reproduces a figure of the notes. "lr" is the shared α; "lrs" gives each optimizer its own.
PRESETS = {
    "zigzag": {"surface": "valley", "optimizers": ["gd", "momentum"], "lr": 0.9, "steps": 60, "start": (-8.0, 3.0)},
    "rmsprop": {"surface": "valley", "optimizers": ["gd", "rmsprop"], "lrs": {"gd": 0.9, "rmsprop": 0.1},
                "steps": 80, "start": (-8.0, 3.0)},
    "adam": {"surface": "rosenbrock", "optimizers": ["momentum", "rmsprop", "adam"],
             "lrs": {"momentum": 0.005, "rmsprop": 0.01, "adam": 0.05}, "steps": 500, "start": (-1.5, 2.0)},
    "saddle": {"surface": "saddle", "optimizers": ["gd", "momentum", "adam"], "lr": 0.1, "steps": 150,
               "start": (-1.8, 0.001)},
    "plateau": {"surface": "plateau", "optimizers": ["gd", "adam"], "lr": 0.5, "steps": 150, "start": (3.5, 3.0)},
    "decay": {"surface": "valley", "optimizers": ["gd", "momentum"], "lr": 0.4, "steps": 300, "start": (-8.0, 3.0),
              "noise": 2.0, "batch_size": 1, "schedule": {"kind": "inverse", "k": 0.05}},
}


def grid_frame(surface: Surface, n: int = 70) -> tuple[pd.DataFrame, float]:
    """(cells, offset): heatmap cells with centre (cx, cy), edges (x0, x1, y0, y1), loss f and
    z = log10(f − offset); offset = lowest loss on the grid minus a small floor."""
    xs, ys, Z = grid(surface, n)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs, ys)
    finite = np.isfinite(Z)
    fmin = Z[finite].min() if finite.any() else 0.0
    spread = np.median(Z[finite]) - fmin if finite.any() else 1.0
    floor = 1e-3 * spread if spread > 0 else 1e-3
    z = np.log10(np.where(finite, Z - fmin, np.nan) + floor)
    df = pd.DataFrame({"cx": X.ravel(), "cy": Y.ravel(), "x0": (X - dx / 2).ravel(), "x1": (X + dx / 2).ravel(),
                       "y0": (Y - dy / 2).ravel(), "y1": (Y + dy / 2).ravel(), "f": Z.ravel(), "z": z.ravel()})
    return df[np.isfinite(df["z"])], fmin - floor


def paths_frame(surface: Surface, runs: dict[str, optimizers.Run], upto: int | None = None,
                offset: float = 0.0) -> pd.DataFrame:
    """Every optimizer's positions and loss up to step ``upto`` (finite rows only).

    ``gap`` = loss − ``offset``: with offset = (lowest loss on the grid − a small floor) it stays
    positive, so it can be drawn on a log axis even where the loss itself is negative.
    """
    parts = []
    for name, r in runs.items():
        path = r.path if upto is None else r.path[: upto + 1]
        loss = optimizers.losses(surface, path)
        parts.append(pd.DataFrame({"optimizer": name, "step": np.arange(len(path)), "x": path[:, 0],
                                   "y": path[:, 1], "loss": loss, "gap": np.maximum(loss - offset, 1e-300)}))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["optimizer", "step", "x", "y", "loss", "gap"])
    return df[np.isfinite(df[["x", "y", "loss"]]).all(axis=1)]


def summary_frame(surface: Surface, runs: dict[str, optimizers.Run]) -> pd.DataFrame:
    rows = []
    for name, r in runs.items():
        s = optimizers.summary(surface, r)
        rows.append({"optimizer": name, "final_loss": s["final_loss"], "steps_to_min": s["steps_to_min"],
                     "diverged_at": s["diverged_at"]})
    return pd.DataFrame(rows)


def lr_frame(runs: dict[str, optimizers.Run]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"optimizer": n, "step": np.arange(1, len(r.lr) + 1), "lr": r.lr})
                      for n, r in runs.items()], ignore_index=True)


def export_frame(surface: Surface, runs: dict[str, optimizers.Run]) -> pd.DataFrame:
    """One row per (optimizer, step): position, loss, learning rate; NaN after a divergence."""
    parts = []
    for name, r in runs.items():
        parts.append(pd.DataFrame({"optimizer": name, "step": np.arange(len(r.path)), "x": r.path[:, 0],
                                   "y": r.path[:, 1], "loss": optimizers.losses(surface, r.path),
                                   "lr": np.append(r.lr, np.nan)}))
    return pd.concat(parts, ignore_index=True)
