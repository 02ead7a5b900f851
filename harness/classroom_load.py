"""A classroom in one process: many Chromium sessions against one server (used by the load test
and by ``python -m bench load``)."""

from __future__ import annotations

import os
import re
import statistics
import time
import urllib.request
from dataclasses import dataclass, field

from bnviz.server import memory
from bnviz.ui.strings import STRINGS
from harness import cpu_use
from harness.browser import PROGRESS, READY, Server, launch
from harness.census import proc_status, take
from harness.wire import STEP, Wire

EN = STRINGS["en"]
CAP = 2
# Still running at the end of a round, even one of 30 Chromium tabs (batch 64, 9,400 steps); the
# owners' pages refresh every 2 s (the watchers' every 5 s). A capture every 20 steps: 470, never
# thinned, so the run captures as often in every window its pace is timed in (a history thinned
# halves its captures, and the run trains faster by itself: +15 % at a capture every 5 steps).
TRAIN_QUERY = "bn_subset=12000&bn_epochs=50&bn_batch=64&bn_every=20&bn_tick=2"
OTHERS = ["", "ewma", "optimizers", "ewma?b1=0.98&src=synthetic", "optimizers?preset=adam",
          "batchnorm", "ewma?lang=zh", "optimizers?surf=saddle&lang=zh"]
# Start and end of every script or fragment run, as seen by the page.
# The whole document is observed, so a re-mounted app (after a reconnect) is still seen.
OBSERVE_RUNS = """() => {
  window.__runs = [];
  new MutationObserver((records) => {
    const now = performance.now();
    for (const r of records) {
      if (r.target.getAttribute("data-testid") !== "stApp") continue;
      if (r.target.getAttribute("data-test-script-state") === "running") window.__runs.push([now, null]);
      else if (window.__runs.length && window.__runs[window.__runs.length - 1][1] === null)
        window.__runs[window.__runs.length - 1][1] = now;
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


# A fed page's refreshes since ``t0`` (ms): from its ask for the feed to the answer read
# (static/live_chart.js keeps the times of its last polls).
FED_REFRESHES = "(t0) => ((window.bnvizFeed || {}).log || []).filter(e => e.start >= t0).map(e => e.end - e.start)"


def training_threads(pid: int) -> int:
    """OS threads of the server named by the training job (``bnviz-train-N``)."""
    count = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                count += fh.read().startswith("bnviz-train")
        except OSError:
            pass
    return count


# Streamlit's own race: a tab's socket goes away while Streamlit is closing it, its receive loop
# takes Starlette's "not connected" error for a text frame, closes the socket a second time and
# logs both (starlette_websocket.py). Nothing of ours is on the stack, and the session is gone.
WEBSOCKET_RACE = re.compile(r'in _websocket_endpoint\n\s+await websocket\.close\(\)\n(?:.*\n)*?'
                            r'.*WebSocketDisconnected: Cannot call "send" once a close message has been sent\.')
START = re.compile(r"(?m)^(?=Exception in ASGI application$|Traceback \(most recent call last\):$)")
CHAINED = ("another exception occurred:", "of the following exception:", "Exception in ASGI application")


def log_errors(log: str) -> dict:
    """The exceptions in a server log, a chained traceback counted once: ``log_errors``, and
    Streamlit's websocket-close race counted apart as ``websocket_races``."""
    events: list[str] = []
    for chunk in START.split(log)[1:]:
        if events and events[-1].rstrip().endswith(CHAINED):
            events[-1] += chunk
        else:
            events.append(chunk)
    races = [e for e in events if WEBSOCKET_RACE.search(e) and "/bnviz/" not in e and "/pages/" not in e]
    return {"log_errors": len(events) - len(races), "websocket_races": len(races)}


def leftover(census: dict, base: dict) -> dict:
    """What a census holds beyond the baseline's, apart from pool workers: Python threads by
    name, and native threads."""
    extra = list(census["python"])
    for name in base["python"]:
        if name in extra:
            extra.remove(name)
    return {"python": extra, "native": max(0, census["native"] - base["native"])}


def wait_settled(server, base: dict, timeout: float) -> tuple[dict, float]:
    """Poll the server's census until nothing but pool workers is left beyond the baseline;
    (last census, seconds waited). Pools keep their idle threads, within their caps."""
    t0 = time.time()
    census = take(server.proc.pid, server.census_path)
    while any(leftover(census, base).values()) and time.time() - t0 < timeout:
        time.sleep(0.5)
        census = take(server.proc.pid, server.census_path)
    return census, time.time() - t0


