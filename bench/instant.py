"""``python -m bench instant``: how fast the EWMA and optimizer pages answer a slider, in Chromium.

For each page, in one run: the time from an input event on the slider (a key press, or one step
of a real mouse drag) to the last drawing call on the charts' canvases, p50 and p95; the same on
a bare reference page (bench/reference_app.py: the same chart, data and parameter bound to
Vega's own range input); the script runs the server saw during the drag; Play's frames drawn per
second and the time for a 150-step animation; the websocket bytes of the first load and of one
committed change.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
import urllib.request

from bench.common import print_table
from harness.browser import ROOT, Server, free_port, launch, open_page, wait_ready

# Time of the last input event anywhere, and of the last drawing call on a chart canvas (per
# chart), and the animation frames in which a chart canvas was drawn.
HOOKS = """() => {
  window.__input = 0; window.__draw = {}; window.__frames = new Set(); window.__frame = 0;
  const tick = () => { window.__frame++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  document.addEventListener("input", () => { window.__input = performance.now(); }, true);
  const which = new WeakMap();  // canvas -> index of its chart on the page (looked up once)
  const chartOf = (canvas) => {
    if (!which.has(canvas)) {
      const chart = canvas.closest && canvas.closest("[data-testid='stVegaLiteChart']");
      which.set(canvas, chart ? [...document.querySelectorAll("[data-testid='stVegaLiteChart']")].indexOf(chart) : -1);
    }
    return which.get(canvas);
  };
  const proto = CanvasRenderingContext2D.prototype;
  for (const name of ["fill", "stroke", "fillRect", "clearRect", "fillText", "drawImage"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      const i = chartOf(this.canvas);
      if (i >= 0) {
        window.__draw[i] = performance.now();
        window.__frames.add(window.__frame);
      }
      return original.apply(this, args);
    };
  }
}"""
RUNS = """() => {
  window.__runs = 0;
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => { if (app.getAttribute("data-test-script-state") === "running") window.__runs++; })
    .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


def pct(values, q):
    s = sorted(v for v in values if v == v)  # events that redrew nothing (NaN) are left out
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def p50(values):
    return pct(values, 0.5)


def _latency(page, chart: int | None) -> float:
    """ms from the last input event to the last draw of chart ``chart`` (any chart: None)."""
    draws = page.evaluate("window.__draw")
    last = max(draws.values(), default=float("nan")) if chart is None else draws.get(str(chart), float("nan"))
    return last - page.evaluate("window.__input")


def measure(page, selector: str, keys: int = 8, moves: int = 10, settle_ms: int = 250) -> dict:
    """Key presses, then mouse-drag steps, on the slider ``selector``: latency to the first
    chart's last draw and to any chart's, in ms; script runs during the drag."""
    slider = page.locator(selector)
    slider.scroll_into_view_if_needed()
    first, every = [], []
    slider.focus()
    for i in range(keys):
        page.evaluate("window.__draw = {}")
        slider.press("ArrowLeft" if i % 2 else "ArrowRight")
        page.wait_for_timeout(settle_ms)
        first.append(_latency(page, 0))
        every.append(_latency(page, None))
    keyboard = {"first": first, "every": every}
    page.wait_for_timeout(1000)  # the keys' commit and its run are over
    wait_ready(page)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.evaluate(RUNS)
    page.mouse.move(box["x"] + 10, y)
    page.mouse.down()
    first, every = [], []
    for i in range(1, moves + 1):
        page.evaluate("window.__draw = {}")
        page.mouse.move(box["x"] + 10 + (box["width"] - 20) * i / moves, y)
        page.wait_for_timeout(settle_ms)
        first.append(_latency(page, 0))
        every.append(_latency(page, None))
    runs_during = page.evaluate("window.__runs")
    page.mouse.up()
    return {"keyboard": keyboard, "mouse": {"first": first, "every": every}, "runs_during_drag": runs_during}


class WebsocketBytes:
    """Bytes the server sends the page over its websocket (CDP), counted from ``reset``."""

    def __init__(self, page):
        self.total = 0
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.on("Network.webSocketFrameReceived", self._frame)

    def _frame(self, event):
        data = event["response"]["payloadData"]
        self.total += len(base64.b64decode(data)) if event["response"]["opcode"] == 2 else len(data.encode())

    def reset(self) -> int:
        total, self.total = self.total, 0
        return total


def reference(browser, case: str, selector="form.vega-bindings input[type=range]") -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "bench" / "reference_app.py"),
                             "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats",
                             "false", "--server.fileWatcherType", "none", "--", case],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(f"({HOOKS})()")
        page.goto(f"http://127.0.0.1:{port}/")
        page.locator(selector).wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        result = measure(page, selector)
        page.close()
        return result
    finally:
        proc.terminate()


