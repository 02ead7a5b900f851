"""A classroom in one process: many Chromium sessions against one server (used by the load test
and by ``python -m bench load``)."""

from __future__ import annotations

import os
import re
import statistics
import time
import urllib.request

from bnviz.ui.strings import STRINGS
from tests.browser.census import take
from tests.browser.harness import READY, Server, launch

EN = STRINGS["en"]
CAP = 2
TRAIN_QUERY = "bn_subset=6000&bn_epochs=30&bn_batch=64&bn_every=5"  # still running at the end
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


def proc_status(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return {"threads": int(fields["Threads"]), "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}


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
    time.sleep(0.5)
    return take(server.proc.pid, server.census_path)


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


def classroom(sessions: int = 20, training: int = 5, rounds: int = 2, watch_s: float = 10.0,
              browser=None, session_ttl: int | None = None) -> dict:
    """A warm-up round, then ``rounds`` measured ones. Each opens ``sessions`` browser sessions
    spread over the pages, presses Start on ``training`` of them (the server's cap is ``CAP``),
    records the live page's refresh, closes everything, and waits for the server's trainings to
    stop and its threads to come back to those after the warm-up. Worker pools (AnyIO's
    file-serving threads, ``concurrent.futures`` executors such as Streamlit's file poller) are
    counted apart: they grow with the load and keep idle threads for reuse, up to their caps.
    ``session_ttl`` sets Streamlit's reconnect window for closed tabs (default 120 s)."""
    from playwright.sync_api import sync_playwright

    if browser is None:  # stand-alone (the benchmark): a Playwright of our own
        with sync_playwright() as p:
            b = launch(p)
            try:
                return classroom(sessions, training, rounds, watch_s, browser=b, session_ttl=session_ttl)
            finally:
                b.close()
    env = {"BNVIZ_MAX_JOBS": str(CAP)}
    if session_ttl is not None:  # how long the server keeps a closed tab's session for reconnecting
        env["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(session_ttl)
    server = Server(env=env, census=True)
    pid = server.proc.pid
    out = {"sessions": sessions, "training": training, "cap": CAP, "rounds": []}
    try:
        out["warmup"] = _round(browser, server, pid, None, sessions, training, watch_s)
        time.sleep(3)
        base = {**proc_status(pid), **take(pid, server.census_path)}
        out["baseline"] = base
        for _ in range(rounds):
            out["rounds"].append(_round(browser, server, pid, base, sessions, training, watch_s))
        out.update(log_errors(server.server_log()))
    finally:
        server.stop()
    return out


def _round(browser, server, pid, base, sessions, training, watch_s) -> dict:
    t0 = time.time()
    contexts, pages = [], []
    for i in range(sessions):
        ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        path = f"batchnorm?{TRAIN_QUERY}" if i < training else OTHERS[i % len(OTHERS)]
        page.goto(server.url(path), wait_until="commit")
        contexts.append(ctx)
        pages.append(page)
    for page in pages:
        page.wait_for_selector(READY, timeout=120_000)
    opened_s = time.time() - t0
    refused_text = EN["err_job_cap"].split("{")[0].strip()
    running = f"{EN['bn_state_running']} · "
    for page in pages[:training]:
        page.get_by_role("button", name=EN["bn_start"]).click()
        # Wait for the answer: the progress bar says training, or the refusal says why.
        page.wait_for_function(
            """([running, refused]) => {
                const bar = document.querySelector("[data-testid='stProgress']");
                return (bar && bar.innerText.includes(running)) || document.body.innerText.includes(refused);
            }""", arg=[running, refused_text], timeout=60_000)
    started = [pg for pg in pages[:training]
               if running in pg.locator("[data-testid='stProgress']").first.inner_text()]
    refused = [pg for pg in pages[:training] if pg.get_by_text(refused_text).count()]
    peak = {**proc_status(pid), "pools": take(pid, server.census_path)["pools"]}
    peak_training = training_threads(pid)
    # The live page keeps refreshing under load: record its fragment runs for a while.
    refresh, progress = [], []
    if started:
        watch = started[0]
        bar = watch.locator("[data-testid='stProgress']").first
        progress.append(bar.inner_text())
        watch.evaluate(OBSERVE_RUNS)
        time.sleep(watch_s)
        runs = watch.evaluate("window.__runs")
        refresh = [end - start for start, end in runs if end is not None]
        progress.append(bar.inner_text())
    exceptions = sum(pg.locator("[data-testid='stException']").count() for pg in pages)
    for ctx in contexts:
        ctx.close()
    t_closed = time.time()
    jobs = active_jobs(browser, server)
    while jobs and time.time() - t_closed < 30:
        time.sleep(1)
        jobs = active_jobs(browser, server)
    last_visit = time.time()  # the last page load, and so the last file AnyIO served
    while training_threads(pid) and time.time() - t_closed < 30:
        time.sleep(0.2)
    jobs_gone_s = time.time() - t_closed
    if base is None:
        census, waited, left = take(pid, server.census_path), 0.0, {"python": [], "native": 0}
    else:
        census, waited = wait_settled(server, base, timeout=max(1.0, 30 - jobs_gone_s))
        waited += jobs_gone_s
        left = leftover(census, base)
    after = proc_status(pid)
    nxt = next_request(server, last_visit) if base is not None else None
    alive = sessions_after_visit(browser, server) if base is not None else None
    q = sorted(refresh)
    return {"opened_s": round(opened_s, 1), "started": len(started), "refused": len(refused),
            "exceptions": exceptions, "ticks": len(q), "progress_moved": len(set(progress)) > 1,
            "refresh_median_ms": round(statistics.median(q)) if q else None,
            "refresh_p95_ms": round(q[min(len(q) - 1, int(0.95 * len(q)))]) if q else None,
            "peak_threads": peak["threads"], "peak_pools": peak["pools"], "peak_rss_mb": round(peak["rss_mb"]),
            "training_threads_peak": peak_training, "training_threads_after": training_threads(pid),
            "jobs_after": jobs, "jobs_gone_s": round(jobs_gone_s, 1),
            "threads_after": census["total"], "threads_back_s": round(waited, 1),
            "pools_after": census["pools"], "left_python": left["python"],
            "left_native": left["native"],
            "threads_next_request": nxt and nxt["total"], "pools_next_request": nxt and nxt["pools"],
            "next_request_s": nxt and round(time.time() - t_closed, 1),
            "rss_after_mb": round(after["rss_mb"]), "blocks_after": census["blocks"],
            "sessions_after": census["sessions"], "sessions_after_visit": alive}


def sessions_from_env(default: int = 20) -> int:
    return int(os.environ.get("BNVIZ_LOAD_SESSIONS", default))


def rounds_from_env(default: int) -> int:
    return int(os.environ.get("BNVIZ_LOAD_ROUNDS", default))


def check(result: dict) -> list[str]:
    """Everything a class must leave as it found it, as a list of problems (empty: all held)."""
    problems = []

    def need(ok, what, r):
        if not ok:
            problems.append(f"{what}: {r}")

    # No exception in the server log but Streamlit's own websocket-close race (see log_errors).
    need(result["log_errors"] == 0, "the server logged an exception", result["log_errors"])
    training = result["training"]
    for r in [result["warmup"], *result["rounds"]]:
        need(r["exceptions"] == 0, "an exception on a page", r)
        # The cap held: exactly CAP trainings ran, every other Start was refused with its reason.
        need(r["started"] == min(CAP, training) and r["refused"] == training - r["started"], "the cap", r)
        # The live page kept refreshing under load, and its progress bar moved.
        need(r["ticks"] >= 3 and r["progress_moved"], "the live page stopped refreshing", r)
        need(r["jobs_after"] == 0 and r["jobs_gone_s"] <= 30, "trainings left after the close", r)
        # Each job's OS threads carry its name (its OpenMP team inherits it): all gone after close.
        need(r["training_threads_peak"] >= r["started"] and r["training_threads_after"] == 0,
             "training threads left behind", r)
    base = result["baseline"]
    for r in result["rounds"]:
        # Within 30 s of the close nothing is left beyond the warm-up baseline (Python threads by
        # name, native ones by count) but idle pool workers, each pool within its cap: AnyIO's
        # file-serving threads (Streamlit's 28 tokens) and concurrent.futures executors.
        need(r["left_python"] == [] and r["left_native"] == 0 and r["threads_back_s"] <= 30,
             "threads left behind", r)
        need(all(n <= most for n, most in r["pools_after"].values()), "a pool over its cap", r)
        # AnyIO stops threads idle for 10 s when it next hands out work: after the next visitor's
        # request (11 s after the last page load) the process has no more threads than at the
        # baseline, within 30 s of the close.
        need(r["next_request_s"] <= 30 and r["threads_next_request"] <= base["threads"],
             "threads left behind after the next request", r)
        # Every closed tab's session is freed once its reconnect window has passed: after one more
        # visit only that visit's session is alive. Nothing of ours keeps a session.
        need(r["sessions_after_visit"] <= 1, "sessions kept after their tabs closed", r)
        # No Python objects pile up: the allocator's blocks stay within 1 % of the baseline's,
        # and the process within 20 % of its settled footprint after the warm-up.
        need(r["blocks_after"] <= 1.01 * base["blocks"], "Python objects left behind (memory)", r)
        need(r["rss_after_mb"] <= 1.20 * base["rss_mb"], "memory above the baseline", r)
    for first, last in zip(result["rounds"], result["rounds"][1:]):
        # Over several rounds (the soak): a new pool per round would be a leak, and each round
        # ends where the one before did (5 % for the allocator's noise).
        need(len(last["pools_after"]) <= len(first["pools_after"]), "a new pool per round (threads left behind)",
             (first, last))
        need(last["rss_after_mb"] <= 1.05 * first["rss_after_mb"], "memory grows round after round",
             (first, last))
    return problems
