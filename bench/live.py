"""What a refresh of the BatchNorm page's live charts costs a viewer today (issue 28's "measure it
first"): ``python -m bench live``.

One server trains one run (3,000 images an epoch, 11 epochs); one Chromium tab watches its
histograms and one its Figure 1 at the page's 1 s refresh, on a desktop (1400 × 1100) and on a
phone (390 × 844, its CPU throttled 4× through the DevTools protocol). Once the run has 1, 5 and
10 epochs of history, every tab is measured over the same window of ticks:

- renderer CPU per refresh: the DevTools ``TaskDuration`` the tab's renderer spent over the
  window, per script run (``Performance.getMetrics``; the time of its main thread's tasks, which
  on a machine as busy as this one includes some waiting for a core);
- websocket bytes the tab received per refresh;
- chart DOM nodes replaced per refresh: canvases removed from the page (Streamlit draws a chart
  anew when its data changes);
- refresh to drawn: from the fragment's rerun starting to its end or the last chart drawing in it
  (p50, p95).
"""

from __future__ import annotations

import re
import statistics
import sys
import time

from bench.bn import OBSERVE_RUNS, _refreshes

WINDOW_S = 8.0
EPOCHS_AT = (1, 5, 10)
TABS = {"histograms": "bn_tab_hist", "Figure 1": "bn_tab_time"}
# Canvases of charts that leave the page, and websocket bytes received (both counted in the tab).
OBSERVE_CHARTS = """() => {
  window.__removed = 0; window.__bytes = 0;
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.removedNodes)
      if (n.nodeType === 1) window.__removed += (n.tagName === "CANVAS" ? 1 : 0) + n.querySelectorAll("canvas").length;
  }).observe(document.body, {childList: true, subtree: true});
}"""


def _watcher(browser, server, code: str, tab: str, phone: bool):
    """A tab watching the run ``code`` on ``tab``, with its DevTools session and its counters."""
    from bnviz.ui.strings import STRINGS
    from harness.browser import wait_ready

    size = {"width": 390, "height": 844} if phone else {"width": 1400, "height": 1100}
    context = browser.new_context(viewport=size, locale="en-US", is_mobile=phone, has_touch=phone)
    page = context.new_page()
    received = {"bytes": 0}
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
        "bytes", received["bytes"] + len(payload))))
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    if phone:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.goto(server.url(f"batchnorm?watch={code}"), timeout=120_000)
    wait_ready(page, timeout=120_000)
    page.get_by_role("tab", name=STRINGS["en"][TABS[tab]]).click()
    page.locator("[data-testid='stVegaLiteChart'] canvas").first.wait_for(timeout=120_000)
    page.evaluate(OBSERVE_RUNS)
    page.evaluate(OBSERVE_CHARTS)
    return {"page": page, "cdp": cdp, "received": received, "tab": tab, "phone": phone}


def _task_s(cdp) -> float:
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def _begin(w: dict) -> dict:
    """Where one watcher's counters stand at the start of a window."""
    page = w["page"]
    return {"runs": page.evaluate("window.__runs.length"), "removed": page.evaluate("window.__removed"),
            "bytes": w["received"]["bytes"], "task": _task_s(w["cdp"])}


def _end(w: dict, at: dict) -> dict:
    """One watcher's costs per refresh since ``at`` (:func:`_begin`)."""
    page = w["page"]
    runs = page.evaluate("window.__runs")[at["runs"]:]
    refresh = sorted(_refreshes(runs, page.evaluate("window.__draws")))
    n = max(1, len(runs))
    return {"refreshes": len(runs), "cpu_ms": 1e3 * (_task_s(w["cdp"]) - at["task"]) / n,
            "kb": (w["received"]["bytes"] - at["bytes"]) / n / 1e3,
            "replaced": (page.evaluate("window.__removed") - at["removed"]) / n,
            "p50": statistics.median(refresh) if refresh else float("nan"),
            "p95": refresh[int(0.95 * (len(refresh) - 1))] if refresh else float("nan")}


def _watch_code(owner, timeout: float = 60.0) -> str:
    """The run's watch code, from the watch link its owner's page shows once it runs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = re.search(r"watch=(\w+)", owner.content())
        if found:
            return found.group(1)
        time.sleep(0.5)
    raise RuntimeError("the owner's page showed no watch link")


def _epoch(owner) -> int:
    text = owner.locator("[data-testid='stProgress']").first.inner_text()
    found = re.search(r"epoch (\d+)/", text)
    return int(found.group(1)) if found else 0


def run() -> None:
    from playwright.sync_api import sync_playwright

    from bench.common import print_table
    from harness.browser import Server, launch, open_page

    server = Server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            owner = browser.new_page(viewport={"width": 1400, "height": 1100})
            open_page(owner, server, "batchnorm?bn_subset=3000&bn_epochs=11&bn_batch=64&bn_every=5",
                      "BatchNorm live")
            owner.get_by_role("button", name="Start", exact=True).click()
            code = _watch_code(owner)
            print(f"  watching run {code}", file=sys.stderr, flush=True)
            watchers = [_watcher(browser, server, code, tab, phone) for phone in (False, True) for tab in TABS]
            for epochs in EPOCHS_AT:  # every watcher measured over the same window
                while _epoch(owner) < epochs:  # five tabs on two cores: ~30 s an epoch here
                    time.sleep(1)
                print(f"  {epochs} epoch(s) of history: measuring", file=sys.stderr, flush=True)
                started = [_begin(w) for w in watchers]
                time.sleep(WINDOW_S)
                rows += [_row(epochs, w, _end(w, at)) for w, at in zip(watchers, started)]
            browser.close()
    finally:
        server.stop()
    print_table("BatchNorm page live refresh, per refresh, one watcher each (today: every chart redrawn)", rows)


def _row(epochs: int, w: dict, m: dict) -> dict:
    return {"history": f"{epochs} epoch(s)", "screen": "phone, CPU 4× slower" if w["phone"] else "desktop",
            "tab": w["tab"], "refreshes": m["refreshes"], "renderer CPU ms": f"{m['cpu_ms']:.0f}",
            "websocket kB": f"{m['kb']:.0f}", "canvases replaced": f"{m['replaced']:.1f}",
            "refresh → drawn p50 / p95 ms": f"{m['p50']:.0f} / {m['p95']:.0f}"}
