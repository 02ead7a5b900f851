"""Small helpers shared by pages: guarded sections, LaTeX with a caption."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import streamlit as st

from bnviz.ui.i18n import t

log = logging.getLogger("bnviz")


@contextmanager
def guarded():
    """Run a page section; an unexpected error becomes a short message, never a traceback."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - st.rerun/st.stop raise BaseException and pass through
        log.exception("section failed")
        st.error(t("unexpected_error", detail=f"{type(exc).__name__}: {str(exc)[:200]}"))


def formula(latex: str, text_key: str) -> None:
    """A formula from the core with one sentence of explanation in the current language."""
    st.latex(latex)
    st.caption(t(text_key))


_LEAVE_JS = """
export default function (component) {
  const { data } = component;
  window.onbeforeunload = data.active ? (event) => { event.preventDefault(); event.returnValue = data.text; return data.text; } : null;
  return () => { window.onbeforeunload = null; };
}
"""


def leave_warning(active: bool, text: str) -> None:
    """While ``active``, the browser asks before the tab is reloaded or closed (``text`` is shown
    where the browser allows a message of the page's own)."""
    component = st.components.v2.component("bnviz_leave_warning", js=_LEAVE_JS, isolate_styles=False)
    component(data={"active": bool(active), "text": text}, key="bnviz_leave_warning", height=0)
