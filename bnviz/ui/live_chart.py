"""Live charts that grow instead of being redrawn (the BatchNorm page, the sweep, the watchers' pages).

A chart is a Vega-Lite spec built once per set of options (:func:`bnviz.ui.vega.vega_spec`),
compiled to Vega on the server (vl-convert) and mounted once in the browser by a small component
(``static/live_chart.js``, with Vega vendored in ``static/vendor/vega``). Its data are append-only
tables (:class:`bnviz.server.feeds.Table`); on each refresh a viewer is sent only the rows after
those it holds (:func:`bnviz.server.feeds.delta`), and the browser inserts them into the view it
keeps: no flicker, and a refresh costs what is new, not the whole history.

While a run trains on a server that has the feed's route (serve.py), a panel drawn with
:func:`live` is also *fed* (:mod:`bnviz.ui.page_feed`): the browser asks the server for its rows
itself every refresh and the fragment does not run again; :func:`text` is the same for short
texts (the status line, captions, a few figures).

What a viewer holds is remembered per session: a page run of the whole app (a first look, a
reconnect, a Reset, another tab) forgets it with :func:`forget`, so every chart is then sent
whole; a fragment's refresh sends deltas. A browser that finds a delta not following what it
holds (a message lost, a chart remounted) asks for everything again (its state ``resync``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict

import streamlit as st

from bnviz.server import feeds
from bnviz.ui import browser_controls, page_feed, static_files
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import t
from bnviz.ui.vega import vega_spec

VL_VERSION = "v6_4"  # the Vega-Lite Altair 6 writes
_HELD = "_live_held"  # session key: chart key → what its browser holds
_HTML = ('<div class="bnviz-chart-box"><div class="bnviz-chart"></div>'
         '<button type="button" class="bnviz-png" hidden></button></div>')
_CSS = """.bnviz-chart-box { position: relative; }
.bnviz-chart { width: 100%; min-height: 40px; }
.bnviz-png { position: absolute; top: 0; right: 0; opacity: 0; pointer-events: none; font-size: 12px;
  padding: 2px 8px; border: 1px solid #ccc; border-radius: 4px; background: #fff; color: #262730; cursor: pointer; }
.bnviz-chart-box:hover .bnviz-png, .bnviz-png:focus-visible { opacity: 1; pointer-events: auto; }
@media (hover: none) {  /* a touch screen hovers nothing: below the chart, shown, never over its titles */
  .bnviz-png:not([hidden]) { position: static; display: block; margin: 2px 0 0 auto; opacity: 1; pointer-events: auto; }
}
.bnviz-tip { position: fixed; z-index: 1000; pointer-events: none; max-width: 22rem;
  background: rgba(255, 255, 255, .96); color: #262730; border: 1px solid #bbb; border-radius: 4px;
  padding: 4px 8px; font: 13px/1.35 sans-serif; box-shadow: 0 1px 4px rgba(0, 0, 0, .2); }
.bnviz-tip b { font-weight: 600; }"""
_TEXT_CSS = """.bnviz-text { font-size: 14px; line-height: 1.6; }
.bnviz-text .bt-bar { height: 4px; border-radius: 2px; background: #f0f2f6; overflow: hidden; margin: 4px 0 8px; }
.bnviz-text .bt-bar > div { height: 100%; background: #1f77b4; width: 0; }
.bnviz-text .bt-caption { color: rgba(49, 51, 63, .6); font-size: 14px; margin: 0 0 4px; }
.bnviz-text .bt-paragraph { font-size: 16px; margin: 0 0 8px; overflow-wrap: anywhere; }
.bnviz-text .bt-metrics { display: flex; flex-wrap: wrap; gap: 8px 48px; margin: 4px 0 12px; }
.bnviz-text .bt-metric span { display: block; font-size: 14px; color: rgba(49, 51, 63, .8); }
.bnviz-text .bt-metric b { display: block; font-size: 32px; font-weight: 400; line-height: 1.2; }
@media (prefers-color-scheme: dark) { .bnviz-text .bt-caption, .bnviz-text .bt-metric span { color: #a3a8b8; } }"""


@functools.cache
def _component():
    return st.components.v2.component("bnviz_live_chart", html=_HTML, css=_CSS,
                                      js=static_files.loader("live_chart.js"), isolate_styles=False)


@functools.cache
def _text_component():
    return st.components.v2.component("bnviz_live_text", html='<div class="bnviz-text"></div>', css=_TEXT_CSS,
                                      js=static_files.loader("live_chart.js", "text"), isolate_styles=False)


def text(key: str, kind: str, make, view, leads: bool = False, feed: dict | None = None) -> None:
    """A short text that changes as the run trains, ``make(view)``: ``progress`` ({"value": 0..1,
    "text"}), ``lines`` (captions), ``paragraphs`` (plain text) or ``metrics`` ([label, value]
    pairs), fed while the run trains. The text that ``leads`` a fragment run (its first) asks the
    server for the feed (``feed``: its address, token and refresh; None: this run is not fed)
    while it is shown."""
    page_feed.text(key, make)
    _text_component()(data={"key": key, "kind": kind, "value": make(view), "leads": leads, "feed": feed},
                      key=key, on_rerun_change=lambda: None)


def live(builder, view, key: str, tables, params=None, tail=(), **options) -> None:
    """:func:`show` of ``tables(view)`` (and ``params(view)``), fed while the run trains."""
    page_feed.chart(key, tables, params)
    show(builder, tables(view), key, params=params(view) if params else None, tail=tail, **options)


@functools.lru_cache(maxsize=256)
def _compiled(vega_lite: str) -> tuple[str, dict, dict]:
    """A Vega-Lite spec (JSON) compiled to Vega: its id, the Vega spec, and the signals that follow a
    page control (name → element id; the browser follows them itself, Vega does not bind them)."""
    import vl_convert

    vega = vl_convert.vegalite_to_vega(json.loads(vega_lite), vl_version=VL_VERSION)
    _tooltips_on_hover(vega)
    followed = {}
    for signal in vega.get("signals", []):
        element = browser_controls.bound_id(signal.pop("bind", None))
        if element:
            followed[signal["name"]] = element
    return hashlib.sha1(vega_lite.encode()).hexdigest()[:16], vega, followed


TIP_SET = "tip"  # the encoding set of a mark's tooltip, run for the item under the pointer only


def _tooltips_on_hover(spec: dict) -> None:
    """Every mark's tooltip and description (Vega-Lite's, in its ``update`` set: values formatted
    for each item at every change) moved to an encoding set of its own, :data:`TIP_SET`, which the
    browser runs for the item under the pointer when it shows the tooltip (static/live_chart.js
    ``hovered``); ``update`` gives the item its row as its tooltip instead (a reference, nothing
    made). The histogram grid's bars formatted nine numbers each at every refresh: with its bars
    unfolded anew, a watcher's page on the histograms tab made ~0.8 MB a refresh (DevTools' heap
    sampling), with its bars kept and this ~0.4 MB, and no garbage collection in a trace's 8 s
    where there had been a major one. (A description is read by screen readers from Vega's SVG;
    these charts are drawn on a canvas.)"""
    for mark in spec.get("marks", []):
        update = mark.get("encode", {}).get("update", {})
        if "tooltip" in update or "description" in update:
            mark["encode"][TIP_SET] = {name: update.pop(name) for name in ("tooltip", "description") if name in update}
            if "tooltip" in mark["encode"][TIP_SET]:
                update["tooltip"] = {"signal": "datum"}
        _tooltips_on_hover(mark)


# (source, base, version, columns) → Arrow table: one conversion per delta, for every viewer it goes to
_ARROW: OrderedDict = OrderedDict()


def _arrow(d: feeds.Delta):
    import pyarrow as pa

    key = (d.source, d.base, d.version, tuple(d.rows.columns))
    table = _ARROW.get(key)
    if table is None:
        # In this thread: pyarrow's default pool of threads costs more than it saves here.
        table = _ARROW[key] = pa.Table.from_pandas(d.rows, nthreads=1, preserve_index=False)
        while len(_ARROW) > 512:
            _ARROW.popitem(last=False)
    return table


def forget() -> None:
    """A run of the whole page: every chart is sent whole (a reload, a reconnect, a Reset)."""
    st.session_state[_HELD] = {}


# What Streamlit's own charts look like (its theme is applied to st.vega_lite_chart, not to these):
# the page's font, grey titles and labels of normal weight, light grid lines. A projector's larger
# text (presenter mode) is laid over it.
THEME = {"font": '"Source Sans", "Source Sans Pro", sans-serif', "background": "transparent",
         "axis": {"labelColor": "#808495", "titleColor": "#808495", "titleFontWeight": "normal", "labelFontSize": 12,
                  "titleFontSize": 14, "gridColor": "#e6eaf1", "domainColor": "#e6eaf1", "tickColor": "#e6eaf1",
                  "titlePadding": 8, "labelPadding": 4},
         "header": {"labelColor": "#808495", "titleColor": "#808495", "labelFontSize": 12, "titleFontWeight": "normal"},
         "legend": {"labelColor": "#808495", "titleColor": "#808495", "titleFontWeight": "normal", "labelFontSize": 13,
                    "titleFontSize": 13},
         "view": {"stroke": "#e6eaf1"}}


def _themed(spec: dict) -> dict:
    """``spec`` on :data:`THEME`, its own config (presenter mode's larger text) laid over it."""
    config = dict(THEME)
    for part, values in spec.get("config", {}).items():
        config[part] = {**config[part], **values} if isinstance(values, dict) and part in THEME else values
    return {**spec, "config": config}


def _fitted(spec: dict) -> dict:
    """A spec without a fixed width takes its container's (a facet's cells keep theirs)."""
    if "facet" in spec or "width" in spec:
        return spec
    return {**spec, "width": "container", "autosize": {"type": "fit-x", "contains": "padding"}}


def show(builder, tables: dict[str, feeds.Table], key: str, params: dict | None = None, tail=(),
         **options) -> None:
    """Draw the chart ``builder(**options)`` (its layers read the named datasets ``tables``) as a
    live chart: the first time whole, then only the rows each table gained. ``params``: values of
    its top-level parameters that change from one refresh to the next (sent beside the rows).
    ``tail``: datasets of captures the chart shows one at a time, at its scrubber's place: while
    fed and the scrubber follows the newest capture, the browser receives that capture's rows
    alone (live_feed ``TAIL_BY``), and the whole history once the scrubber is touched."""
    # The SVG export keeps the chart as drawn now (every row, these parameters) ...
    shown = present(vega_spec(builder, {n: t.frame for n, t in tables.items()}, params=params, **options))
    # ... the browser gets a spec that changes only with the options, and the rows and parameters beside it.
    fitted = _fitted(shown)
    vega_lite = {k: v for k, v in _themed(fitted).items() if k not in ("datasets", "usermeta")}
    if params:
        vega_lite["params"] = [{**p, "value": 0} if p["name"] in params else p for p in vega_lite["params"]]
    spec_id, vega, followed = _compiled(json.dumps(vega_lite, sort_keys=True, ensure_ascii=False))
    held_all = st.session_state.setdefault(_HELD, {})
    asked = (st.session_state.get(key) or {}).get("resync")
    held = held_all.get(key)
    if held is None or held["spec"] != spec_id or held["asked"] != asked:
        held = held_all[key] = {"spec": spec_id, "asked": asked, "tables": {}, "sent_spec": False}
    meta = {"key": key, "spec_id": spec_id, "spec": None if held["sent_spec"] else vega, "feeds": {},
            "params": params or {}, "follow": followed, "fit": fitted.get("width") == "container",
            "vega": static_files.url("vendor/vega/vega.min.js"), "png": t("save_png"), "fed": page_feed.fed(),
            "tail": list(tail)}
    data = {}
    for name, table in tables.items():
        d = feeds.delta(table, held["tables"].get(name))
        meta["feeds"][name] = {"source": d.source, "whole": d.whole, "base": d.base, "version": d.version}
        if d.whole or len(d.rows):
            data[f"t_{name}"] = _arrow(d)
        held["tables"][name] = d.held
    held["sent_spec"] = True
    _component()(data={"meta": meta, **data}, key=key, on_resync_change=lambda: None)
