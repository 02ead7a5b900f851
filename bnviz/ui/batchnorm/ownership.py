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

import streamlit as st

from bnviz.training import watching
from bnviz.ui.batchnorm.session import Slot

KEY = "bnviz_owner"
_JS = """
export default function (component) {
  const { data, setStateValue } = component;
  const name = "bnviz-run-owner";
  let held = "";
  try {
    if (data.keep) window.localStorage.setItem(name, data.keep);
    held = window.localStorage.getItem(name) || "";
  } catch (error) {
    held = "";  // storage blocked (a strict private mode): nothing to take back
  }
  if (held !== data.known) setStateValue("token", held);  // only when the server does not know it yet
}
"""


def browser_token() -> str:
    """The owner token this browser keeps ("" before it has said, or when it keeps none)."""
    return str((st.session_state.get(KEY) or {}).get("token") or "")


def take_back(slot: Slot) -> None:
    """An owner's page without a run takes back the run its browser started, if there is one."""
    if slot.run is None:
        run = watching.REGISTRY.find_owned(browser_token())
        if run is not None:
            slot.adopt(run)


def keep(slot: Slot) -> None:
    """Mount the browser's side: it keeps the token of this page's run and says which it keeps."""
    component = st.components.v2.component("bnviz_owner", js=_JS, isolate_styles=False)
    token = slot.run.owner_token if slot.run is not None else ""
    # A page that holds its run needs nothing back: the browser saying so would run the page again
    # and take away a message shown once (a refused Start's reason, in the load test).
    known = token or browser_token()
    component(data={"keep": token, "known": known}, key=KEY, height=0, on_token_change=lambda: None)
