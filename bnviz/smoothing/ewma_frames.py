"""The tables behind the EWMA page's charts and CSV export (pandas, no Streamlit).

The page's β sliders move over a grid of β values (``BETAS``). The server computes every curve
for every β of the grid once per series, with :func:`bnviz.smoothing.ewma.ewma`; the browser then only
picks columns or rows by the slider's position. So the tables are indexed by a β position ``i``:

- :func:`curve_table`: wide — one row per drawn point, one column ``b{i}_{variant}`` per β and
  variant (a slider move picks another column, the quickest shape to select from); the raw
  values are apart (:func:`raw_table`), drawn once;
- :func:`weight_table` and :func:`lag_table`: long — rows ``(i, k, ...)`` on each β's own grid,
  because each β needs its own horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnviz.data.series import Series, downsample_indices, step_signal
from bnviz.smoothing import ewma

# β on the scale of 1−β: roughly log-spaced, containing Ng's 0.5, 0.9 and 0.98.
ONE_MINUS_BETA = (0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02, 0.015, 0.01,
                  0.007, 0.005, 0.003, 0.002, 0.001)
BETAS = tuple(round(1 - d, 6) for d in ONE_MINUS_BETA)
LAG_AT = 20  # the step of the lag demonstration happens at t = 20


def beta_label(beta: float) -> str:
    return f"β={beta:g}"


def column(i: int, variant: str) -> str:
    """The curve table's column of β position ``i`` and ``variant``."""
    return f"b{i}_{variant}"


def x_values(series: Series) -> np.ndarray:
    """Where each value is drawn: its position 1…n, or for a dated series its time in epoch
    milliseconds (a number axis with date labels draws far faster in the browser than a time
    axis; :func:`date_ticks` gives its ticks)."""
    if series.index is None:
        return np.arange(1, len(series.values) + 1)
    return series.index.astype("datetime64[ms]").astype(np.int64).astype(np.float64)


def dates(series: Series, idx: np.ndarray) -> np.ndarray:
    """The dates at positions ``idx`` as ISO text (for tooltips), or the positions."""
    if series.index is None:
        return idx + 1
    days = series.index.astype("datetime64[D]")
    return np.datetime_as_string(series.index[idx], unit="D" if np.all(days == series.index) else "m")


def date_ticks(series: Series) -> tuple[list[float], str]:
    """``(ticks, unit)``: for a dated series, axis ticks in epoch milliseconds at the first of each
    month (or each day, or each hour, for a shorter span) and that unit ("month", "day", "hour":
    the page labels them in its language); empty without dates."""
    if series.index is None or not len(series.index):
        return [], ""
    first, last = series.index.min(), series.index.max()
    for code, unit, least in (("M", "month", 3), ("D", "day", 3), ("h", "hour", 0)):
        ticks = np.arange(first.astype(f"datetime64[{code}]"), last.astype(f"datetime64[{code}]") + 1)
        if len(ticks) > least or code == "h":
            return ticks.astype("datetime64[ms]").astype(np.int64).astype(float).tolist(), unit
    return [], ""  # not reached: every span has an hour


def display_exponent(series: Series) -> int:
    """The power of ten the chart divides the values by (its axis says so), 0 for most series:
    values near the float limit would overflow the browser's axis arithmetic, values of 10⁻⁶
    and below would be labelled as zeros."""
    finite = np.abs(series.values[np.isfinite(series.values)])
    top = finite.max() if finite.size else 0.0
    if top == 0 or 1e-6 <= top < 1e12:
        return 0
    return int(np.floor(np.log10(top)))


def _scaled(values: np.ndarray, exponent: int) -> np.ndarray:
    """``values`` / 10^exponent in two halves (10^±308 alone would over- or underflow)."""
    half = exponent // 2
    return values / 10.0 ** half / 10.0 ** (exponent - half)


def raw_table(series: Series, *, first: int | None = None, max_points: int = 4000) -> tuple[pd.DataFrame, int]:
    """(table, drawn): ``t`` (1-based position), ``x``, ``date`` and the raw ``value`` of the first
    ``first`` values (all if None), downsampled for drawing, non-finite values as gaps (NaN),
    divided by 10^:func:`display_exponent`."""
    n = len(series.values) if first is None else min(first, len(series.values))
    idx = downsample_indices(series.values[:n], max_points)
    table = pd.DataFrame({"t": idx + 1, "x": x_values(series)[idx], "date": dates(series, idx),
                          "value": _scaled(series.values[idx], display_exponent(series))})
    table["value"] = table["value"].where(np.isfinite(table["value"]))
    return table, len(idx)


