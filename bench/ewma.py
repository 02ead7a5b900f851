"""EWMA benchmarks: our implementation vs pandas on 10^6 points; slider-to-redraw time in Chromium."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.common import best_of, print_table, redraw_row, slider_to_redraw
from bnviz import ewma

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


def browser(trials: int = 10) -> list[dict]:
    """Median time from a β-slider key press to the charts being redrawn, default data."""
    times = slider_to_redraw("ewma", "Exponentially weighted moving averages", ["ArrowRight", "ArrowLeft"], trials)
    return [redraw_row("β slider → charts redrawn (Seattle, 1,461 days)", times, "< 200 ms")]


def run() -> None:
    print_table("EWMA: ours vs pandas (best of 7)", core())
    print_table("EWMA page in Chromium", browser())
