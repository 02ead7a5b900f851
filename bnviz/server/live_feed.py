"""A live page's newest data fetched by the browser itself, with no script run.

A Streamlit page refreshes by running its script (or a fragment of it) again, and the browser
then commits every element of the page anew: on the BatchNorm page ~150–250 ms of a viewer's
renderer CPU a refresh, of which the live charts' own work is 2–26 ms (``python -m bench live``).
While a run trains, that page instead *opens a feed*: a poll (a function) that computes, for the
newest snapshot, what the open panel shows that changes — its charts' tables
(:class:`bnviz.server.feeds.Table`) and short texts (the status line, a caption, the scrubber's
steps) — and a *stamp*, the page's shape (running or not, diverged models, …). The browser asks
for it every refresh (``POST bnviz/feed``, :mod:`bnviz.server.feed_route`) with what each chart
holds, and receives :func:`answer`: only the rows it lacks (:func:`bnviz.server.feeds.delta`),
the texts, and ``rerun`` when the stamp has changed (the page must be drawn anew by Streamlit:
the fragment that opened the feed, or the whole page when a place of the stamp drawn outside the
fragment changed, ``whole``).

A feed is reached by its token only (random, per session and page run); one that nobody asked
for in :data:`IDLE_S` is closed. Nothing here imports Streamlit: :func:`answer` runs in the
server's thread pool, outside any script run.
"""

from __future__ import annotations

import base64
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bnviz.server import feeds

_LOG = logging.getLogger(__name__)
IDLE_S = 120.0  # a feed nobody asked for this long is closed (the tab is gone)
MAX_FEEDS = 2000  # open feeds at most (the oldest closed first): a class of 60 has 60
TAIL_BY = "capture"  # a dataset the browser tails: its newest capture's rows only (feeds.tail)


@dataclass(frozen=True)
class Found:
    """What a poll found: each chart's tables (chart key → dataset name → table) and the values of
    its parameters that change (chart key → name → value), texts (any JSON value by name), and
    the page's stamp (a change means the page must be drawn anew)."""

    tables: dict[str, dict[str, feeds.Table]]
    texts: dict[str, object]
    stamp: object
    params: dict[str, dict] = field(default_factory=dict)


@dataclass
class _Feed:
    poll: Callable[[], Found]
    stamp: object
    whole: frozenset = frozenset()  # places of the stamp drawn outside the fragment
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _changed(was, now) -> list[int] | None:
    """The places where two stamps of a page differ (None: not two tuples of one length)."""
    if not isinstance(was, tuple) or not isinstance(now, tuple) or len(was) != len(now):
        return None
    return [i for i, (a, b) in enumerate(zip(was, now)) if a != b]


class Feeds:
    """The open feeds of this server process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._feeds: dict[str, _Feed] = {}

    def open(self, poll: Callable[[], Found], stamp, token: str, whole: frozenset = frozenset()) -> None:
        """Open the feed ``token`` (:func:`new_token`), or replace what it polls. ``whole``: the
        places of a tuple stamp that the page draws outside the fragment (a change asks for a run
        of the whole page)."""
        with self._lock:
            self._close_idle()
            self._feeds.pop(token, None)
            self._feeds[token] = _Feed(poll, stamp, whole=frozenset(whole))
            while len(self._feeds) > MAX_FEEDS:
                self._feeds.pop(next(iter(self._feeds)))

    def close(self, token: str | None) -> None:
        with self._lock:
            self._feeds.pop(token, None)

    def _close_idle(self) -> None:
        now = time.monotonic()
        for token in [k for k, f in self._feeds.items() if now - f.seen > IDLE_S]:
            del self._feeds[token]

    def answer(self, token: str, held: dict) -> dict:
        """What the browser that holds ``held`` (chart → dataset → [source, version]) receives:
        for each chart in ``held`` its parameters and per dataset the rows it lacks
        (:func:`rows_json`; all of them for a dataset it does not hold; for one it tails, held as
        ``["tail", source, version]``, its newest capture's rows in place of all), the texts, and ``rerun``
        when the page's stamp changed (with ``changed``: the places of a tuple stamp that did, for
        the trail a page keeps of its feed; ``whole``: whether one of them is drawn outside the
        fragment, so the whole page must run). An unknown token (closed, or another server) answers
        ``{"gone": true}``: the page is drawn anew and opens another."""
        with self._lock:
            feed = self._feeds.get(token)
            if feed is not None:
                feed.seen = time.monotonic()
        if feed is None:
            return {"gone": True}
        try:
            with feed.lock:  # one poll of a feed at a time (a slow poll is not stacked on)
                found = feed.poll()
        except Exception:  # the run's machine lost, a snapshot unreadable: the page says so when drawn
            _LOG.exception("a live feed's poll failed")
            return {"rerun": True}
        charts = {}
        for key, tables in found.tables.items():
            if key not in held:  # a chart the browser does not show (yet)
                continue
            mine = held[key] if isinstance(held[key], dict) else {}
            charts[key] = {"feeds": {}, "params": found.params.get(key) or {}}
            for name, table in tables.items():
                had = mine.get(name)
                asks_tail = _tailed(had)
                holds = _held(had[1:] if asks_tail else had)
                tailed = asks_tail and TAIL_BY in table.frame.columns
                d = feeds.tail(table, holds, TAIL_BY) if tailed else feeds.delta(table, holds)
                charts[key]["feeds"][name] = {"source": d.source, "whole": d.whole, "base": d.base,
                                              "version": d.version, **({"tail": True} if tailed else {}),
                                              **rows_json(d.rows)}
        answer = {"charts": charts, "texts": found.texts, "rerun": found.stamp != feed.stamp}
        if answer["rerun"]:
            answer["changed"] = _changed(feed.stamp, found.stamp)
            answer["whole"] = bool(feed.whole.intersection(answer["changed"] or ()))
        return answer


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _tailed(had) -> bool:
    """A dataset held as ``["tail", source, version]`` (or ``["tail"]``: nothing yet): the browser
    shows its newest capture only, and receives that capture's rows alone (:func:`feeds.tail`)."""
    return isinstance(had, list) and len(had) in (1, 3) and had[0] == "tail"


