"""Small helpers shared by pages: guarded sections, LaTeX with a caption."""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from bnviz.ui.i18n import t

log = logging.getLogger("bnviz")


@contextmanager
def guarded():
    """Run a page section; an unexpected error becomes a short message in the user's language
    (never a traceback, nor the exception's own text); the details go to the server's log."""
    try:
        yield
    except Exception:
        log.exception("section failed")
        st.error(t("unexpected_error"))


def formula(latex: str, text_key: str) -> None:
    """A formula from the core with one sentence of explanation in the current language."""
    st.latex(latex)
    st.caption(t(text_key))


_LEAVE_JS = """
export default function (component) {
  const { data } = component;
  const ask = (event) => { event.preventDefault(); event.returnValue = data.text; return data.text; };
  window.onbeforeunload = data.active ? ask : null;
  return () => { window.onbeforeunload = null; };
}
"""


_PAGE_JS = (Path(__file__).with_name("page.js")).read_text(encoding="utf-8")
_PAGE_KEY = "bnviz_page"
# Focus rings where Streamlit draws none: the page navigation, page links, tabs and the charts'
# toolbars (keyboard users must see where they are; a mouse click shows none, :focus-visible).
FOCUS_CSS = """<style>
[data-testid="stSidebarNav"] a:focus-visible, [data-testid="stPageLink"] a:focus-visible,
[data-testid="stElementToolbar"] button:focus-visible, [data-testid="stTab"]:focus-visible,
[data-testid="stSidebarCollapseButton"] button:focus-visible, [data-testid="stExpandSidebarButton"]:focus-visible {
  outline: 3px solid #1f77b4; outline-offset: 2px; border-radius: 4px;
}
</style>"""


def page_helper() -> None:
    """Every page: focus rings on navigation and toolbars, focus kept on a pressed control when
    the page is drawn again, whether the screen is narrow, and a whole page's run that a live page
    can ask (bnviz/ui/page.js)."""
    st.html(FOCUS_CSS)  # our own constant CSS, never user text
    component = st.components.v2.component("bnviz_page", js=_PAGE_JS, isolate_styles=False)
    component(data={"narrow": narrow_screen(), "wide": wide_screen()}, key=_PAGE_KEY, height=0,
              on_narrow_change=lambda: None, on_wide_change=lambda: None, on_redraw_change=lambda: None)


def _screen_said(field: str) -> bool:
    """What the page helper (page.js) said of the browser's window: "narrow" or "wide"."""
    return bool((st.session_state.get(_PAGE_KEY) or {}).get(field, False))


def narrow_screen() -> bool:
    """The browser said its window is narrower than 640 px (a phone)."""
    return _screen_said("narrow")


def wide_screen() -> bool:
    """The browser said its window is at least 1600 px wide (a projector, a large monitor)."""
    return _screen_said("wide")


def leave_warning(active: bool, text: str) -> None:
    """While ``active``, the browser asks before the tab is reloaded or closed (``text`` is shown
    where the browser allows a message of the page's own)."""
    component = st.components.v2.component("bnviz_leave_warning", js=_LEAVE_JS, isolate_styles=False)
    component(data={"active": bool(active), "text": text}, key="bnviz_leave_warning", height=0)


def as_text(text: str) -> str:
    """``text`` for a markdown element, shown as typed (no link, emphasis, LaTeX or markup)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$:&])", r"\\\1", str(text))
