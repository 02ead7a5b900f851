"""Timing helpers and the table printer shared by every benchmark."""

from __future__ import annotations

import statistics
import time


def best_of(fn, repeat: int = 7, warmup: int = 1) -> float:
    """Fastest of ``repeat`` runs, in seconds (the least disturbed by the rest of the machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def median(values) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[dict]) -> None:
    """rows: dicts with the same keys; printed as an aligned text table."""
    print(f"\n## {title}")
    if not rows:
        print("(no rows)")
        return
    cols = list(rows[0])
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


# Records the time of the last drawing call on a chart's canvas (Vega renders to canvas here, and
# repainting a canvas changes no DOM), and of the last DOM change inside a chart (SVG, legends).
OBSERVE_CHARTS = """() => {
  window.__lastDraw = 0;
  if (!window.__hooked) {
    window.__hooked = true;
    const proto = CanvasRenderingContext2D.prototype;
    for (const name of ["fill", "stroke", "fillRect", "clearRect", "fillText", "drawImage"]) {
      const original = proto[name];
      proto[name] = function (...args) {
        if (this.canvas.closest && this.canvas.closest("[data-testid='stVegaLiteChart']")) {
          window.__lastDraw = performance.now();
        }
        return original.apply(this, args);
      };
    }
  }
  document.querySelectorAll("[data-testid='stVegaLiteChart']").forEach(c =>
    new MutationObserver(() => { window.__lastDraw = performance.now(); })
      .observe(c, {subtree: true, childList: true, attributes: true, characterData: true}));
}"""


def slider_to_redraw(path: str, title: str, keys: list[str], trials: int = 10, settle_ms: int = 500) -> list[float]:
    """Start the app, open ``path``, and for each trial press the next of ``keys`` on the first sidebar
    slider; return the milliseconds from the key press to the last change inside any chart."""
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import Server, launch, open_page, wait_ready

    server = Server()
    times = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_page(page, server, path, title)
            page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
            page.wait_for_timeout(1500)
            thumb = page.locator("[data-testid='stSidebar'] input[type='range']").first
            thumb.focus()
            for i in range(trials):
                page.evaluate(OBSERVE_CHARTS)
                t0 = page.evaluate("performance.now()")
                thumb.press(keys[i % len(keys)])
                page.wait_for_timeout(100)
                wait_ready(page)
                page.wait_for_timeout(settle_ms)  # let Vega finish drawing
                times.append(page.evaluate("window.__lastDraw") - t0)
            browser.close()
    finally:
        server.stop()
    return times


def redraw_row(measure: str, times: list[float], goal: str) -> dict:
    return {"measure": measure, "trials": len(times), "median ms": f"{median(times):.0f}",
            "min ms": f"{min(times):.0f}", "max ms": f"{max(times):.0f}", "goal": goal}
