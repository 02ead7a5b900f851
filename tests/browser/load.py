"""A classroom in one process: many Chromium sessions against one server (used by the load test
and by ``python -m bench load``)."""

from __future__ import annotations

import os
import re
import statistics
import time

from bnviz.ui.strings import STRINGS
from tests.browser.harness import READY, Server, launch

EN = STRINGS["en"]
CAP = 2
TRAIN_QUERY = "bn_subset=6000&bn_epochs=30&bn_batch=64&bn_every=5"  # still running at the end
OTHERS = ["", "ewma", "optimizers", "ewma?b1=0.98&src=synthetic", "optimizers?preset=adam",
          "batchnorm", "ewma?lang=zh", "optimizers?surf=saddle&lang=zh"]
# Start and end of every script or fragment run, as seen by the page.
OBSERVE_RUNS = """() => {
  window.__runs = [];
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    const now = performance.now();
    if (app.getAttribute("data-test-script-state") === "running") window.__runs.push([now, null]);
    else if (window.__runs.length && window.__runs[window.__runs.length - 1][1] === null)
      window.__runs[window.__runs.length - 1][1] = now;
  }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
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


def wait_threads(pid: int, target: int, timeout: float = 30.0) -> tuple[int, float]:
    """Poll the server's thread count until it is ≤ target; (count, seconds waited)."""
    t0 = time.time()
    count = proc_status(pid)["threads"]
    while count > target and time.time() - t0 < timeout:
        time.sleep(0.5)
        count = proc_status(pid)["threads"]
    return count, time.time() - t0


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
              browser=None) -> dict:
    """A warm-up round, then ``rounds`` measured ones. Each opens ``sessions`` browser sessions
    spread over the pages, presses Start on ``training`` of them (the server's cap is ``CAP``),
    records the live page's refresh, closes everything, and waits for the server's trainings to
    stop and its thread count to come back to the level after the warm-up (thread pools of
    Tornado, BLAS and torch grow once with the load and are reused)."""
    from playwright.sync_api import sync_playwright

    if browser is None:  # stand-alone (the benchmark): a Playwright of our own
        with sync_playwright() as p:
            b = launch(p)
            try:
                return classroom(sessions, training, rounds, watch_s, browser=b)
            finally:
                b.close()
    server = Server(env={"BNVIZ_MAX_JOBS": str(CAP)})
    pid = server.proc.pid
    out = {"sessions": sessions, "training": training, "cap": CAP, "rounds": []}
    try:
        out["warmup"] = _round(browser, server, pid, None, sessions, training, watch_s)
        time.sleep(3)
        base = proc_status(pid)
        out["baseline"] = base
        for _ in range(rounds):
            out["rounds"].append(_round(browser, server, pid, base, sessions, training, watch_s))
        out["log_errors"] = len(re.findall(r"Traceback|Exception", server.server_log()))
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
    peak = proc_status(pid)
    peak_training = training_threads(pid)
    # The live page keeps refreshing under load: record its fragment runs for a while.
    refresh = []
    if started:
        watch = started[0]
        watch.evaluate(OBSERVE_RUNS)
        time.sleep(watch_s)
        runs = watch.evaluate("window.__runs")
        refresh = [end - start for start, end in runs if end is not None]
    exceptions = sum(pg.locator("[data-testid='stException']").count() for pg in pages)
    for ctx in contexts:
        ctx.close()
    t_closed = time.time()
    jobs = active_jobs(browser, server)
    while jobs and time.time() - t_closed < 30:
        time.sleep(1)
        jobs = active_jobs(browser, server)
    while training_threads(pid) and time.time() - t_closed < 30:
        time.sleep(0.2)
    jobs_gone_s = time.time() - t_closed
    if base is None:
        threads, waited = proc_status(pid)["threads"], 0.0
    else:
        threads, waited = wait_threads(pid, base["threads"], timeout=max(1.0, 30 - jobs_gone_s))
        waited += jobs_gone_s
    after = proc_status(pid)
    q = sorted(refresh)
    return {"opened_s": round(opened_s, 1), "started": len(started), "refused": len(refused),
            "exceptions": exceptions, "ticks": len(q),
            "refresh_median_ms": round(statistics.median(q)) if q else None,
            "refresh_p95_ms": round(q[min(len(q) - 1, int(0.95 * len(q)))]) if q else None,
            "peak_threads": peak["threads"], "peak_rss_mb": round(peak["rss_mb"]),
            "training_threads_peak": peak_training, "training_threads_after": training_threads(pid),
            "jobs_after": jobs, "jobs_gone_s": round(jobs_gone_s, 1),
            "threads_after": threads, "threads_back_s": round(waited, 1),
            "rss_after_mb": round(after["rss_mb"])}


def sessions_from_env(default: int = 20) -> int:
    return int(os.environ.get("BNVIZ_LOAD_SESSIONS", default))
