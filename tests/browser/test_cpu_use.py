"""harness/cpu_use.py: the cores of a window split by who used them, with four known burners at
once — a server's training thread and its other thread (a process of our own standing in for the
server), a Chromium page's script, and this test's own thread (counted as "else"); and two costs
the tests' Chromium goes without: a wait's look at its page on every frame, and a page of the
omnibox's popup for every context."""

import hashlib
import os
import subprocess
import sys
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from harness import cpu_use
from harness.browser import NO_OMNIBOX_POPUP, POLL_MS, browser_args, playwrights_disabled_features

CPU_S = 0.4  # each burner of ours burns this much CPU time of its own, however long that takes
WALL_LIMIT_S = 60.0
# A server of our own: one thread named as a training job names its thread, one not; each hashes
# (hashlib lets go of the GIL on large buffers, so both run at once) once the test says go, until
# it has used CPU_S of its own, and the server prints what each used; both stay until told to
# end, so that their counts can be read once they are done.
SERVER = """
import hashlib, sys, threading, time
from bnviz.training.manager import as_training_thread
data, burnt, end, used = b"x" * (1 << 20), threading.Semaphore(0), threading.Event(), {}
def burn(name):
    if name:
        as_training_thread(name, nicer=False)
    until = time.monotonic() + float(sys.argv[2])
    while time.thread_time() < float(sys.argv[1]) and time.monotonic() < until:
        hashlib.sha256(data).digest()
    used[name] = time.thread_time()
    burnt.release()
    end.wait()  # a thread that ended counts in its process's total only: kept until read
print("ready", flush=True)
sys.stdin.readline()
threads = [threading.Thread(target=burn, args=(n,)) for n in ("bnviz-train-7", "")]
for t in threads: t.start()
for t in threads: burnt.acquire()
print("done", used["bnviz-train-7"], used[""], flush=True)
sys.stdin.readline()
end.set()
"""
# The page burns in slices until told to stop: it is busy for the whole window.
PAGE_BURN = """() => { window.burning = true; const slice = () => {
    const end = performance.now() + 20; while (performance.now() < end);
    if (window.burning) setTimeout(slice, 0); }; slice(); }"""


def _burn_here() -> float:
    """Burn CPU_S of this thread's CPU time; what it burnt (a thread's count starts at its birth)."""
    data, until, began = b"x" * (1 << 20), time.monotonic() + WALL_LIMIT_S, time.thread_time()
    while time.thread_time() - began < CPU_S and time.monotonic() < until:
        hashlib.sha256(data).digest()
    return time.thread_time() - began


def test_the_cores_of_a_window_are_split_by_who_used_them(browser):
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(CPU_S), str(WALL_LIMIT_S)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    page = browser.new_page()
    try:
        assert server.stdout.readline().strip() == "ready"
        then = cpu_use.read(server.pid)
        server.stdin.write("go\n")
        server.stdin.flush()
        page.evaluate(PAGE_BURN)
        here = _burn_here()
        done, *burnt = server.stdout.readline().split()
        assert done == "done"
        training, other = (float(b) for b in burnt)
        now = cpu_use.read(server.pid)
        page.evaluate("() => { window.burning = false; }")
        server.stdin.write("end\n")
        server.stdin.flush()
        server.wait(timeout=30)
    finally:
        page.close()
        server.kill()
    used = cpu_use.cores(then, now)
    seconds = now.at - then.at
    assert list(used) == list(cpu_use.KINDS)
    # Each burner of ours counted as what it is, however busy the machine (beside the other tests
    # a burner may get a few hundredths of a core): the training thread's own CPU time is all of
    # "trainings" (the kernel's count of a thread and of its process differ by a tick or two;
    # the split is rounded to 0.01 core), the other thread's is in "server", this test's thread's
    # in "else"; the page, busy throughout, in "renderers". A burner counted as another kind
    # leaves its own kind short by all it burnt.
    slack = 0.05 + 0.006 * seconds
    assert min(training, other, here) >= CPU_S, (training, other, here)
    assert abs(used["trainings"] * seconds - training) <= slack, (used, seconds, training)
    assert used["server"] * seconds >= other - slack, (used, seconds, other)
    assert used["else"] * seconds >= here - slack, (used, seconds, here)
    assert used["renderers"] >= 0.02, used
    assert 0.8 * os.cpu_count() <= sum(used.values()) <= 1.05 * os.cpu_count(), used


def test_a_wait_for_a_state_in_the_page_looks_every_100_ms_not_on_every_frame(page):
    """A test's wait for a state (``page.wait_for_function``) looks every :data:`POLL_MS`
    (harness.browser.poll_every), not on every frame as Playwright's default does: a page then
    draws 60 frames a second for as long as a test waits (~120 looks in these 2 s)."""
    page.set_content("<p>waiting</p>")
    page.evaluate("window.looks = 0")
    with pytest.raises(PlaywrightTimeout):
        page.wait_for_function("() => ++window.looks < 0", timeout=2000)
    looks = page.evaluate("window.looks")
    assert 3 <= looks <= 2000 / POLL_MS + 10, looks


def test_the_tests_chromium_opens_no_omnibox_popup_and_keeps_playwrights_settings(browser):
    """Each context of the tests' Chromium (harness.browser.launch, quiet) comes without the
    omnibox's popup, a page of its own in a renderer of its own (~0.8 CPU-s a context), and with
    every feature Playwright disables still disabled: Chromium reads only the last
    --disable-features."""
    context = browser.new_context()
    try:
        context.new_page().set_content("<p>a test's page</p>")
        targets = browser.new_browser_cdp_session().send("Target.getTargets", {"filter": [{}]})["targetInfos"]
    finally:
        context.close()
    assert any(t["url"] == "about:blank" or t["type"] == "page" for t in targets), targets
    assert [t["url"] for t in targets if "omnibox" in t["url"]] == []
    given = [a.partition("=")[2].split(",") for a in browser_args(browser.bnviz_marker)
             if a.startswith("--disable-features=")]
    theirs = playwrights_disabled_features()
    assert len(theirs) >= 3, theirs  # read from the Chromium Playwright launched as it does
    assert set(theirs) | set(NO_OMNIBOX_POPUP) <= set(given[-1])  # the one Chromium reads
