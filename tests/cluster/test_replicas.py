"""Two ``streamlit run`` replicas on one Ray cluster (tests/cluster/conftest.py), as a course
behind a load balancer runs them: an owner on one, a watcher on the other, the cluster's one
place held across both, and the worker node killed. Driven by wire clients (harness/wire.py)."""

from __future__ import annotations

import re
import time

from bnviz.ui.i18n import text
from bnviz.ui.strings import STRINGS
from harness.browser import Server
from harness.wire import Wire
from tests.cluster.test_engine import PLACE_S

EN, ZH = STRINGS["en"], STRINGS["zh"]
RUN = "batchnorm?bn_subset=2000&bn_epochs=50&bn_batch=64"  # 1600 steps: it trains throughout
CODE = re.compile(r"[?&]watch=([A-Za-z0-9_-]+)")


def saw(tab, text: str) -> bool:
    return any(text in shown for shown in list(tab.texts))


def settled(tab, quiet: float = 3.0, timeout: float = 60.0) -> int:
    """The step ``tab`` shows once it has refreshed for ``quiet`` seconds without it changing
    (a run that still trains never settles: the test fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step, refreshes = tab.last_step(), tab.runs + tab.polls  # a fed page polls, no script run
        time.sleep(quiet)
        if tab.last_step() == step and tab.runs + tab.polls >= refreshes + 2:
            return step
    raise AssertionError(f"the watcher's step did not settle within {timeout:g} s")


def test_an_owner_on_one_replica_and_a_watcher_on_the_other_share_one_run(cluster):
    env = {"BNVIZ_ENGINE": "ray", "RAY_ADDRESS": cluster.address, "BNVIZ_WATCH_GRACE": "30"}
    replicas = [Server(env=env), Server(env=env)]
    a, b = replicas
    wire = Wire()
    try:
        owner = wire.open(a.port, RUN)
        wire.wait(lambda: EN["bn_start"] in owner.buttons, 120, "the owner's Start button")
        wire.press(owner, EN["bn_start"])
        wire.wait(lambda: (owner.last_step() or 0) > 0, PLACE_S, "the owner's run to train")
        code = next(m.group(1) for text in list(owner.texts) if (m := CODE.search(text)))

        # A watcher's link that lands on the other replica: the same run, live, in Chinese.
        watcher = wire.open(b.port, f"batchnorm?watch={code}&lang=zh")
        wire.wait(lambda: len(set(watcher.steps)) >= 3, 60, "the watcher on the other replica following")
        assert EN["bn_start"] not in watcher.buttons and ZH["bn_start"] not in watcher.buttons

        # The owner's Pause, pressed on replica A, holds the run the watcher sees on B.
        wire.wait(lambda: EN["bn_pause"] in owner.buttons, 30, "the Pause button")
        wire.press(owner, EN["bn_pause"])
        wire.wait(lambda: EN["bn_resume"] in owner.buttons, 30, "the run paused")
        held = settled(watcher)  # the watcher refreshes on and its step stays: paused, not slow
        wire.press(owner, EN["bn_resume"])
        wire.wait(lambda: (watcher.last_step() or 0) > held, 60, "the watcher seeing the run resumed")

        # The cluster has one place: a second owner, on replica B, waits for it.
        second = wire.open(b.port, RUN + "&lang=zh")
        wire.wait(lambda: ZH["bn_start"] in second.buttons, 120, "the second owner's Start button")
        wire.press(second, ZH["bn_start"])
        queued = text("zh", "engine_queued", place=1)
        wire.wait(lambda: saw(second, queued), 60, "the second run first in line, said in Chinese")
        assert not second.steps or max(second.steps) == 0

        # The worker node dies: both pages say so, in their languages, with the history kept.
        cluster.kill_worker()
        wire.wait(lambda: saw(owner, EN["bn_lost"]), 60, "the owner told the run is lost")
        wire.wait(lambda: saw(watcher, ZH["watch_lost"]), 60, "the watcher told, in Chinese")
        assert watcher.last_step() >= held

        # The waiting run had its place on that node: it says so, and a Start on a new worker trains.
        wire.wait(lambda: saw(second, ZH["engine_queue_lost"]), 60, "the waiting owner told, in Chinese")
        cluster.add_worker()
        wire.wait(lambda: ZH["bn_start"] in second.buttons, 30, "the Start button")
        wire.press(second, ZH["bn_start"])
        wire.wait(lambda: (second.last_step() or 0) > 0, PLACE_S, "the new run to train on the new worker")
        tabs = [owner, watcher, second]
        assert not [p for tab in tabs for p in tab.problems + tab.exceptions]
        raw = ("Traceback", "RayActorError", "ActorDiedError", "GetTimeoutError", "JobRefused")
        assert not [text for tab in tabs for text in tab.texts if any(word in text for word in raw)]
    finally:
        wire.close()
        for replica in replicas:
            replica.stop()
