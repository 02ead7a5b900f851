"""Real-browser fixtures: ``streamlit run`` on a free port, driven by Debian's Chromium via Playwright.

A missing Chromium is a failure, never a skip: CI must prove the app works in a browser.
"""

import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from harness.browser import CHROMIUM, Server, count_runs, launch, wait_ready

# What the page shows after a server's answer (a run paused, a page drawn anew) comes when the server
# gets to it: Playwright's `expect` waits 5 s by default, under the time a page run takes here when
# both test workers and the cluster's tests beside them are busy. A wait, not a measure (speed is
# the benches'): a page that never shows it still fails.
expect.set_options(timeout=20_000)
# A closed owner's run stays watchable for the grace period (10 minutes by default): 30 s here.
# A reload is a closed page too: its run must outlive the new page's first run, the browser's
# owner token coming back and the run taken back — over 3 s, and once over 10 s (the values
# before) in the README's test command on a 2-core machine, where the reload test then found
# "Not started". A run a test leaves holds the server's one slot that long after its tab closed
# (see start).
GRACE_S = 30
# Every WebSocket the page opens, so that a test can drop the connection as a network would; while
# ``window.bnvizRefuse`` is set, a new one goes to a port where nothing listens (the server out of
# reach: Streamlit tries again and again, its page not connected).
SOCKETS = """(() => { const Native = window.WebSocket; window.bnvizSockets = [];
    window.WebSocket = function (...args) {
        const ws = window.bnvizRefuse ? new Native("ws://127.0.0.1:9/") : new Native(...args);
        window.bnvizSockets.push(ws); return ws; };
    window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native); })();"""


@pytest.fixture(scope="session")
def server():
    srv = Server(env={"BNVIZ_WATCH_GRACE": str(GRACE_S)})
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p, quiet=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def kept_pages(browser):
    """One context and page per kind of screen, kept for this worker's tests (see :func:`reused`)."""
    kept = {}
    yield kept
    for context, _ in kept.values():
        context.close()


# A page load's 'load' event waits for every file of Streamlit's frontend: with the README's test
# command keeping both cores busy, one took over Playwright's default 30 s once.
NAVIGATION_MS = 60_000


def open_context(browser, **options):
    """A browser context whose page loads may take :data:`NAVIGATION_MS`."""
    context = browser.new_context(**options)
    context.set_default_navigation_timeout(NAVIGATION_MS)
    return context


def reused(kept: dict, browser, request, kind: str, **options):
    """The page of ``kind`` (a desk, a phone, a projector: ``options`` of its context), kept from
    the test before and handed over clean: nothing stored, its websocket closed (about:blank: the
    server's session ends as when a tab closes), runs counted afresh. A page load in a fresh
    context cost Chromium ~6 CPU-s here, in a kept page ~3 (its renderer and compiled scripts
    stay): Chromium was ~40 % of the browser tests' CPU. After a failed test the page is dropped
    and the next test gets a new one."""
    context, pg = kept.get(kind, (None, None))
    if pg is None:
        context = open_context(browser, **options)
        pg = context.new_page()
        count_runs(pg)
        kept[kind] = context, pg
    pg.set_viewport_size(options["viewport"])
    pg.bnviz_runs = 0
    failed = request.session.testsfailed
    yield pg
    try:
        if request.session.testsfailed > failed:
            raise RuntimeError("a failed test's page is not handed on")
        if pg.url.startswith("http"):
            pg.evaluate("() => { window.localStorage.clear(); window.sessionStorage.clear(); }")
        pg.goto("about:blank")
        context.clear_cookies()
    except Exception:
        kept.pop(kind, None)
        context.close()


@pytest.fixture
def page(kept_pages, browser, request):
    yield from reused(kept_pages, browser, request, "desk", viewport={"width": 1400, "height": 1000},
                      locale="en-US")


@pytest.fixture
def contexts(browser):
    """``contexts(**options)`` opens a browser context that is closed when the test ends, passed or
    failed: a failed test must not leave its tab, and so its training, holding a slot of the cap."""
    made = []

    def new(**options):
        made.append(open_context(browser, **options))
        return made[-1]

    yield new
    for context in made:
        context.close()  # a second close (the test closed it already) does nothing


