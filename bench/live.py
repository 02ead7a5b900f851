"""What a refresh of the BatchNorm page's live charts costs a viewer, and what scrubbing its
history costs: ``python -m bench live``.

Before the live charts (bnviz/ui/live_chart.py; af6c43c, where every refresh replaced every
chart's data and Streamlit redrew it), the same bench measured per refresh: renderer CPU 290–600
ms on a desktop and ~0.9–1.1 s on the throttled phone, 21–103 kB of websocket, 0–0.6 canvases
replaced, refresh → drawn p95 0.7–1.3 s on the phone.

One server trains one run as the page's defaults do (60,000 images an epoch, batches of 256, a
capture every 10 steps), 14 epochs; one Chromium tab watches its histograms and one its Figure 1
at the page's 1 s refresh, on a desktop (1400 × 1100) and on a phone (390 × 844, its CPU
throttled 4× through the DevTools protocol while it is measured). Once the run has 1, 5 and 10
epochs of history, the desktop's two tabs are measured over one window of ticks, then the phone's
two over the next, the other screen's tabs frozen meanwhile (DevTools'
``Page.setWebLifecycleState``; each viewer has a device of its own, and a throttled phone's thread
spins: measured together, the desktop tabs' time was in good part waiting for a core the phones
took; the epoch each window began at is shown):

- renderer CPU per refresh: the DevTools ``TaskDuration`` the tab's renderer spent over the
  window, per script run (``Performance.getMetrics``; the time of its main thread's tasks, which
  on a machine as busy as this one includes waiting for a core: two tabs and a training on two),
  and the median of its seconds (read every second of the window; one refresh a second),
  its main thread's CPU time (``ThreadTime``: the CPU it used; not shown for a throttled phone,
  whose thread the throttling keeps spinning), and the live charts' time: from a message's
  arrival to its rows drawn (``static/live_chart.js``; a chart's includes the time it waited
  behind the charts before it);
- bytes the tab received per refresh: the websocket's and the feed's answers as the page reads
  them, and of it on the wire: the feed's answers as they crossed the network, gzipped by the
  server (DevTools' ``encodedDataLength``, headers included; the websocket's counted as read);
  and per capture the run made in the window (the charts over time receive every capture, so what
  a refresh brings them grows with the training's pace; the histogram grid, while its scrubber
  follows the newest capture, receives that capture alone);
- chart DOM nodes replaced per refresh: canvases removed from the page (Streamlit draws a chart
  anew when its data changes);
- refresh to drawn: from the fragment's rerun starting to its end or the last chart drawing in it
  (p50, p95);
- scrubbing (after the 10-epoch window, the histograms tabs): the step scrubber moved to 15
  captures in turn, as a drag does (input events): from each input to the last chart drawing it
  caused (p50, p95), and the server runs it asked for.
"""

from __future__ import annotations

import re
import statistics
import sys
import time

from bench.bn import OBSERVE_RUNS, _refreshes

WINDOW_S = 8.0
SETTLE_S = 2.0  # a tab active again first draws what came while it was frozen: not measured
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


# The time the tab's live charts spent on the refreshes (rows in, Vega's dataflow, drawing), in ms.
CHARTS_BUSY = "() => Object.values(window.bnvizCharts || {}).reduce((sum, s) => sum + s.busyMs, 0)"


def _websocket_bytes(page) -> dict:
    """The bytes of the websocket messages ``page`` receives from now on: {"bytes": …}."""
    received = {"bytes": 0}
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
        "bytes", received["bytes"] + len(payload))))
    return received


def _on_the_wire(cdp) -> dict:
    """The feed's answers as they came over the network (gzipped by the server, headers included),
    counted by DevTools: {"bytes": …}. The page's own count is of the characters once unzipped."""
    got, asked = {"bytes": 0}, set()
    cdp.send("Network.enable")
    cdp.on("Network.requestWillBeSent",
           lambda e: asked.add(e["requestId"]) if e["request"]["url"].endswith("/bnviz/feed") else None)
    cdp.on("Network.loadingFinished", lambda e: got.__setitem__("bytes", got["bytes"] + e["encodedDataLength"])
           if e["requestId"] in asked else None)
    return got