def next_request(server, since: float) -> dict:
    """What the next visitor sees: once the server has served no file for AnyIO's 10 s (since the
    last page load), fetch one of the page's static files and take the census. AnyIO stops idle
    file-serving threads only when it hands out new work, so this is when they go."""
    time.sleep(max(0.0, since + 11 - time.time()))
    html = urllib.request.urlopen(server.url(""), timeout=10).read().decode()
    asset = re.search(r'src="\.?/?(static/[^"]+\.js)"', html).group(1)
    urllib.request.urlopen(server.url(asset), timeout=10).read()
    served = time.time()
    time.sleep(0.5)
    return {**take(server.proc.pid, server.census_path), "served": served}


def sessions_after_visit(browser, server, timeout: float = 5.0) -> int:
    """Open and close one more page, as the next student would. Streamlit drops closed sessions
    whose reconnect window has passed when it next stores one, so afterwards only that page's own
    session should be alive; poll a few seconds for it."""
    active_jobs(browser, server)
    t0 = time.time()
    alive = take(server.proc.pid, server.census_path)["sessions"]
    while alive > 1 and time.time() - t0 < timeout:
        time.sleep(0.5)
        alive = take(server.proc.pid, server.census_path)["sessions"]
    return alive


def active_jobs(browser, server) -> int:
    """The server's own count of running or paused trainings, as a fresh page shows it."""
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(server.url("batchnorm"))
    page.wait_for_selector(READY, timeout=60_000)
    caption = page.get_by_text(re.compile(r"trainings on this server: \d+")).first.inner_text()
    ctx.close()
    return int(re.search(r"server: (\d+)", caption).group(1))


# Streamlit keeps a closed tab's session for 120 s so that a dropped connection can resume it.
# The load test (and its soak, ``python -m bench load``) keeps them 5 s, so each round starts
# without the last one's sessions and any memory a round leaves behind is ours.
SESSION_TTL = 5
WATCH_TICK = 5.0  # seconds between a watcher's refreshes (the slowest live setting: 30 tabs share 2 cores here)
REFRESH_P95_MS = 2000  # the goal for a watcher's refresh (#13)
OPEN_BATCH = 6  # tabs opened together; the next batch once these are ready, as a class arrives
PANEL_CYCLE = ("loss", "hist", "time", "bn", "grad", "test", "hand", "smooth")


