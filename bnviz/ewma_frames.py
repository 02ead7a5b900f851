"""Tidy tables behind the EWMA page's charts and CSV export (pandas, no Streamlit).

Curves are labelled by β (``beta_label``) and variant key (``ewma.VARIANTS``); the UI layer
translates the variant keys before drawing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnviz import ewma
from bnviz.series import Series, downsample_indices, step_signal


def beta_label(beta: float) -> str:
    return f"β={beta:g}"


def smooth_all(series: Series, betas, variants) -> dict[tuple[float, str], np.ndarray]:
    """Every requested (β, variant) average of the whole series."""
    return {(b, v): ewma.variant(series.values, b, v) for b in betas for v in variants}


def x_values(series: Series) -> np.ndarray:
    return series.index if series.index is not None else np.arange(1, len(series.values) + 1)


def chart_frames(series: Series, smoothed: dict, *, first: int | None = None,
                 max_points: int = 4000) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(raw, curves, drawn) for the chart: the first ``first`` values (all if None), downsampled.

    Non-finite values are dropped from the drawing (they become gaps in the lines).
    """
    n = len(series.values) if first is None else min(first, len(series.values))
    idx = downsample_indices(series.values[:n], max_points)
    x = x_values(series)[idx]
    raw = pd.DataFrame({"x": x, "value": series.values[idx]})
    raw = raw[np.isfinite(raw["value"].to_numpy())]
    parts = []
    for (beta, var), v in sorted(smoothed.items(), key=lambda kv: kv[0][0]):  # smoothest drawn last, on top
        vals = v[idx]
        vals = np.where(np.isfinite(vals), vals, np.nan)
        parts.append(pd.DataFrame({"x": x, "curve": beta_label(beta), "variant": var,
                                   "series": f"{beta_label(beta)} {var}", "value": vals}))
    curves = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["x", "curve", "variant", "series", "value"])
    return raw, curves, len(idx)


def export_frame(series: Series, smoothed: dict) -> pd.DataFrame:
    """Every value and every average, one column each, for the CSV download."""
    cols = {"t": np.arange(1, len(series.values) + 1)}
    if series.index is not None:
        cols["date"] = series.index
    cols[series.name] = series.values
    for (beta, var), v in smoothed.items():
        cols[f"ewma_beta{beta:g}_{var}"] = v
    return pd.DataFrame(cols)


def weights_frames(betas, *, horizon: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(weights, marks): (1−β)βᵏ for k up to ~3 windows, and the point k = 1/(1−β)."""
    horizon = horizon or int(min(1000, 3 * max(ewma.effective_window(b) for b in betas))) + 1
    rows, marks = [], []
    for b in betas:
        w = ewma.weights(b, horizon)
        rows.append(pd.DataFrame({"k": np.arange(horizon), "weight": w, "curve": beta_label(b)}))
        k = ewma.effective_window(b)
        marks.append({"k": k, "weight": (1 - b) * b ** k, "curve": beta_label(b)})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(marks)


def lag_frames(betas, *, n: int | None = None, at: int = 20) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(curves, table, input_key): a clean step and its EWMAs (start='first'), plus measured lag.

    The table holds, per β, the steps the average needs after the jump to cover 63 % and 95 %
    of it (measured on the curve) next to the closed form ``ewma.steps_to_fraction``.
    """
    n = n or at + int(min(5000, 4 * max(ewma.effective_window(b) for b in betas))) + 5
    step = step_signal(n, at)
    x = np.arange(1, n + 1)
    parts = [pd.DataFrame({"x": x, "value": step, "curve": "input"})]
    table = []
    for b in betas:
        v = ewma.ewma(step, b, start="first")
        parts.append(pd.DataFrame({"x": x, "value": v, "curve": beta_label(b)}))
        after = v[at:]
        measured = [int(np.argmax(after >= f - 1e-12)) + 1 if after[-1] >= f - 1e-12 else None
                    for f in (0.63, 0.95)]
        table.append({"beta": b, "measured_63": measured[0], "measured_95": measured[1],
                      "formula_63": ewma.steps_to_fraction(b, 0.63), "formula_95": ewma.steps_to_fraction(b, 0.95)})
    return pd.concat(parts, ignore_index=True), pd.DataFrame(table), "input"
