"""EWMA benchmarks: our implementation vs pandas on 10^6 points; slider-to-redraw time in Chromium."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.common import best_of, print_table
from bnviz.smoothing import ewma

N = 1_000_000


def core(n: int = N) -> list[dict]:
    x = np.random.default_rng(0).normal(size=n)
    s = pd.Series(x)
    cases = [
        ("v0=0, bias-corrected", lambda: ewma.ewma(x, 0.98, bias_correction=True),
         "ewm(adjust=True)", lambda: s.ewm(alpha=0.02, adjust=True).mean()),
        ("S1=Y1", lambda: ewma.ewma(x, 0.98, start="first"),
         "ewm(adjust=False)", lambda: s.ewm(alpha=0.02, adjust=False).mean()),
        ("v0=0, uncorrected", lambda: ewma.ewma(x, 0.98),
         "ewm(adjust=False)", lambda: s.ewm(alpha=0.02, adjust=False).mean()),
    ]
    x_nan = x.copy()
    x_nan[::100] = np.nan
    s_nan = pd.Series(x_nan)
    cases.append(("corrected, 1% NaN", lambda: ewma.ewma(x_nan, 0.98, bias_correction=True),
                  "ewm(adjust=True, ignore_na=True)", lambda: s_nan.ewm(alpha=0.02, ignore_na=True).mean()))
    rows = []
    for ours_name, ours, ref_name, ref in cases:
        t_ours, t_ref = best_of(ours), best_of(ref)
        rows.append({"case (10^6 points, β=0.98)": ours_name, "ours ms": f"{t_ours * 1e3:.1f}",
                     "pandas": ref_name, "pandas ms": f"{t_ref * 1e3:.1f}",
                     "ours / pandas": f"{t_ours / t_ref:.2f}", "goal": "≤ 1.5"})
    return rows


def page_tables() -> list[dict]:
    """What the page computes once per series: every β of the slider's grid, every variant."""
    from bnviz.data import series
    from bnviz.smoothing import ewma_frames

    temps = series.temperatures("temp_max")
    big = series.Series(np.random.default_rng(0).normal(size=N), "noise")
    t_temps = best_of(lambda: (ewma_frames.raw_table(temps), ewma_frames.curve_table(temps)), repeat=5)
    t_big = best_of(lambda: (ewma_frames.raw_table(big), ewma_frames.curve_table(big)), repeat=2)
    t_side = best_of(lambda: (ewma_frames.weight_table(), ewma_frames.lag_table()), repeat=5)
    grid = len(ewma_frames.BETAS) * len(ewma.VARIANTS)
    return [{"table": f"Seattle, 1,461 days × {grid} curves", "ms": f"{t_temps * 1e3:.1f}"},
            {"table": f"10^6 values × {grid} curves (drawn: 4,000 raw points, curves 450)", "ms": f"{t_big * 1e3:.0f}"},
            {"table": "weights and lag, every β", "ms": f"{t_side * 1e3:.1f}"}]


def chart_spec() -> list[dict]:
    """The EWMA chart's spec for a series whose column name (its value axis's title) is new: built
    by Altair for each title, or built once and the title written in (``vega_spec``'s ``texts``)."""
    import itertools

    from bnviz.smoothing import ewma_frames
    from bnviz.ui import vega
    from bnviz.ui.smoothing import charts

    shape = dict(labels=[ewma_frames.beta_label(b) for b in ewma_frames.BETAS],
                 variants={v: v for v in ewma.VARIANTS}, ticks=[], few=False, zoom=False)
    names = itertools.count()

    def spec(**how):
        words = dict(tick_format="", x_title="Step", y_title=f"column {next(names)}", curve_title="β",
                     variant_title="Variant", raw_label="raw")
        return vega.vega_spec(charts.smoothing_chart, {}, **shape, **words, **how)

    t_built = best_of(spec, repeat=5)
    t_written = best_of(lambda: spec(texts=charts.TEXTS))
    return [{"a new column's title": "the spec built for it (Altair, to_dict)", "ms": f"{t_built * 1e3:.0f}",
             "built / written": ""},
            {"a new column's title": "written into the spec built once", "ms": f"{t_written * 1e3:.2f}",
             "built / written": f"{t_built / t_written:.0f}"}]


def run() -> None:
    print_table("EWMA: ours vs pandas (best of 7)", core())
    print_table("EWMA page: what the server computes once per series (best of runs)", page_tables())
    print_table("EWMA page: the chart's spec for a series with a new column name (best of runs)", chart_spec())
