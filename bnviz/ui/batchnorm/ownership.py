"""The owner's browser keeps its run: a reload, a second tab or the browser reopened after a crash
finds the run it started, with every control, instead of a page that says "Not started" while the
run trains on unseen and holds the server's slot.

When this page starts a run, the run's owner token (random, 16 bytes; never in a link, never the
watch code) goes to the browser, which keeps it in its local storage (``localStorage``: the same
browser, any tab of this server's address). On every visit the browser hands the token back; a
page of the owner's that holds no run takes back the run of that token, if it still exists
(:meth:`bnviz.training.watching.Registry.find_owned`). Another browser, or a watcher's page, has
no token and so no control. A browser whose storage is blocked simply takes nothing back.
"""

from __future__ import annotations

from bnviz.cluster import engine
from bnviz.ui import browser_storage
from bnviz.ui.batchnorm.session import Slot

KEY = "bnviz_owner"
NAME = "bnviz-run-owner"


def browser_token() -> str:
    """The owner token this browser keeps ("" before it has said, or when it keeps none)."""
    return browser_storage.held(KEY)


def take_back(slot: Slot) -> None:
    """An owner's page without a run takes back the run its browser started, if there is one."""
    if slot.run is None:
        run = engine.registry().find_owned(browser_token())
        if run is not None:
            slot.adopt(run)


def keep(slot: Slot) -> None:
    """Mount the browser's side: it keeps the token of this page's run and says which it keeps."""
    browser_storage.keep(NAME, slot.run.owner_token if slot.run is not None else "", KEY)