def classroom(starters: int = 5, watchers: int = 30, others: int = 3, rounds: int = 1, watch_s: float = 15.0,
              browser=None, session_ttl: int | None = None, tabs: int | None = None, unwatched_s: float = 0.0,
              settle_s: float = 0.0, wired_extras: bool = False) -> dict:
    """A warm-up round, then ``rounds`` measured ones, on one server. Each round: a teacher
    presses Start and ``watchers`` students open the teacher's watch link, spread over the
    panels, every third in Chinese; ``starters − 1`` more press Start of their own against the
    server's cap of ``CAP``; ``others`` open the other pages. It records every watcher's refresh
    and progress, tries to change the run from a watcher's page, then closes everything and
    waits for the trainings to stop (after the runs' grace period) and the server's threads to
    come back to those after the warm-up. Worker pools (AnyIO's file-serving threads,
    ``concurrent.futures`` executors such as Streamlit's file poller) are counted apart: they
    grow with the load and keep idle threads for reuse, up to their caps. ``session_ttl`` sets
    Streamlit's reconnect window for closed tabs (default 120 s).

    The first ``tabs`` watchers (default: all) are Chromium tabs; the others are wire tabs
    (harness/wire.py), which ask for the same refreshes and draw nothing (a class of thirty fits
    on a small machine; one sends the owner's buttons' clicks from the watch link); with
    ``wired_extras``, so are the other starters and pages (a Start pressed, its answer read).

    With ``settle_s``, each measured round then watches again that much later (a page just loaded
    keeps its renderer busy for tens of seconds); with ``unwatched_s``, it then closes its watchers
    and times the teacher's run for that long, everything else as it was: its pace unwatched."""
    from playwright.sync_api import sync_playwright

    if browser is None:  # stand-alone (the benchmark): a Playwright of our own
        with sync_playwright() as p:
            b = launch(p)
            try:
                return classroom(starters, watchers, others, rounds, watch_s, browser=b, session_ttl=session_ttl,
                                 tabs=tabs, unwatched_s=unwatched_s, settle_s=settle_s, wired_extras=wired_extras)
            finally:
                b.close()
    # CAP trainings on this machine's cores, each its share (the app's cap, one per two cores, is
    # raised here), so their OpenMP threads do not fight. Closed owners' runs go 2 s later.
    env = {"BNVIZ_MAX_JOBS": str(CAP), "BNVIZ_WATCH_GRACE": "2",
           "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // CAP))}
    if session_ttl is not None:  # how long the server keeps a closed tab's session for reconnecting
        env["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(session_ttl)
    server = Server(env=env, census=True)
    pid, out = server.proc.pid, {"training": starters, "watchers": watchers, "cap": CAP, "rounds": []}
    try:
        # The warm-up round brings every pool and cache to its working size: its watchers open
        # every panel and language the measured rounds will, once each, without live refresh: one
        # in Chromium (it tries to change the run), the others as wire tabs (the server's side of
        # a watcher is the same; each Chromium tab's first load costs its renderer ~3 s of CPU).
        # The teacher, the other starters and the other pages are as in the rounds.
        tabs = watchers if tabs is None else min(tabs, watchers)
        out["warmup"] = _round(browser, server, pid, None, starters, sorted(set(watch_views(watchers))), others,
                               0.0, tick=0.0, tabs=1, wired_extras=wired_extras)
        time.sleep(3)
        base = {**proc_status(pid), **take(pid, server.census_path, trim=True)}  # memory as kept (take)
        out["baseline"] = base
        for _ in range(rounds):
            out["rounds"].append(_round(browser, server, pid, base, starters, watch_views(watchers), others,
                                        watch_s, tabs=tabs, unwatched_s=unwatched_s, settle_s=settle_s,
                                        wired_extras=wired_extras))
        out.update(log_errors(server.server_log()))
    finally:
        server.stop()
    return out


def step_shown(page) -> int | None:
    """The step the page's progress bar shows (None before it shows one)."""
    bars = page.locator(PROGRESS)
    found = STEP.search(bars.first.inner_text()) if bars.count() else None
    return int(found.group(1) or found.group(2)) if found else None


CONTROLS = ("bn_start", "bn_pause", "bn_stop", "bn_reset", "bn_step", "bn_resume")
CONTROL_LABELS = {STRINGS[lang][k] for lang in STRINGS for k in CONTROLS}  # any language


def run_controls(page) -> int:
    """Buttons of the page that control a run. Streamlit's own "Stop" in the page's header (shown
    while a refresh runs) stops that page's script, not the run: only the app's area counts."""
    app = page.locator("[data-testid='stMain'], [data-testid='stSidebar']")
    return sum(app.get_by_role("button", name=EN[k], exact=True).count() for k in CONTROLS)


def _following(page) -> None:
    """Wait until a watcher's page shows the run's step."""
    page.wait_for_function("""(selector) => {
        const bar = document.querySelector(selector);
        return bar && /step \\d+\\/|第 \\d+\\/\\d+ 步/.test(bar.innerText);
    }""", arg=PROGRESS, timeout=180_000)


def _open(browser, server, path: str, locale: str = "en-US"):
    ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(server.url(path), wait_until="commit", timeout=180_000)
    return ctx, page


def _start_wired(wire: Wire, tab, running: str, refused: str) -> None:
    """:func:`_start` from a wire tab."""
    wire.wait(lambda: EN["bn_start"] in tab.buttons or tab.problems, 120, "a Start button")
    wire.press(tab, EN["bn_start"])
    wire.wait(lambda: running in tab.status or any(refused in text for text in tab.texts) or tab.problems, 60,
              "the answer to a Start")


def _start(page, running: str, refused: str) -> None:
    page.get_by_role("button", name=EN["bn_start"]).click()
    # Wait for the answer: the progress bar says training, or the refusal says why.
    page.wait_for_function(
        """([running, refused, selector]) => {
            const bar = document.querySelector(selector);
            return (bar && bar.innerText.includes(running)) || document.body.innerText.includes(refused);
        }""", arg=[running, refused, PROGRESS], timeout=60_000)


def _say(t0: float, what: str) -> None:
    if os.environ.get("BNVIZ_LOAD_VERBOSE"):
        print(f"  [{time.time() - t0:6.1f} s] {what}", flush=True)


def watch_views(n: int) -> list[tuple[str, str]]:
    """(panel, language) of ``n`` watchers: spread over the panels, every third in Chinese."""
    return [(PANEL_CYCLE[i % len(PANEL_CYCLE)], "zh" if i % 3 == 2 else "en") for i in range(n)]


@dataclass
class _Class:
    """One round's class once it has arrived: every page and wire tab, and the teacher's run."""

    browser: object
    server: Server
    pid: int
    t0: float
    wire: Wire
    contexts: list = field(default_factory=list)
    teacher: object = None
    starts: list = field(default_factory=list)  # the pages that press Start of their own
    watch_pages: list = field(default_factory=list)  # the Chromium watchers
    other_pages: list = field(default_factory=list)
    wired_extras: bool = False  # the other starters and pages as wire tabs
    wired_starts: list = field(default_factory=list)
    wired_others: list = field(default_factory=list)
    wired: list = field(default_factory=list)  # the wire watchers
    code: str = ""  # the teacher's watch code
    strides: set = field(default_factory=set)  # the teacher's run's capture strides its pace was timed at

    def open(self, path: str, locale: str = "en-US"):
        ctx, page = _open(self.browser, self.server, path, locale)
        self.contexts.append(ctx)
        return page

    @property
    def pages(self) -> list:
        return [self.teacher, *self.starts, *self.watch_pages, *self.other_pages]


def _arrive(c: _Class, starters: int, views, others: int, tick: float, tabs: int, texts: tuple) -> None:
    """The teacher presses Start; the other starters, the watchers (Chromium tabs in batches, wire
    tabs over one tick, as a class arrives) and the other pages open; every watcher follows the run."""
    c.teacher = c.open(f"batchnorm?{TRAIN_QUERY}")
    c.teacher.wait_for_selector(READY, timeout=120_000)
    _start(c.teacher, *texts)
    _say(c.t0, "teacher started")
    census = take(c.pid, c.server.census_path)
    [teacher_run] = census["runs"]
    c.code = teacher_run["code"]
    if c.wired_extras:
        c.wired_starts = [c.wire.open(c.server.port, f"batchnorm?{TRAIN_QUERY}") for _ in range(starters - 1)]
    else:
        c.starts = [c.open(f"batchnorm?{TRAIN_QUERY}") for _ in range(starters - 1)]
    link = f"batchnorm?watch={c.code}&bn_view={{}}&lang={{}}&bn_tick={tick:g}"
    c.wired = [c.wire.open(c.server.port, link.format(panel, lang),
                           delay=i * max(tick, 1.0) / max(1, len(views) - tabs))
               for i, (panel, lang) in enumerate(views[tabs:])]
    for i, (panel, lang) in enumerate(views[:tabs]):
        c.watch_pages.append(c.open(link.format(panel, lang), "zh-CN" if lang == "zh" else "en-US"))
        if (i + 1) % OPEN_BATCH == 0:
            for pg in c.watch_pages[-OPEN_BATCH:]:
                _following(pg)
            _say(c.t0, f"{i + 1} watchers ready")
    if c.wired_extras:
        c.wired_others = [c.wire.open(c.server.port, OTHERS[i % len(OTHERS)]) for i in range(others)]
    else:
        c.other_pages = [c.open(OTHERS[i % len(OTHERS)]) for i in range(others)]
    for page in [c.teacher, *c.starts, *c.other_pages]:
        page.wait_for_selector(READY, timeout=180_000)
    for page in c.watch_pages:  # a live page is seldom between two refreshes: it shows a step
        _following(page)
    c.wire.wait(lambda: all(w.steps or w.problems for w in c.wired), 120, "every wire watcher shows the run's step")
    c.wire.wait(lambda: all(w.runs or w.problems for w in [*c.wired_starts, *c.wired_others]), 180,
                "the other starters' and pages' first runs")


def _watch(c: _Class, watch_s: float) -> dict:
    """Every watcher follows the run for ``watch_s``: its step moves, its refreshes stay quick."""
    first = [step_shown(pg) for pg in c.watch_pages] + [w.last_step() for w in c.wired]
    run_then, then = _teachers_run(c)
    used_then = cpu_use.read(c.pid)
    for w in c.wired:
        w.refreshes.clear()
    since = []  # each Chromium watcher's clock when the window began
    for pg in c.watch_pages:
        pg.evaluate(OBSERVE_RUNS)
        since.append(pg.evaluate("performance.now()"))
    _say(c.t0, "watching")
    time.sleep(watch_s)
    refresh = []
    for pg, t0 in zip(c.watch_pages, since):  # fragment runs, and a fed page's asks for its feed
        refresh += [end - start for start, end in pg.evaluate("window.__runs") if end is not None]
        refresh += pg.evaluate(FED_REFRESHES, t0)
    last = [step_shown(pg) for pg in c.watch_pages] + [w.last_step() for w in c.wired]
    refresh += [1e3 * w for tab in c.wired for w in tab.refreshes]  # ms, as the pages' own
    trained, run_now = _pace(c, (run_then["steps"], then))
    cores = cpu_use.cores(used_then, cpu_use.read(c.pid))
    ticks = new_ticks(run_then["ticks"], run_now["ticks"])
    return {"refresh": sorted(refresh), "ticks": sorted(ticks), "run_now": run_now, "trained": trained,
            "cores": cores, "advanced": sum(a is not None and b is not None and b > a for a, b in zip(first, last))}


def new_ticks(before: list, after: list, overlap: int = 5) -> list:
    """The server times of refreshes that ``after`` holds beyond ``before``: two readings of a
    run's latest refreshes (a window's start and end; the run keeps its latest 2000), so that a
    window's figures are its own refreshes', not the class's page loads before it. The newest of
    ``before`` are found in ``after`` (``overlap`` of them in a row); if none is left, all of
    ``after`` is new."""
    tail = before[-overlap:]
    if not tail:
        return list(after)
    for end in range(len(after), len(tail) - 1, -1):
        if after[end - len(tail):end] == tail:
            return after[end:]
    return list(after)


def _settled(c: _Class, settle_s: float, watch_s: float) -> dict:
    """A window ``settle_s`` after the first (:func:`_watch`; empty without)."""
    if not settle_s:
        return {}
    time.sleep(settle_s)
    return _watch(c, watch_s)


def _teachers_run(c: _Class) -> tuple[dict, float]:
    """The teacher's run as the server's census has it, and the census's time (its capture
    stride noted: every window of its pace is timed from these)."""
    census = take(c.pid, c.server.census_path)
    run = next(r for r in census["runs"] if r["code"] == c.code)
    c.strides.add(run["stride"])
    return run, census["time"]


def _rate(then: tuple, now: tuple) -> float:
    """Steps per second between two marks (steps, time)."""
    return (now[0] - then[0]) / max(1e-9, now[1] - then[1])


def _pace(c: _Class, since: tuple) -> tuple[float, dict]:
    """The teacher's run's steps per second since ``since`` (steps, time), and its census entry."""
    run_now, now = _teachers_run(c)
    return _rate(since, (run_now["steps"], now)), run_now


def _mark(c: _Class) -> tuple[int, float]:
    """The teacher's run's steps, and the census's time."""
    run_now, now = _teachers_run(c)
    return run_now["steps"], now


def _unwatched(c: _Class, seconds: float, parts: int = 2) -> tuple[list[float], dict]:
    """Every watcher gone (their tabs closed; the teacher, the other Starts and the other pages
    stay): the teacher's run's steps per second over ``seconds`` once their sessions wound down,
    in ``parts`` windows one after another, and the cores used over them all (:mod:`cpu_use`).
    How far the windows differ is the measure's own noise: with nothing changed, the run's pace
    moved by up to 7 % from one 15 s window to the next here."""
    keep = [page.context for page in [c.teacher, *c.starts, *c.other_pages]]
    for context in c.contexts:
        if context not in keep:
            context.close()
    c.contexts = keep
    time.sleep(5)
    marks, used_then = [_mark(c)], cpu_use.read(c.pid)
    for _ in range(parts):
        time.sleep(seconds / parts)
        marks.append(_mark(c))
    return [_rate(then, now) for then, now in zip(marks, marks[1:])], cpu_use.cores(used_then, cpu_use.read(c.pid))


def _try_to_change(c: _Class, run_now: dict) -> dict:
    """A watcher cannot change the run: no control on its page, the owner's settings in its link
    change nothing, and the owner's buttons' clicks sent by widget id from the watch link neither."""
    controls_seen = run_controls(c.watch_pages[0])
    owner_controls = run_controls(c.teacher)  # the same count sees the owner's controls
    forged = c.open(f"batchnorm?watch={c.code}&bn_lr=5&bn_epochs=1&bn_subset=512")
    forged.wait_for_selector(READY, timeout=60_000)
    forged_buttons = run_controls(forged)
    wired_controls = sum(label in CONTROL_LABELS for w in c.wired for label in w.buttons)
    owner_page = c.wire.open(c.server.port, f"batchnorm?{TRAIN_QUERY}")
    c.wire.wait(lambda: owner_page.runs or owner_page.problems, 60, "an owner's page")
    owner_ids = tuple(i for label, i in owner_page.buttons.items() if label in CONTROL_LABELS)
    clicker = c.wire.open(c.server.port, f"batchnorm?watch={c.code}")
    c.wire.wait(lambda: clicker.runs or clicker.problems, 60, "the clicking watcher's page")
    if owner_ids:
        before_clicks = clicker.runs
        c.wire.press(clicker, ids=owner_ids)
        c.wire.wait(lambda: clicker.runs > before_clicks or clicker.problems, 60, "the forged clicks' run")
    run_after = next(r for r in take(c.pid, c.server.census_path)["runs"] if r["code"] == c.code)
    unchanged = run_after["lr"] == run_now["lr"] and run_after["epochs"] == run_now["epochs"] \
        and run_after["state"] == run_now["state"] == "running"
    return {"watcher_controls": controls_seen + forged_buttons + wired_controls, "owner_controls": owner_controls,
            "owner_ids_clicked": len(owner_ids), "run_unchanged": unchanged}


def _close(c: _Class, base: dict | None) -> dict:
    """Every tab closed: how soon the trainings stop and the server's threads, sessions and memory
    come back to the baseline's (the warm-up, ``base`` None, only counts)."""
    for ctx in c.contexts:
        ctx.close()
    c.wire.close()
    t_closed = time.time()
    _say(c.t0, "closed")
    # The server's own count (its census), not a page opened every second to read it: each
    # Chromium page costs seconds of CPU, and its files would restart AnyIO's idle clock.
    jobs = take(c.pid, c.server.census_path)["jobs"]
    while jobs and time.time() - t_closed < 30:
        time.sleep(0.5)
        jobs = take(c.pid, c.server.census_path)["jobs"]
    last_visit = t_closed  # the last page load, and so the last file AnyIO served, was before the close
    while training_threads(c.pid) and time.time() - t_closed < 30:
        time.sleep(0.2)
    jobs_gone_s = time.time() - t_closed
    if base is None:
        census, waited, left = take(c.pid, c.server.census_path), 0.0, {"python": [], "native": 0}
    else:
        census, waited = wait_settled(c.server, base, timeout=max(1.0, 30 - jobs_gone_s))
        waited += jobs_gone_s
        left = leftover(census, base)
    # The memory the server keeps: after a trim, as at the baseline (it trims every 30 s itself; a
    # reading between two of its trims also counted what the runs just ended had freed: 14–35 MB for
    # two runs trained 25 s and released, in a process of their own).
    after = take(c.pid, c.server.census_path, trim=True)
    nxt = next_request(c.server, last_visit) if base is not None else None
    alive = sessions_after_visit(c.browser, c.server) if base is not None else None
    # Python's objects once the closed tabs' sessions are gone (as at the baseline), not while
    # their reconnect window still holds them.
    blocks = take(c.pid, c.server.census_path)["blocks"] if base is not None else census["blocks"]
    return {"runs_after": len(census["runs"]), "training_threads_after": training_threads(c.pid), "jobs_after": jobs,
            "jobs_gone_s": round(jobs_gone_s, 1), "threads_after": census["total"], "threads_back_s": round(waited, 1),
            "pools_after": census["pools"], "left_python": left["python"], "left_native": left["native"],
            "threads_next_request": nxt and nxt["total"], "pools_next_request": nxt and nxt["pools"],
            "next_request_s": nxt and round(nxt["served"] - t_closed, 1), "rss_after_mb": round(after["rss_mb"]),
            "heap_after": after["heap"],
            "blocks_after": blocks, "sessions_after": census["sessions"], "sessions_after_visit": alive}


def _percentile(q: list, share: float, scale: float = 1.0, digits: int = 0):
    return round(scale * q[min(len(q) - 1, int(share * len(q)))], digits) if q else None


def _round(browser, server, pid, base, starters, views, others, watch_s, tick: float = WATCH_TICK,
           tabs: int | None = None, unwatched_s: float = 0.0, settle_s: float = 0.0,
           wired_extras: bool = False) -> dict:
    """One round of a class (see :func:`classroom`): its figures, and what it left behind."""
    c = _Class(browser, server, pid, time.time(), Wire(), wired_extras=wired_extras)
    texts = (f"{EN['bn_state_running']} · ", EN["err_job_cap"].split("{")[0].strip())
    _arrive(c, starters, views, others, tick, len(views) if tabs is None else tabs, texts)
    opened_s = time.time() - c.t0
    _say(c.t0, "all open")
    for page in c.starts:
        _start(page, *texts)
    for tab in c.wired_starts:
        _start_wired(c.wire, tab, *texts)
    started = [pg for pg in [c.teacher, *c.starts] if texts[0] in pg.locator(PROGRESS).first.inner_text()] \
        + [tab for tab in c.wired_starts if texts[0] in tab.status]
    refused = [pg for pg in c.starts if pg.get_by_text(texts[1]).count()] \
        + [tab for tab in c.wired_starts if any(texts[1] in text for text in tab.texts)]
    at_peak = take(pid, server.census_path)
    peak = {**proc_status(pid), "pools": at_peak["pools"], "arenas": at_peak["arenas"]}
    peak_training = training_threads(pid)
    watched = _watch(c, watch_s)
    settled = _settled(c, settle_s, watch_s)
    tried = _try_to_change(c, watched["run_now"])
    exceptions = sum(pg.locator("[data-testid='stException']").count() for pg in c.pages) \
        + sum(len(w.exceptions) for w in c.wire.tabs)
    _say(c.t0, "checked")
    unwatched, cores_unwatched = _unwatched(c, unwatched_s) if unwatched_s else (None, None)
    closed = _close(c, base)
    wire_problems = [p for w in c.wire.tabs for p in w.problems] + c.wire.problems
    q, ticks = watched["refresh"], watched["ticks"]
    return {"live": tick > 0, "round_s": round(time.time() - c.t0, 1), "opened_s": round(opened_s, 1),
            "started": len(started), "refused": len(refused), "exceptions": exceptions,
            "watchers": len(c.watch_pages) + len(c.wired), "watchers_advanced": watched["advanced"], "ticks": len(q),
            "refresh_median_ms": round(statistics.median(q)) if q else None,
            "refresh_p95_ms": _percentile(q, 0.95),
            "tick_server_median_ms": round(1e3 * statistics.median(ticks), 1) if ticks else None,
            "tick_server_p95_ms": _percentile(ticks, 0.95, 1e3, 1),
            "images_per_s_watched": round(watched["trained"] * 64),
            "images_per_s_settled": round(settled["trained"] * 64) if settled else None,
            "cores": {"arrived": watched["cores"], "settled": settled.get("cores"), "unwatched": cores_unwatched},
            "images_per_s_unwatched": unwatched and round(statistics.fmean(unwatched) * 64),
            "images_per_s_unwatched_parts": unwatched and [round(p * 64) for p in unwatched],
            "capture_strides": sorted(c.strides), **tried,
            "wire_watchers": len(c.wired),
            "wire_problems": wire_problems, "peak_threads": peak["threads"], "peak_pools": peak["pools"],
            "peak_rss_mb": round(peak["rss_mb"]), "peak_arenas": peak["arenas"],
            "training_threads_peak": peak_training, **closed}


def sessions_from_env(default: int = 20) -> int:
    return int(os.environ.get("BNVIZ_LOAD_SESSIONS", default))


def tabs_from_env(default: int) -> int:
    return int(os.environ.get("BNVIZ_LOAD_TABS", default))


def rounds_from_env(default: int) -> int:
    return int(os.environ.get("BNVIZ_LOAD_ROUNDS", default))


BRIEF = ("live", "round_s", "peak_arenas", "started", "refused", "exceptions", "watchers", "watchers_advanced", "ticks",
         "refresh_median_ms", "refresh_p95_ms", "tick_server_median_ms", "watcher_controls", "owner_controls",
         "owner_ids_clicked", "wire_watchers", "wire_problems",
         "run_unchanged", "runs_after", "jobs_after", "jobs_gone_s", "training_threads_peak",
         "training_threads_after", "left_python", "left_native", "threads_back_s", "pools_after",
         "threads_next_request", "sessions_after_visit", "blocks_after", "rss_after_mb", "heap_after", "threads",
         "rss_mb", "heap")


def check(result: dict) -> list[str]:
    """Everything a class must leave as it found it, as a list of problems (empty: all held)."""
    problems = []

    def need(ok, what, r):
        if not ok:  # the figures that say why, not the whole round (the CI log keeps little)
            shown = {k: v for k, v in r.items() if k in BRIEF} if isinstance(r, dict) else r
            problems.append(f"{what}: {shown}")

    # No exception in the server log but Streamlit's own websocket-close race (see log_errors).
    need(result["log_errors"] == 0, "the server logged an exception", result["log_errors"])
    for r in [result["warmup"], *result["rounds"]]:
        _check_round(need, r, result["training"])
    for r in result["rounds"]:
        _check_after(need, r, result["baseline"])
    for first, last in zip(result["rounds"], result["rounds"][1:]):
        # Over several rounds (the soak): a new pool per round would be a leak, and each round
        # ends where the one before did (5 % for the allocator's noise).
        need(len(last["pools_after"]) <= len(first["pools_after"]), "a new pool per round (threads left behind)",
             (first, last))
        need(last["rss_after_mb"] <= 1.05 * first["rss_after_mb"], "memory grows round after round",
             (first, last))
    return problems


def _check_round(need, r: dict, training: int) -> None:
    """What held while a round's class was there."""
    need(r["exceptions"] == 0, "an exception on a page", r)
    # The cap held: exactly CAP trainings ran, every other Start was refused with its reason.
    need(r["started"] == min(CAP, training) and r["refused"] == training - r["started"], "the cap", r)
    # Every watcher's page kept refreshing under load and followed the run.
    if r["live"]:  # the warm-up's watchers load once, without live refresh
        need(r["watchers_advanced"] == r["watchers"] and r["ticks"] >= r["watchers"],
             "a watcher's page stopped following the run", r)
        # A refresh ends long before the next is due (every WATCH_TICK s): the median within
        # 1 s, the 95th percentile within REFRESH_P95_MS.
        need(r["refresh_median_ms"] is not None and r["refresh_median_ms"] <= 1000
             and r["refresh_p95_ms"] <= REFRESH_P95_MS,
             f"watchers' refresh median over 1 s or p95 over {REFRESH_P95_MS / 1000:g} s", r)
    # A watcher cannot change the run, not even with the owner's settings in its link.
    need(r["watcher_controls"] == 0 and r["run_unchanged"], "a watcher could change the run", r)
    need(r["owner_controls"] > 0 and r["owner_ids_clicked"] > 0,
         "the controls were not found on the owner's page either", r)
    # Every wire tab kept its connection and read what the server sent.
    need(r["wire_problems"] == [], "a wire watcher failed", r)
    need(r["runs_after"] == 0, "a run kept after its grace period", r)
    need(r["jobs_after"] == 0 and r["jobs_gone_s"] <= 30, "trainings left after the close", r)
    # Each job's OS threads carry its name (its OpenMP team inherits it): all gone after close.
    need(r["training_threads_peak"] >= r["started"] and r["training_threads_after"] == 0,
         "training threads left behind", r)


def _check_after(need, r: dict, base: dict) -> None:
    """What a measured round left behind, against the warm-up's baseline."""
    # Within 30 s of the close nothing is left beyond the warm-up baseline (Python threads by
    # name, native ones by count) but idle pool workers, each pool within its cap: AnyIO's
    # file-serving threads (Streamlit's 28 tokens) and concurrent.futures executors.
    need(r["left_python"] == [] and r["left_native"] == 0 and r["threads_back_s"] <= 30,
         "threads left behind", r)
    need(all(n <= most for n, most in r["pools_after"].values()), "a pool over its cap", r)
    # AnyIO stops threads idle for 10 s when it next hands out work: after the next visitor's
    # request (11 s after the last page load) the process has no more threads than at the
    # baseline. (When that request comes is the test's own pace, not the server's.)
    need(r["threads_next_request"] is not None and r["threads_next_request"] <= base["threads"],
         "threads left behind after the next request", r)
    # Every closed tab's session is freed once its reconnect window has passed: after one more
    # visit only that visit's session is alive. Nothing of ours keeps a session.
    need(r["sessions_after_visit"] <= 1, "sessions kept after their tabs closed", r)
    # No Python objects pile up: the allocator's blocks stay within 1 % of the baseline's,
    # and the process within 20 % of its settled footprint after the warm-up.
    need(r["blocks_after"] <= 1.01 * base["blocks"], "Python objects left behind (memory)", r)
    need(r["rss_after_mb"] <= 1.20 * base["rss_mb"], "memory above the baseline", r)
    # Thirty tabs' page runs, each in a thread of its own, share the app's malloc arenas
    # (bnviz/server/memory.py) instead of each keeping one.
    need(r["peak_arenas"] <= memory.ARENAS, "more malloc arenas than the app allows", r)
