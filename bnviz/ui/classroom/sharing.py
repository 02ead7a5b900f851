"""The address of this exact view, in the sidebar for a teacher to hand out."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import streamlit as st

from bnviz.ui.i18n import t


def share_link(url_path: str, query: dict | None = None) -> str:
    """The address of this exact view: this server, this page, every setting that differs from
    its default (the same parameters ``urlstate.sync`` writes) — or only ``query``'s."""
    try:
        parts = urlsplit(st.context.url or "")
        origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    except Exception:  # no browser context (tests)
        origin = ""
    query = urlencode(query if query is not None else {k: st.query_params[k] for k in st.query_params})
    return f"{origin}/{url_path}" + (f"?{query}" if query else "")


def share_box(url_path: str) -> None:
    with st.sidebar.popover(t("share"), icon=":material/link:", width="stretch"):
        st.caption(t("share_help"))
        st.code(share_link(url_path), language=None, wrap_lines=True)


