"""The owner's browser keeps its run: a reload, a second tab or the browser reopened after a crash
finds the run it started, with every control, instead of a page that says "Not started" while the
run trains on unseen and holds the server's slot.

When this page starts a run, the run's owner token (random, 16 bytes; never in a link, never the
watch code) goes to the browser, which keeps it in its local storage (``localStorage``: the same
browser, any tab of this server's address). On every visit the browser hands the token back; a
page of the owner's that holds no run takes back the run of that token, if it still exists
(:meth:`bnviz.training.watching.Registry.find_owned`). Another browser, or a watcher's page, has
no token and so no control. A browser whose storage is blocked simply takes nothing back.

The page also keeps the token of the run it holds in its session state: a dropped connection
releases the page's slot (Streamlit clears a session's cached resources when its socket closes,
and keeps its state for the reconnect), and the page's next run takes the run back at once — not
after a round trip to the browser, which on a busy server came after a short grace period had run
out.
"""

from __future__ import annotations

import streamlit as st

from bnviz.cluster import engine
from bnviz.ui import browser_storage
from bnviz.ui.batchnorm.session import Slot

KEY = "bnviz_owner"
NAME = "bnviz-run-owner"
HELD = "_bn_owner_token"  # session state: the token of the run this page held last


def browser_token() -> str:
    """The owner token this browser keeps ("" before it has said, or when it keeps none)."""
    return browser_storage.held(KEY)


def take_back(slot: Slot) -> None:
    """An owner's page without a run takes back the run it held (a dropped connection) or the
    run its browser started (a reload, another tab), if there is one."""
    if slot.run is None:
        registry = engine.registry()
        run = registry.find_owned(st.session_state.get(HELD)) or registry.find_owned(browser_token())
        if run is not None:
            slot.adopt(run)
    if slot.run is not None:
        st.session_state[HELD] = slot.run.owner_token


def keep(slot: Slot) -> None:
    """Mount the browser's side: it keeps the token of this page's run and says which it keeps."""
    browser_storage.keep(NAME, slot.run.owner_token if slot.run is not None else "", KEY)
