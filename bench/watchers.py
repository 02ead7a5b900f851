"""``python -m bench watchers``: what one settled watcher's browser spends on a refresh, panel by
panel, at the pace ``bench load`` gives a class of thirty (``WATCH_TICK``, 5 s).

One server trains a run of 30,000 real Fashion-MNIST images (it is still training when the
window ends); its owner's page has its refresh off, so it asks for nothing. Each panel of the
BatchNorm page is watched by a Chromium of its own, so that every process of that browser
(renderer, browser, GPU, network service) is that tab's alone; one more browser shows the EWMA
page, which asks for nothing: the floor of an open tab. After :data:`SETTLE_S` (the pages' loads
and the garbage collection after them are over), over :data:`WINDOW_S`: each browser's CPU time
(``/proc``, every process the browser started) and its page's polls of the feed.

A browser's CPU per poll holds its floor too (about 1 ms a second, 5 ms a poll at 5 s). In
``bench load`` a class's browsers share the server's cores: thirty watchers polling every 5 s
take about 6 × (CPU per poll) milliseconds of a core each second."""

from __future__ import annotations

import time

from bench.live import _watch_code
from harness.cpu_use import command_line, grown, processes

SETTLE_S = 50.0
WINDOW_S = 60.0
RUN_QUERY = "bn_subset=30000&bn_epochs=50&bn_batch=64&bn_every=5&bn_tick=0"  # the owner's page asks nothing


def _tree(found: dict, root: int) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, process in found.items():
        children.setdefault(process.parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    return tree


def _cpu(then: dict, now: dict, tree: set[int]) -> tuple[float, float]:
    """CPU seconds the processes in ``tree`` spent from ``then`` to ``now``: (all, renderers). A
    process born in between counts from its start; one that ended in between is not counted (a
    settled page's browser keeps its processes)."""
    before = {p: then[p].cpu for p in tree if p in then}
    alive = {p: now[p].cpu for p in tree if p in now}
    renderers = {p: cpu for p, cpu in alive.items() if now[p].kind == "renderer"}
    return grown(before, alive), grown(before, renderers)


def _browser(playwright, marker: str):
    """A Chromium of its own and its main process (found by a switch Chromium ignores)."""
    from harness.browser import BROWSER_ARGS, CHROMIUM

    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=BROWSER_ARGS + [f"--bnviz-bench={marker}"])
    for pid, process in processes().items():
        if not process.kind and f"--bnviz-bench={marker}".encode() in (command_line(pid) or b"").split(b"\0"):
            return browser, pid
    raise RuntimeError(f"Chromium's main process for {marker} not found")


def run_rows() -> list[dict]:
    from playwright.sync_api import sync_playwright

    from harness.browser import Server, launch, open_page
    from harness.classroom_load import PANEL_CYCLE, WATCH_TICK

    server = Server(env={"OMP_NUM_THREADS": "1"})
    tabs = []
    try:
        with sync_playwright() as p:
            owner_browser = launch(p)
            owner = owner_browser.new_page(viewport={"width": 1280, "height": 900})
            open_page(owner, server, f"batchnorm?{RUN_QUERY}", "BatchNorm live")
            owner.get_by_role("button", name="Start", exact=True).click()
            code = _watch_code(owner)
            link = f"batchnorm?watch={code}&lang=en&bn_tick={WATCH_TICK:g}&bn_view="
            paths = [(panel, link + panel) for panel in PANEL_CYCLE]
            for name, path in paths + [("EWMA page (asks nothing)", "ewma")]:
                browser, pid = _browser(p, str(len(tabs)))
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
                page.goto(server.url(path), wait_until="commit", timeout=120_000)
                tabs.append((name, browser, pid, page))
            time.sleep(SETTLE_S)
            return _window(tabs)
    finally:
        server.stop()


POLLS = "() => (window.bnvizFeed || {}).polls || 0"


def _window(tabs: list) -> list[dict]:
    """Each browser's CPU and its page's polls over :data:`WINDOW_S`."""
    then = processes()
    polled = [page.evaluate(POLLS) for _, _, _, page in tabs]
    time.sleep(WINDOW_S)
    now = processes()
    rows = []
    for (name, _, pid, page), polls0 in zip(tabs, polled):
        spent, rendered = _cpu(then, now, _tree(now, pid))
        polls = page.evaluate(POLLS) - polls0
        rows.append({"panel": name, "polls": polls,
                     "Chromium CPU per poll (ms)": f"{1e3 * spent / polls:.0f}" if polls else "—",
                     "of which its renderer (ms)": f"{1e3 * rendered / polls:.0f}" if polls else "—",
                     "Chromium CPU per second (ms)": f"{1e3 * spent / WINDOW_S:.1f}"})
    return rows