def no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


# Two groups of about equal length (seconds in a CI run), one per worker, each with its own server
# and Chromium: one group of every browser test kept one worker busy ~370 s while the other ran
# the pages and the core in ~290 s.
SECOND_GROUP = ("test_devices_browser", "test_optimizers_browser", "test_ewma_browser", "test_live_charts_browser")


def _group(path: str) -> str:
    return "browser-2" if any(name in path for name in SECOND_GROUP) else "browser-1"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """Browser tests share one server and one Chromium: under pytest-xdist they stay on one worker
    (``--dist loadgroup``). Run together with them (``pytest tests/browser``), the load test runs
    last, so the machine it leaves busy disturbs no other test (scripts/test.sh runs it in a
    process of its own, beside the rest)."""
    for item in items:
        path = item.nodeid.replace("\\", "/")
        if path.startswith("tests/browser/"):
            item.add_marker(pytest.mark.xdist_group(_group(path)))
    items.sort(key=lambda item: "test_load.py" in item.nodeid)


def start(page, button: str, started, within_s: float = 120.0) -> None:
    """Press the Start ``button`` until ``started`` shows: the previous test's run may hold the
    server's one slot for its grace period after its tab closed (refused: said, and pressed again
    2 s later), longer on a busy machine (in a CI run, over 36 s once with a grace of 10 s; it is
    :data:`GRACE_S`). Pressed only while it is there: a run that started slowly has no Start button."""
    press = page.get_by_role("button", name=button, exact=True)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:  # the button goes as the run starts (a page run): gone, it is not waited for
            press.first.click(timeout=3000)
            wait_ready(page)
        except PlaywrightTimeout:
            pass
        try:
            started.first.wait_for(timeout=2000)
            return
        except PlaywrightTimeout:
            pass
    raise AssertionError(f"the server refused every Start for {within_s:g} s")


PHONE_WIDTH = 390  # a phone's screen in CSS pixels (390 × 844)

# Anything drawn wider than the screen: the page itself, or a chart, control or image sticking out
# (of each, what a clip-path around it leaves: a slider's input for screen readers sits at its
# thumb, clipped to nothing; a part scrolled or cut off by an overflowing box still counts).
OVERFLOW = """() => {
  const w = window.innerWidth;
  const shown = e => { const r = e.getBoundingClientRect(); let left = r.left, right = r.right;
    for (let p = e.parentElement; p; p = p.parentElement) {
      const c = getComputedStyle(p);
      if (c.clipPath !== "none") {
        const q = p.getBoundingClientRect(); left = Math.max(left, q.left); right = Math.min(right, q.right); } }
    return {left, right}; };
  const out = [...document.querySelectorAll(
      "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg, .bnviz-chart canvas, " +
      ".bnviz-live, " +
      "[data-testid='stMain'] button, [data-testid='stMain'] img, [data-testid='stMain'] input")]
    .map(e => [e, shown(e)])
    .filter(([e, r]) => r.right > r.left && (r.left < -1 || r.right > w + 1))
    .map(([e, r]) => e.tagName + " " + Math.round(r.left) + "-" + Math.round(r.right));
  return {page: document.documentElement.scrollWidth, out};
}"""

# The app's main area scrolls, not the window; the header (≈ 60 px) covers the top of it.
SCROLL_TO = """e => { e.scrollIntoView({block: "start"}); let p = e.parentElement;
  while (p && p.scrollHeight <= p.clientHeight) p = p.parentElement; if (p) p.scrollBy(0, -70); }"""


def fits(page, settle_s: float = 10.0):
    """Nothing wider than the screen, once what moves has settled (a toast or a redraw slides in
    from the side for a moment; something that stays out for ``settle_s`` fails)."""
    deadline = time.time() + settle_s
    while True:
        found = page.evaluate(OVERFLOW)
        if found["page"] <= page.viewport_size["width"] and not found["out"]:
            return
        assert time.time() < deadline, found
        page.wait_for_timeout(250)
