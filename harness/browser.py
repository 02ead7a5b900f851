"""Start ``streamlit run serve.py`` (the app with its feed route) on a free port and Debian's Chromium;
shared by tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bnviz.server.memory import ARENAS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BNVIZ_CHROMIUM", "/usr/bin/chromium")
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
# A page's progress bar: Streamlit's, or the live text a fed page draws (static/live_chart.js).
PROGRESS = "[data-testid='stProgress'], .bnviz-progress"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``streamlit run serve.py`` process (or another ``script`` of the repository, with the
    app's config); ``url(path)`` gives its addresses. With ``census`` it
    runs under harness/census.py and writes its thread list to ``census_path`` on request."""

    def __init__(self, env: dict | None = None, census: bool = False, script: str = "serve.py"):
        self.port = free_port()
        cache = ROOT / ".pytest_cache"
        self.log = open(cache / f"streamlit-{self.port}.log", "w+") if cache.is_dir() else subprocess.DEVNULL
        self.census_path = str((cache if cache.is_dir() else Path("/tmp")) / f"census-{self.port}.json")
        runner = ["harness.census", self.census_path] if census else ["streamlit"]
        cmd = [sys.executable, "-m", *runner, "run", str(ROOT / script), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        # As scripts/app.sh starts the app (a value in the environment wins there too).
        arenas = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", str(ARENAS))}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **arenas, **(env or {})})
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url("_stcore/health"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"streamlit did not start on port {self.port}")

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def server_log(self) -> str:
        if self.log is subprocess.DEVNULL:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]


# What the tests' Chromium adds (the benchmarks measure a browser as it comes): reduced motion and no
# smooth scrolling. Streamlit's animations (the running indicator, skeletons) took ~20 % of the
# renderers' CPU in the browser tests here (105 -> 85 CPU-s for the EWMA and optimizer tests) and no
# test looks at them.
QUIET_ARGS = ["--force-prefers-reduced-motion", "--disable-smooth-scrolling"]


# How often a wait for a state in the page (``page.wait_for_function``) looks again. Playwright's
# default is every animation frame: the page then draws 60 frames a second for as long as a test
# waits: ~0.06-0.09 CPU-s of Chromium a second here, against ~0.01-0.02 polling every 100 ms
# (10 s waits for an expression never true, in a kept EWMA page). The tests wait minutes in all,
# for states that take tenths of a second at least to come.
POLL_MS = 100


def poll_every(ms: int = POLL_MS) -> None:
    """Make ``Page.wait_for_function`` poll every ``ms`` unless a call says otherwise."""
    import functools

    from playwright.sync_api import Page

    method = Page.__dict__["wait_for_function"]
    if isinstance(method, functools.partialmethod):  # made so already: the function it wraps
        method = method.func
    Page.wait_for_function = functools.partialmethod(method, polling=ms)


# Chromium 156 gives each window (in headless mode, each browser context a test opens) the
# omnibox's popup, a web page in a renderer of its own: ~0.8 CPU-s a context here (8 contexts
# with a page each, opened and closed: 8.8-9.5 CPU-s of the machine, 2.2-2.9 without). The tests'
# Chromium goes without it. Chromium reads one --disable-features, the last: Playwright's own
# list is kept, these added to it.
NO_OMNIBOX_POPUP = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup")
_READ = {}  # what Playwright gives Chromium, once read


def _marker() -> str:
    """A switch Chromium ignores, to find its process by: unique to one launch."""
    return f"--bnviz-browser={os.getpid()}-{time.monotonic_ns()}"


def browser_args(marker: str) -> list[str]:
    """The command line of the Chromium launched with ``marker`` (its browser process, Linux's /proc)."""
    from harness.cpu_use import command_line

    for pid in filter(str.isdigit, os.listdir("/proc")):
        args = (command_line(int(pid)) or b"").decode(errors="replace").split("\0")
        if marker in args and not any(a.startswith("--type=") for a in args):
            return args
    raise LookupError(f"no browser process with {marker}")