def _held(had) -> feeds.Held | None:
    """A held table as the browser names it: [source, version ≥ 0] (anything else holds nothing)."""
    ok = isinstance(had, list) and len(had) == 2 and isinstance(had[1], int) and had[1] >= 0
    return feeds.Held(str(had[0]), int(had[1])) if ok else None


def _numbers(array: np.ndarray) -> dict:
    """Numbers as their little-endian bytes in base64, float32 kept as such, any other as float64."""
    wide = array.dtype != np.float32
    raw = array.astype("<f8" if wide else "<f4").tobytes()
    return {"f64" if wide else "f32": base64.b64encode(raw).decode("ascii")}


def _counts_over(arrays: np.ndarray, frame: pd.DataFrame) -> dict | None:
    """float32 arrays (one a row) whose numbers are all whole numbers over one of the frame's
    integer columns — a histogram's shares, counts over its sample — as those whole numbers
    (``u16`` or ``u32``, little-endian, base64) and the column's name (``over``): a half of the
    float32 bytes or less, and far fewer once gzipped (a count's bytes repeat, a float's do not).
    Only when reading them back (float32 of count / over) gives every number exactly; else None."""
    if arrays.dtype != np.float32 or not arrays.size or not np.isfinite(arrays).all():
        return None
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_integer_dtype(column) or column.min() <= 0:
            continue
        over = column.to_numpy(np.float64)[:, None]
        counts = np.rint(arrays * over)
        if counts.min() < 0 or counts.max() >= 2 ** 32 or \
                not np.array_equal((counts / over).astype(np.float32), arrays):
            continue
        wide = counts.max() >= 2 ** 16
        raw = counts.astype("<u4" if wide else "<u2").tobytes()
        return {"u32" if wide else "u16": base64.b64encode(raw).decode("ascii"), "over": str(name)}
    return None


def rows_json(frame: pd.DataFrame) -> dict:
    """A frame as JSON, compact and exact: ``{"columns": names, "data": [column, …]}``, each
    column one of ``{"f32": …}`` / ``{"f64": …}`` (the numbers' little-endian bytes in base64:
    every bit kept, a quarter to a half of their decimal text; with ``"width": n``, a column of
    arrays of n numbers each, one after the other; arrays of whole numbers over an integer column
    as ``{"u16": …, "over": name}`` or ``"u32"``, :func:`_counts_over`), ``{"codes": […], "labels": […]}``
    (a categorical: −1 is missing), or ``{"values": […]}`` (integers, booleans, text; a missing
    value ``null``). :func:`frame_of` reads it back; ``static/live_chart.js`` does the same and
    gives Vega ``null`` for a missing number, as Arrow does."""
    data = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            data.append({"codes": column.cat.codes.astype(np.int64).tolist(),
                         "labels": [str(x) for x in column.cat.categories]})
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
            data.append({"values": column.tolist()})
        elif pd.api.types.is_float_dtype(column):
            data.append(_numbers(column.to_numpy()))
        elif len(column) and isinstance(column.iloc[0], np.ndarray):
            arrays = np.stack(column.to_list())
            data.append({**(_counts_over(arrays, frame) or _numbers(arrays)), "width": arrays.shape[1]})
        else:
            data.append({"values": [None if x is None or (isinstance(x, float) and math.isnan(x)) else
                                    (x.item() if isinstance(x, np.generic) else x) for x in column.tolist()]})
    return {"columns": [str(c) for c in frame.columns], "data": data}


def frame_of(rows: dict) -> pd.DataFrame:
    """The frame :func:`rows_json` wrote (a categorical as its labels, missing as None/NaN)."""
    columns = {}
    for name, column in sorted(zip(rows["columns"], rows["data"]), key=lambda pair: "over" in pair[1]):
        if "over" in column:  # whole numbers over a column read before: float32 of their ratio
            counts = np.frombuffer(base64.b64decode(column.get("u16") or column.get("u32") or ""),
                                   "<u2" if "u16" in column else "<u4")
            over = np.asarray(columns[column["over"]], np.float64)[:, None]
            numbers = (counts.reshape(len(over), -1) / over).astype(np.float32)
            columns[name] = pd.Series(list(numbers), dtype=object)
        elif "codes" in column:
            labels = column["labels"]
            columns[name] = [labels[c] if c >= 0 else None for c in column["codes"]]
        elif "values" in column:
            columns[name] = column["values"]
        else:
            kind = "<f4" if "f32" in column else "<f8"
            numbers = np.frombuffer(base64.b64decode(column.get("f32") or column.get("f64") or ""), kind)
            width = column.get("width")
            columns[name] = numbers if width is None else pd.Series(list(numbers.reshape(-1, width)), dtype=object)
    return pd.DataFrame(columns, columns=rows["columns"])


FEEDS = Feeds()
SERVED = False  # set by the server's entry point (serve.py) that has the route
