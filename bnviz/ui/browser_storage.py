"""A token the browser keeps for a page (``localStorage``: the same browser, any tab of this
server's address), never in a link: how a reload, a second tab or a browser reopened after a crash
finds what this browser started — the BatchNorm page's run (``bnviz.ui.batchnorm.ownership``), a
teacher's class (``bnviz.ui.class_board.views``). A browser whose storage is blocked keeps nothing.
"""

from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
  const { data, setStateValue } = component;
  let held = "";
  try {
    if (data.keep) window.localStorage.setItem(data.name, data.keep);
    held = window.localStorage.getItem(data.name) || "";
  } catch (error) {
    held = "";  // storage blocked (a strict private mode): nothing to take back
  }
  if (held !== data.known) setStateValue("token", held);  // only when the server does not know it yet
}
"""


def held(key: str) -> str:
    """The token this browser keeps under the component ``key`` ("" before it has said, or none)."""
    return str((st.session_state.get(key) or {}).get("token") or "")


def keep(name: str, token: str, key: str) -> None:
    """Mount the browser's side for the storage item ``name``: it keeps ``token`` (when not empty)
    and says which it holds. A page that knows the token needs nothing back: the browser saying so
    would run the page again and take away a message shown once."""
    component = st.components.v2.component("bnviz_storage", js=_JS, isolate_styles=False)
    known = token or held(key)
    component(data={"name": name, "keep": token, "known": known}, key=key, height=0, on_token_change=lambda: None)