def curve_table(series: Series, betas=BETAS, variants=ewma.VARIANTS, *, first: int | None = None,
                max_points: int = 450) -> pd.DataFrame:
    """Every average ``b{i}_{variant}`` of the first ``first`` values (all if None) beside ``t``
    and ``x``, on at most ``max_points`` evenly spread positions (a smooth curve needs no more
    points than the chart has pixels; the browser redraws these while a slider moves). The
    averages are computed on every value, then divided by 10^:func:`display_exponent`;
    non-finite ones are drawn as gaps (NaN)."""
    n = len(series.values) if first is None else min(first, len(series.values))
    idx = _sample(n, max_points)
    cols = {"t": idx + 1, "x": x_values(series)[idx], "date": dates(series, idx)}
    exponent = display_exponent(series)
    finite = _scaled(series.values[np.isfinite(series.values)], exponent)
    # float32 halves the bytes sent where it draws the same: values it can hold, spread over more
    # than 10⁻³ of their size (float32 keeps 7 digits; 1e6 + 0.001·k would be flattened).
    small = not finite.size or (np.abs(finite).max() < 1e37 and np.ptp(finite) >= 1e-3 * np.abs(finite).max())
    for i, beta in enumerate(betas):
        for variant in variants:
            v = _scaled(ewma.variant(series.values, beta, variant)[idx], exponent)
            v = np.where(np.isfinite(v), v, np.nan)
            cols[column(i, variant)] = v.astype(np.float32) if small else v
    return pd.DataFrame(cols)


def horizon(beta: float) -> int:
    """How far the weight and lag charts look for ``beta``: three effective windows (≤ 1000)."""
    return int(min(1000, 3 * ewma.effective_window(beta))) + 1


def _sample(n: int, points: int) -> np.ndarray:
    """At most ``points`` evenly spread positions of range(n), always the first and the last."""
    return np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int))


def weight_table(betas=BETAS, points: int = 120) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(weights, marks): the weight (1−β)βᵏ of the value k steps back, per β position ``i``, for
    k up to :func:`horizon` (at most ``points`` k each); and the point k = 1/(1−β) with the
    weight left there, β^(1/(1−β)) ≈ 1/e (``decay``)."""
    rows, marks = [], []
    for i, b in enumerate(betas):
        h = horizon(b)
        k = _sample(h, points)
        rows.append(pd.DataFrame({"i": i, "beta": beta_label(b), "k": k, "weight": ewma.weights(b, h)[k]}))
        w = ewma.effective_window(b)
        marks.append({"i": i, "beta": beta_label(b), "k": w, "weight": (1 - b) * ewma.window_decay(b),
                      "decay": ewma.window_decay(b)})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(marks)


def lag_table(betas=BETAS, points: int = 150) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, table): a clean step at t = ``LAG_AT`` and, per β position ``i``, its average
    (S₁ = Y₁) on at most ``points`` t, labelled ``beta``; and per β the steps the average needs after the jump to
    cover 63 % and 95 % of it, measured on the curve, beside the closed form
    :func:`bnviz.smoothing.ewma.steps_to_fraction`. Rows of ``curves`` with ``i = -1`` are the step itself."""
    parts, table = [], []
    for i, b in enumerate(betas):
        n = LAG_AT + int(min(5000, 4 * ewma.effective_window(b))) + 5
        step = step_signal(n, LAG_AT)
        v = ewma.ewma(step, b, start="first")
        t = _sample(n, points)
        parts.append(pd.DataFrame({"i": i, "beta": beta_label(b), "t": t + 1, "value": v[t]}))
        after = v[LAG_AT:]
        measured = [int(np.argmax(after >= f - 1e-12)) + 1 if after[-1] >= f - 1e-12 else None
                    for f in (0.63, 0.95)]
        table.append({"i": i, "beta": beta_label(b), "value_of_beta": b,
                      "measured_63": measured[0], "measured_95": measured[1],
                      "formula_63": ewma.steps_to_fraction(b, 0.63),
                      "formula_95": ewma.steps_to_fraction(b, 0.95)})
    longest = LAG_AT + int(min(5000, 4 * max(ewma.effective_window(b) for b in betas))) + 5
    corners = np.array([0, LAG_AT - 1, LAG_AT, longest - 1])  # the step drawn exactly
    parts.append(pd.DataFrame({"i": -1, "beta": "", "t": corners + 1, "value": step_signal(longest, LAG_AT)[corners]}))
    return pd.concat(parts, ignore_index=True), pd.DataFrame(table)


def export_frame(series: Series, betas, variants) -> pd.DataFrame:
    """Every value and the chosen averages, one column each, for the CSV download."""
    cols = {"t": np.arange(1, len(series.values) + 1)}
    if series.index is not None:
        cols["date"] = series.index
    cols[series.name] = series.values
    for beta in betas:
        for var in variants:
            cols[f"ewma_beta{beta:g}_{var}"] = ewma.variant(series.values, beta, var)
    return pd.DataFrame(cols)