def _watcher(browser, server, code: str, tab: str, phone: bool):
    """A tab watching the run ``code`` on ``tab``, with its DevTools session and its counters."""
    from bnviz.ui.strings import STRINGS
    from harness.browser import wait_ready

    size = {"width": 390, "height": 844} if phone else {"width": 1400, "height": 1100}
    context = browser.new_context(viewport=size, locale="en-US", is_mobile=phone, has_touch=phone)
    page = context.new_page()
    received = _websocket_bytes(page)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    wire = _on_the_wire(cdp)
    page.goto(server.url(f"batchnorm?watch={code}"), timeout=120_000)
    wait_ready(page, timeout=120_000)
    page.get_by_role("tab", name=STRINGS["en"][TABS[tab]]).click()
    page.locator(".bnviz-chart canvas >> visible=true").first.wait_for(timeout=120_000)
    page.locator(".bnviz-chart >> visible=true").first.scroll_into_view_if_needed()  # as a viewer looks at it
    page.evaluate(OBSERVE_RUNS)
    page.evaluate(OBSERVE_CHARTS)
    return {"page": page, "cdp": cdp, "received": received, "wire": wire, "tab": tab, "phone": phone}


def _lifecycle(watchers: list[dict], state: str) -> None:
    """The tabs ``frozen`` (no task of theirs runs: no poll, no drawing) or ``active`` again."""
    for w in watchers:
        w["cdp"].send("Page.setWebLifecycleState", {"state": state})


def _throttled(watchers: list[dict], on: bool) -> None:
    """The phones' CPU 4× slower while they are measured. Between windows they run at full speed:
    four throttled renderers took so much of the two cores that the run's tenth epoch took over
    20 minutes to come. A second lets a phone's backlog show before a window begins."""
    for w in watchers:
        if w["phone"]:
            w["cdp"].send("Emulation.setCPUThrottlingRate", {"rate": 4 if on else 1})
    if on:
        time.sleep(1.0)


def _task_s(cdp, name: str = "TaskDuration") -> float:
    """The renderer's main thread in seconds: ``TaskDuration``, the time of its tasks (on a busy
    machine including waits for a core), or ``ThreadTime``, the CPU it used."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == name)


def _each_second(watchers: list[dict], seconds: float) -> list[list[float]]:
    """Each watcher's ``TaskDuration`` in ms over every second of a window of ``seconds`` (one
    refresh a second: a median of these is a refresh's typical cost, which a slow second, such as
    a garbage collection or a wait for a core, does not move as it moves the mean)."""
    last = [_task_s(w["cdp"]) for w in watchers]
    each = [[] for _ in watchers]
    t0 = time.time()
    for k in range(1, int(seconds) + 1):
        time.sleep(max(0.0, t0 + k - time.time()))
        now = [_task_s(w["cdp"]) for w in watchers]
        for got, before, after in zip(each, last, now):
            got.append(1e3 * (after - before))
        last = now
    return each


# The captures the page holds: the step scrubber's last position.
CAPTURES = "() => Number((document.getElementById('bn-scrub') || {}).max || 0)"
# The page's feed (static/live_chart.js): polls, characters received, the last polls' times.
FEED = """() => { const f = window.bnvizFeed || {};
    return {polls: f.polls || 0, chars: f.received || 0, log: f.log || []}; }"""


def _begin(w: dict) -> dict:
    """Where one watcher's counters stand at the start of a window."""
    page = w["page"]
    feed = page.evaluate(FEED)
    return {"runs": page.evaluate("window.__runs.length"), "removed": page.evaluate("window.__removed"),
            "captures": page.evaluate(CAPTURES),
            "bytes": w["received"]["bytes"], "task": _task_s(w["cdp"]),
            "thread": _task_s(w["cdp"], "ThreadTime"), "charts": page.evaluate(CHARTS_BUSY),
            "polls": feed["polls"], "chars": feed["chars"], "wire": w["wire"]["bytes"]}


def _end(w: dict, at: dict) -> dict:
    """One watcher's costs per refresh since ``at`` (:func:`_begin`). A refresh is a script run of
    the live fragment or, on a fed page, a poll of its feed (its answer's characters counted with
    the websocket's bytes)."""
    page = w["page"]
    feed = page.evaluate(FEED)
    polls = feed["polls"] - at["polls"]
    runs = page.evaluate("window.__runs")[at["runs"]:]
    runs = sorted(runs + (feed["log"][-polls:] if polls else []), key=lambda r: r["start"])
    refresh = sorted(_refreshes(runs, page.evaluate("window.__draws")))
    n = max(1, len(runs))
    return {"refreshes": len(runs), "polls": polls, "cpu_ms": 1e3 * (_task_s(w["cdp"]) - at["task"]) / n,
            "thread_ms": 1e3 * (_task_s(w["cdp"], "ThreadTime") - at["thread"]) / n,
            "kb": (w["received"]["bytes"] - at["bytes"] + feed["chars"] - at["chars"]) / n / 1e3,
            "wire_kb": (w["received"]["bytes"] - at["bytes"] + w["wire"]["bytes"] - at["wire"]) / n / 1e3,
            "captures": page.evaluate(CAPTURES) - at["captures"],
            "charts_ms": (page.evaluate(CHARTS_BUSY) - at["charts"]) / n,
            "replaced": (page.evaluate("window.__removed") - at["removed"]) / n,
            "p50": statistics.median(refresh) if refresh else float("nan"),
            "p95": refresh[int(0.95 * (len(refresh) - 1))] if refresh else float("nan")}


