"""EWMA benchmarks: our implementation vs pandas on 10^6 points; slider-to-redraw time in Chromium."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.common import best_of, median, print_table
from bnviz import ewma as E

N = 1_000_000


def core(n: int = N) -> list[dict]:
    x = np.random.default_rng(0).normal(size=n)
    s = pd.Series(x)
    cases = [
        ("v0=0, bias-corrected", lambda: E.ewma(x, 0.98, bias_correction=True),
         "ewm(adjust=True)", lambda: s.ewm(alpha=0.02, adjust=True).mean()),
        ("S1=Y1", lambda: E.ewma(x, 0.98, start="first"),
         "ewm(adjust=False)", lambda: s.ewm(alpha=0.02, adjust=False).mean()),
        ("v0=0, uncorrected", lambda: E.ewma(x, 0.98),
         "ewm(adjust=False)", lambda: s.ewm(alpha=0.02, adjust=False).mean()),
    ]
    x_nan = x.copy()
    x_nan[::100] = np.nan
    s_nan = pd.Series(x_nan)
    cases.append(("corrected, 1% NaN", lambda: E.ewma(x_nan, 0.98, bias_correction=True),
                  "ewm(adjust=True, ignore_na=True)", lambda: s_nan.ewm(alpha=0.02, ignore_na=True).mean()))
    rows = []
    for ours_name, ours, ref_name, ref in cases:
        t_ours, t_ref = best_of(ours), best_of(ref)
        rows.append({"case (10^6 points, β=0.98)": ours_name, "ours ms": f"{t_ours * 1e3:.1f}",
                     "pandas": ref_name, "pandas ms": f"{t_ref * 1e3:.1f}",
                     "ours / pandas": f"{t_ours / t_ref:.2f}", "goal": "≤ 1.5"})
    return rows


# Records the time of the last DOM change inside the first chart (Vega renders SVG).
OBSERVE = """() => {
  const chart = document.querySelector("[data-testid='stVegaLiteChart']");
  window.__lastDraw = 0;
  new MutationObserver(() => { window.__lastDraw = performance.now(); })
    .observe(chart, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def browser(trials: int = 10) -> list[dict]:
    """Median time from a β-slider key press to the main chart's last redraw, default data."""
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import Server, launch, open_page, wait_ready

    server = Server()
    try:
        with sync_playwright() as p:
            b = launch(p)
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            open_page(page, server, "ewma", "Exponentially weighted moving averages")
            page.locator("[data-testid='stVegaLiteChart'] svg.marks").first.wait_for()
            page.wait_for_timeout(1000)
            page.evaluate(OBSERVE)
            thumb = page.locator("[data-testid='stSidebar'] input[type='range']").first
            thumb.focus()
            times = []
            for i in range(trials):
                expected = "≈ 14.3 values" if i % 2 == 0 else "≈ 10 values"
                t0 = page.evaluate("performance.now()")
                thumb.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
                page.locator("[data-testid='stMetricValue']", has_text=expected).first.wait_for()
                wait_ready(page)
                page.wait_for_timeout(400)  # let Vega finish drawing
                times.append(page.evaluate("window.__lastDraw") - t0)
            b.close()
    finally:
        server.stop()
    return [{"measure": "β slider → main chart redrawn (Seattle, 1,461 days)", "trials": trials,
             "median ms": f"{median(times):.0f}", "min ms": f"{min(times):.0f}", "max ms": f"{max(times):.0f}",
             "goal": "< 200 ms"}]


def run() -> None:
    print_table("EWMA: ours vs pandas (best of 7)", core())
    print_table("EWMA page in Chromium", browser())
