"""The page's side of a live feed (:mod:`bnviz.server.live_feed`): a fragment run that draws a
live panel also writes down how to compute, for a newer snapshot, what of it changes — its live
charts' tables (:func:`chart`) and its texts (:func:`text`) — and opens that as the session's
feed. The browser then asks the server for it every refresh (``static/live_chart.js``) instead of
running the fragment again; the fragment runs again only when the page's shape changes (the
stamp), a control is used, or the feed is gone.

Every function given here is called later outside the script run, in the server's thread pool:
it may read the view it is given and what it captured, never ``st.session_state`` or ``t()``
(give it the language: :func:`bnviz.ui.i18n.text`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from bnviz.server import live_feed

_RUN = "_feed_run"  # session key: what this fragment run's feed computes (None: not fed)
_TOKEN = "_feed_token"  # session key: this session's feed
DRAWING_S = 10.0  # a fragment run that has not opened its feed after this long is run again
_OPENED = itertools.count()  # fragment runs that opened a feed, numbered


@dataclass
class _Collected:
    charts: dict = field(default_factory=dict)  # key → (tables(view), params(view) or None)
    texts: dict = field(default_factory=dict)  # key → make(view)


def served() -> bool:
    """Whether this server has the feed's route (started by serve.py)."""
    return live_feed.SERVED


def begin(fed: bool) -> dict | None:
    """Start a fragment run; with ``fed``, what its leading text must tell the browser: the feed's
    address and token (the caller adds the refresh). Not fed: the feed is closed."""
    token = st.session_state.get(_TOKEN)
    if not fed:
        st.session_state[_RUN] = None
        live_feed.FEEDS.close(token)
        return None
    if token is None:
        token = st.session_state[_TOKEN] = live_feed.new_token()
    st.session_state[_RUN] = _Collected()
    # Until this run has drawn its panel the feed answers nothing (an early poll is not "gone"); a
    # run that never got that far (its panel failed) is run again after DRAWING_S.
    began = time.monotonic()
    live_feed.FEEDS.open(lambda: live_feed.Found({}, {}, time.monotonic() - began > DRAWING_S), False, token)
    # Numbered: a rerun asked for by the feed may draw the same texts (a paused run's status line),
    # and a component given what it already has is not drawn again; the number makes the leading
    # text tell the browser to ask again, which had stopped asking when it asked for the rerun.
    return {"url": _url(), "token": token, "opened": next(_OPENED)}


def _url() -> str:
    from streamlit import config

    from bnviz.server import feed_route

    return feed_route.address(config.get_option("server.baseUrlPath") or "")


def fed() -> bool:
    """Whether the fragment running now is fed (its live charts then ask the feed, not the page)."""
    return st.session_state.get(_RUN) is not None


def forget() -> None:
    """A run of the whole page: nothing is fed until a live fragment says so (another page's live
    charts are never taken for fed ones)."""
    st.session_state[_RUN] = None


def chart(key: str, tables: Callable, params: Callable | None = None) -> None:
    """A live chart of this run: ``tables(view)`` its datasets, ``params(view)`` its changing parameters."""
    collected = st.session_state.get(_RUN)
    if collected is not None:
        collected.charts[key] = (tables, params)


def text(key: str, make: Callable) -> None:
    """A live text of this run: ``make(view)`` its JSON value (see :func:`bnviz.ui.live_chart.text`)."""
    collected = st.session_state.get(_RUN)
    if collected is not None:
        collected.texts[key] = make


def open_feed(drawn, view_now: Callable, stamp: Callable, seen: Callable | None = None,
              costs: list | None = None, whole: frozenset = frozenset()) -> None:
    """Open this run's feed: ``drawn`` the page's shape as this run drew it, ``view_now()`` the
    view of the newest snapshot, ``stamp(view)`` its shape (a change: the page is drawn anew; the
    whole page when one of the places ``whole`` of the stamp changed, else the fragment),
    ``seen()`` called on every poll (a watcher counted), the seconds of each poll appended to ``costs``."""
    collected = st.session_state.get(_RUN)
    if collected is None:
        return
    charts, texts = dict(collected.charts), dict(collected.texts)

    def poll() -> live_feed.Found:
        t0 = time.perf_counter()
        if seen is not None:
            seen()
        view = view_now()
        found = live_feed.Found(
            tables={key: make(view) for key, (make, _) in charts.items()},
            texts={key: make(view) for key, make in texts.items()},
            stamp=stamp(view),
            params={key: params(view) for key, (_, params) in charts.items() if params is not None})
        if costs is not None:
            costs.append(time.perf_counter() - t0)
        return found

    live_feed.FEEDS.open(poll, drawn, st.session_state[_TOKEN], whole)