def play(page) -> dict:
    """Play from step 0 to 150: frames in which a chart was drawn per second, and the time."""
    page.locator("#opt-step").scroll_into_view_if_needed()
    page.evaluate("window.__frames = new Set()")
    t0 = page.evaluate("performance.now()")
    page.locator("[data-row='opt-play'] button").click()
    page.wait_for_function("document.querySelector('#opt-step').value === '150'", timeout=60_000)
    seconds = (page.evaluate("performance.now()") - t0) / 1000
    frames = page.evaluate("window.__frames.size")
    return {"seconds": seconds, "fps": frames / seconds}


def page_figures(browser, server, path: str, title: str, selector: str) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    meter = WebsocketBytes(page)
    page.add_init_script(f"({HOOKS})()")
    open_page(page, server, path, title)
    page.locator("[data-testid='stVegaLiteChart'] canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    loaded = meter.reset()
    result = measure(page, selector)
    wait_ready(page)
    page.wait_for_timeout(1500)
    meter.reset()
    page.locator(selector).press("ArrowLeft")  # one committed change: the key, then quiet
    page.wait_for_timeout(1500)
    wait_ready(page)
    result["bytes_load"], result["bytes_commit"] = loaded, meter.reset()
    result["page"] = page
    return result


def rows_for(name: str, ours: dict, ref: dict) -> list[dict]:
    out = []
    for how in ("keyboard", "mouse"):
        o, r = ours[how]["first"], ref[how]["first"]
        ratio = p50(o) / max(1e-9, p50(r))
        out.append({"page": name, "input": f"{how} ({sum(v == v for v in o)} redraws)",
                    "p50 / p95 ms (first chart)": f"{p50(o):.0f} / {pct(o, 0.95):.0f}",
                    "p50 / p95 ms (every chart)": f"{p50(ours[how]['every']):.0f} / "
                                                  f"{pct(ours[how]['every'], 0.95):.0f}",
                    "bare reference p50 / p95 ms": f"{p50(r):.0f} / {pct(r, 0.95):.0f}",
                    "ours / bare (p50)": f"{ratio:.2f}", "goal": "p50 ≤ 100, p95 ≤ 200, ≤ 1.5× bare"})
    return out


def run() -> list[dict]:
    from playwright.sync_api import sync_playwright

    server = Server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            ewma = page_figures(browser, server, "ewma", "Exponentially weighted", "#ewma-b1")
            ewma["page"].close()
            opt = page_figures(browser, server, "optimizers", "Optimizers", "#opt-step")
            alpha = measure(opt["page"], "#opt-lr")
            opt["page"].goto(server.url("optimizers?step=0"))
            wait_ready(opt["page"])
            opt["page"].wait_for_timeout(1500)
            played = play(opt["page"])
            opt["page"].close()
            ref_ewma, ref_opt = reference(browser, "ewma"), reference(browser, "opt")
            browser.close()
    finally:
        server.stop()
    rows += rows_for("EWMA, β₁ slider (3 charts follow)", ewma, ref_ewma)
    rows += rows_for("optimizers, step slider", opt, ref_opt)
    for how in ("keyboard", "mouse"):
        a = alpha[how]["first"]
        rows.append({"page": "optimizers, α slider (paths, loss)", "input": f"{how} ({sum(v == v for v in a)} redraws)",
                     "p50 / p95 ms (first chart)": f"{p50(a):.0f} / {pct(a, 0.95):.0f}",
                     "p50 / p95 ms (every chart)": f"{p50(alpha[how]['every']):.0f} / "
                                                   f"{pct(alpha[how]['every'], 0.95):.0f}",
                     "bare reference p50 / p95 ms": "", "ours / bare (p50)": "", "goal": "p50 ≤ 100, p95 ≤ 200"})
    print_table("Sliders in Chromium: input event → last chart draw (one run, this machine)", rows)
    print_table("Server runs, Play and bytes", [
        {"measure": "script runs during the drag (EWMA β₁ / optimizer step / α)",
         "value": f"{ewma['runs_during_drag']} / {opt['runs_during_drag']} / {alpha['runs_during_drag']}",
         "goal": "0"},
        {"measure": "Play: frames drawn per second", "value": f"{played['fps']:.1f}", "goal": "≥ 24"},
        {"measure": "Play: 150 steps take", "value": f"{played['seconds']:.1f} s", "goal": "report"},
        {"measure": "websocket bytes, first load (EWMA / optimizers)",
         "value": f"{ewma['bytes_load'] / 1e6:.2f} MB / {opt['bytes_load'] / 1e6:.2f} MB", "goal": "< 2 MB"},
        {"measure": "websocket bytes per committed change (EWMA / optimizers)",
         "value": f"{ewma['bytes_commit'] / 1e3:.0f} kB / {opt['bytes_commit'] / 1e3:.0f} kB", "goal": "report"},
    ])
    return rows