def _watch_code(owner, timeout: float = 60.0) -> str:
    """The run's watch code, from the watch link its owner's page shows once it runs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = re.search(r"watch=([A-Za-z0-9_-]+)", owner.content())
        if found:
            return found.group(1)
        time.sleep(0.5)
    raise RuntimeError("the owner's page showed no watch link")


def _epoch(owner) -> int:
    from harness.browser import PROGRESS

    text = owner.locator(PROGRESS).first.inner_text()
    found = re.search(r"epoch (\d+)/", text)
    return int(found.group(1)) if found else 0


def run() -> None:
    from playwright.sync_api import sync_playwright

    from bench.common import print_table
    from harness.browser import PROGRESS, Server, launch, open_page

    server = Server()
    rows = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            owner = browser.new_page(viewport={"width": 1400, "height": 1100})
            # The run must outlast the windows that begin at its 10th epoch (its end, drawn whole,
            # must not count as a refresh), an epoch must last longer than a window (with 12,000
            # images an epoch and the phones frozen, the windows began at epochs 2, 8 and 14), and
            # its history must not be thinned (at 500 captures: every viewer then receives the
            # whole history again): 331 captures here.
            open_page(owner, server, "batchnorm?bn_epochs=14&bn_batch=256&bn_every=10",
                      "BatchNorm live")
            owner.get_by_role("button", name="Start", exact=True).click()
            code = _watch_code(owner)
            # Paused while the watchers open (a throttled phone takes a while): the run's history is
            # then the same for every window, however long they took.
            owner.get_by_role("button", name="Pause", exact=True).click()
            print(f"  watching run {code}", file=sys.stderr, flush=True)
            watchers = [_watcher(browser, server, code, tab, phone) for phone in (False, True) for tab in TABS]
            owner.get_by_role("button", name="Resume", exact=True).click()
            for epochs in EPOCHS_AT:
                while _epoch(owner) < epochs:
                    time.sleep(1)
                print(f"  {epochs} epoch(s) of history: measuring", file=sys.stderr, flush=True)
                for phone in (False, True):  # one screen's tabs over a window, the other's frozen
                    measured = [w for w in watchers if w["phone"] == phone]
                    _lifecycle([w for w in watchers if w["phone"] != phone], "frozen")
                    _lifecycle(measured, "active")
                    _throttled(measured, True)
                    time.sleep(SETTLE_S)
                    at_epoch = _epoch(owner)
                    started = [_begin(w) for w in measured]
                    each_second = _each_second(measured, WINDOW_S)
                    rows += [_row(at_epoch, w, {**_end(w, at), "second_ms": statistics.median(ms)})
                             for w, at, ms in zip(measured, started, each_second)]
                    _throttled(measured, False)
            _lifecycle(watchers, "active")
            while "finished" not in owner.locator(PROGRESS).first.inner_text():
                time.sleep(1)  # scrubbing a finished run: no refresh draws or runs in between
            time.sleep(3)
            _throttled(watchers, True)
            scrubs = [_scrubbing(w) for w in watchers if w["tab"] == "histograms"]
            browser.close()
    finally:
        server.stop()
    print_table("BatchNorm page live refresh, per refresh, one watcher each (live charts: rows appended)", rows)
    print_table("Scrubbing the history in the browser: input → every chart drawn", scrubs)


# Move the scrubber to ``positions`` one after another, as a drag does; for each, the time from the
# input to the last chart drawing it caused (drawing settled for 150 ms), measured in the page.
SCRUB = """async (positions) => {
  const el = document.getElementById("bn-scrub"), took = [];
  const lastDraw = () => window.__draws[window.__draws.length - 1] || 0;
  // Drawing has settled once nothing was drawn for 150 ms after ``since`` (waiting at most 3 s for a first draw).
  const settled = (since) => new Promise((done) => { const check = () => {
    const last = lastDraw(), now = performance.now();
    if ((last > since && now - last > 150) || now - since > 3000) done(last); else setTimeout(check, 10); };
    check(); });
  for (const p of positions) {
    await settled(performance.now() - 200);
    const t0 = performance.now();
    el.value = String(p); el.dispatchEvent(new Event("input"));
    const last = await settled(t0);
    took.push(last > t0 ? last - t0 : NaN);
  }
  return took;
}"""


def _scrubbing(w: dict) -> dict:
    from harness.browser import CONTROLS_READY

    page = w["page"]
    page.wait_for_function(CONTROLS_READY)  # the scrubber's range is the server's, not the markup's 0..1
    last = int(page.locator("#bn-scrub").get_attribute("max"))
    positions = [round(last * i / 14) for i in range(14, -1, -1)]
    runs = page.evaluate("window.__runs.length")
    took = sorted(page.evaluate(SCRUB, positions))  # NaN (nothing drawn within 3 s) sorts last
    return {"screen": "phone, CPU 4× slower" if w["phone"] else "desktop", "captures": last + 1,
            "moves": len(took), "input → drawn p50 / p95 ms": f"{statistics.median(took):.0f} / "
                                                             f"{took[int(0.95 * (len(took) - 1))]:.0f}",
            "server runs": page.evaluate("window.__runs.length") - runs}


def _row(epochs: int, w: dict, m: dict) -> dict:
    return {"history": f"{epochs} epoch(s)", "screen": "phone, CPU 4× slower" if w["phone"] else "desktop",
            "tab": w["tab"], "refreshes": m["refreshes"], "of them fed": m["polls"],
            "renderer CPU ms": f"{m['cpu_ms']:.0f}", "of a second, median ms": f"{m['second_ms']:.0f}",
            "its main thread's CPU time ms": "—" if w["phone"] else f"{m['thread_ms']:.0f}",
            "of it, the live charts ms": f"{m['charts_ms']:.1f}",
            "websocket + feed kB": f"{m['kb']:.1f}", "of it on the wire (feed gzipped) kB": f"{m['wire_kb']:.1f}",
            "kB read per capture made": f"{m['kb'] * m['refreshes'] / m['captures']:.2f}" if m["captures"] else "—",
            "canvases replaced": f"{m['replaced']:.1f}",
            "refresh → drawn p50 / p95 ms": f"{m['p50']:.0f} / {m['p95']:.0f}"}


def alone() -> list[dict]:
    """One tab alone on a training run, refreshed every second by Streamlit running the live
    fragment (``streamlit run app.py``: no feed route) and then fed (``serve.py``): renderer CPU
    per second (DevTools TaskDuration over 10 s) and the bytes it received (websocket + feed),
    on the histograms and Figure 1 tabs, at full speed and with the CPU throttled 4×."""
    from playwright.sync_api import sync_playwright

    from bnviz.ui.strings import STRINGS
    from harness.browser import Server, launch, open_page

    en = STRINGS["en"]
    rows = []
    for script, refresh in (("app.py", "the fragment runs"), ("serve.py", "fed")):
        server = Server(script=script)
        try:
            with sync_playwright() as p:
                context = launch(p).new_context(viewport={"width": 1400, "height": 1100})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                wire = _on_the_wire(cdp)
                received = _websocket_bytes(page)
                open_page(page, server, "batchnorm?bn_subset=30000&bn_epochs=12&bn_batch=64&bn_every=10",
                          en["bn_title"])
                page.get_by_role("button", name=en["bn_start"]).click()
                for tab, name in (("bn_tab_hist", "histograms"), ("bn_tab_time", "Figure 1")):
                    page.get_by_role("tab", name=en[tab]).click()
                    page.locator(".bnviz-chart canvas >> visible=true").first.wait_for(timeout=60_000)
                    page.locator(".bnviz-chart >> visible=true").first.scroll_into_view_if_needed()
                    for rate in (1, 4):
                        cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                        page.wait_for_timeout(3000)
                        at = (_task_s(cdp), received["bytes"], page.evaluate(FEED)["chars"], wire["bytes"],
                              _task_s(cdp, "ThreadTime"))
                        page.wait_for_timeout(10_000)
                        thread = _task_s(cdp, "ThreadTime") - at[4]
                        cpu, ws, fed, zipped = (_task_s(cdp) - at[0], received["bytes"] - at[1],
                                                page.evaluate(FEED)["chars"] - at[2], wire["bytes"] - at[3])
                        rows.append({"refresh": refresh, "tab": name, "CPU": "4× slower" if rate == 4 else "full",
                                     "renderer CPU ms per s": f"{cpu * 100:.0f}",
                                     "its main thread's CPU time ms per s": f"{thread * 100:.0f}",
                                     "websocket + feed kB per s": f"{(ws + fed) / 1e4:.1f}",
                                     "of it on the wire (feed gzipped) kB per s": f"{(ws + zipped) / 1e4:.1f}"})
                    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        finally:
            server.stop()
    return rows