def playwrights_disabled_features(playwright=None) -> list[str]:
    """The features Playwright disables in the Chromium it launches: read from the command line of
    one it launched (``playwright`` the first time), once."""
    if "disabled" not in _READ:
        marker = _marker()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS + [marker])
        try:
            given = [a.partition("=")[2] for a in browser_args(marker) if a.startswith("--disable-features=")]
        finally:
            browser.close()
        _READ["disabled"] = [f for f in (given[-1] if given else "").split(",") if f]
    return _READ["disabled"]


def launch(playwright, quiet: bool = False):
    """Debian's Chromium through Playwright (no browser download); ``quiet``: without animations
    and without the omnibox's popup (:data:`NO_OMNIBOX_POPUP`). Waits for a state in its pages
    poll every :data:`POLL_MS` (:func:`poll_every`)."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package")
    poll_every()
    if not quiet:
        return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
    disabled = ",".join(playwrights_disabled_features(playwright) + list(NO_OMNIBOX_POPUP))
    marker = _marker()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=BROWSER_ARGS + QUIET_ARGS + [marker, f"--disable-features={disabled}"])
    browser.bnviz_marker = marker  # its browser_args()
    return browser


CONTROLS_READY = "() => [...document.querySelectorAll('.bnviz-live')].every(p => p.dataset.ready)"


# The page's animations that end have ended (a progress bar filling to its new value takes a
# moment: the class board's picture showed a finished class's bar three quarters full).
SETTLED = """() => document.getAnimations().every(
    a => a.playState !== "running" || a.effect.getComputedTiming().iterations === Infinity)"""


def screenshot(page, path, settle: bool = False, **options) -> None:
    """``page.screenshot`` written whole or not at all: Home shows these files, and a server of the
    other test worker reading one half-written got 3 of its 4 pictures. ``settle``: once the
    page's animations have ended (a page that has stopped changing: on a live one they never do)."""
    if settle:
        page.wait_for_function(SETTLED, timeout=10_000)
    path = Path(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_bytes(page.screenshot(**options))
    os.replace(part, path)


def wait_ready(page, text: str | None = None, timeout: float = 30_000):
    """Wait until the script has finished (and, if given, ``text`` is on screen)."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_selector(READY, timeout=timeout)
    # The live controls' script is a module loaded once per page: until it has run, their inputs
    # hold the markup's placeholders (a range of 0..1) and no handlers.
    page.wait_for_function(CONTROLS_READY, timeout=timeout)


# What a page's live feed went through (static/live_chart.js keeps its last events), and what the
# page shows now (Streamlit's run state, the status line, its buttons), for a failure seen in CI only.
FEED_TRAIL = """() => { const f = window.bnvizFeed || {}, app = document.querySelector("[data-testid='stApp']");
    const status = document.querySelector("[data-testid='stProgress'], .bnviz-progress");
    return JSON.stringify({token: Boolean(f.token), polls: f.polls, reruns: f.reruns,
                           trail: (f.trail || []).slice(-15), script: app && app.dataset.testScriptState,
                           connection: app && app.dataset.testConnectionState,
                           status: status && status.innerText.slice(0, 80),
                           chosen: [...document.querySelectorAll("[data-testid='stMain'] button[aria-checked='true']")]
                               .map(b => b.innerText.trim()),
                           buttons: [...document.querySelectorAll("[data-testid='stMain'] button")]
                               .map(b => b.innerText.trim()).filter(Boolean).slice(0, 12)}); }"""
SCREEN_TOLD = "() => document.documentElement.dataset.bnvizScreen === 'told'"


def open_page(page, server, path: str, title: str):
    """Open an app page and wait until it is drawn for this screen: a phone's or a wide screen's
    first run is followed by another once the page helper has said so (bnviz/ui/page.js), and a
    click in between could land in the page being replaced."""
    page.goto(server.url(path))
    page.locator("h1", has_text=title).first.wait_for(timeout=30_000)
    page.wait_for_function(SCREEN_TOLD, timeout=30_000)
    wait_ready(page)
    return page


def count_runs(page) -> None:
    """Count the script runs ``page`` asks of the server from now on: the rerun requests its
    websocket sends (``BackMsg.rerun_script``). Counting the app's "running" state instead misses
    a run that starts and ends within one frame, as it can on a busy machine."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    page.bnviz_runs = 0

    def sent(payload):
        if isinstance(payload, bytes) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            page.bnviz_runs += 1

    page.on("websocket", lambda ws: ws.on("framesent", sent))


def watch_runs(page) -> None:
    """Start counting afresh (the pages of the ``page`` fixture are counted from their creation)."""
    page.evaluate("0")  # a round trip: what the page sent before is counted before the reset
    page.bnviz_runs = 0


def runs_seen(page) -> int:
    page.evaluate("0")  # … and what it sent until now, after
    return page.bnviz_runs


def chart_pixels(page, index: int = 0) -> str:
    """The pixels of chart ``index`` (its canvas), to tell whether it was redrawn."""
    return page.evaluate(f"document.querySelectorAll(\"[data-testid='stVegaLiteChart'] canvas\")[{index}].toDataURL()")


def redrawn(page, before: str, index: int = 0, timeout: float = 10.0) -> bool:
    """Whether chart ``index`` is drawn otherwise than ``before`` within ``timeout`` seconds: Vega
    draws a bound input's change on a later animation frame, which a busy machine delays."""
    try:
        page.wait_for_function(f"""before => {{
            const c = document.querySelectorAll("[data-testid='stVegaLiteChart'] canvas")[{index}];
            return Boolean(c) && c.toDataURL() !== before;
        }}""", arg=before, timeout=timeout * 1000)
        return True
    except Exception:  # Playwright's timeout: not redrawn
        return False


def settled_pixels(page, index: int = 0, timeout: float = 10.0) -> str:
    """Chart ``index``'s pixels once it is drawn (not a blank canvas, as while a chart is mounted
    again after a server run) and unchanged for 250 ms: on a busy machine a read can otherwise
    fall between two drawings."""
    page.wait_for_function(f"""() => {{
        const c = document.querySelectorAll("[data-testid='stVegaLiteChart'] canvas")[{index}];
        if (!c) return false;
        const blank = document.createElement("canvas");
        blank.width = c.width; blank.height = c.height;
        return c.toDataURL() !== blank.toDataURL();
    }}""", timeout=timeout * 1000)
    deadline = time.time() + timeout
    last = chart_pixels(page, index)
    while time.time() < deadline:
        page.wait_for_timeout(250)
        now = chart_pixels(page, index)
        if now == last:
            return now
        last = now
    return last


def drag(page, selector: str, to: float, steps: int = 12, pause_ms: int = 40) -> None:
    """Press on a range input's thumb area and drag it to fraction ``to`` of its width, without
    releasing (call ``page.mouse.up()`` to release)."""
    el = page.locator(selector)
    el.scroll_into_view_if_needed()
    box = el.bounding_box()
    # Where it stays: content above it drawn late (a formula, a chart) moves it down, and a press
    # where it was lands elsewhere; on a busy machine that can come after the scroll.
    for _ in range(30):
        page.wait_for_timeout(100)
        box, was = el.bounding_box(), box
        if box == was:
            break
    value, lo, hi = (float(el.evaluate(f"e => e.{a}")) for a in ("value", "min", "max"))
    start = (value - lo) / max(1e-9, hi - lo)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 8 + start * (box["width"] - 16), y)
    page.mouse.down()
    for i in range(1, steps + 1):
        frac = start + (to - start) * i / steps
        page.mouse.move(box["x"] + 8 + frac * (box["width"] - 16), y)
        page.wait_for_timeout(pause_ms)
