"""Presenter mode (large text, the chart first, for a projector) and charts fitted to a phone.

Every chart a page draws passes through :func:`present`, which also keeps it for the SVG export.
"""

from __future__ import annotations

import streamlit as st

from bnviz.ui import urlstate
from bnviz.ui.classroom import svg_export
from bnviz.ui.i18n import t
from bnviz.ui.page import narrow_screen, wide_screen

PRESENT_KEY = "present"
# Larger text everywhere for a projector; the sidebar starts collapsed (see app.py).
PRESENT_CSS = """<style>
html { font-size: 21px; }
[data-testid="stMainBlockContainer"] { padding-top: 3rem; }
[data-testid="stMain"] h1 { font-size: 2.6rem; padding-top: 0; }
.bnviz-live .bl-text { font-size: 1.6rem; }
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.05rem; }
.katex { font-size: 1.35em; }
</style>"""
BIG_TEXT = {"axis": {"labelFontSize": 17, "titleFontSize": 19},
            "legend": {"labelFontSize": 17, "titleFontSize": 18},
            "header": {"labelFontSize": 18, "titleFontSize": 18},
            "title": {"fontSize": 21}}


_KEEP = "_present_kept"


def presenting() -> bool:
    return bool(st.session_state.get(_KEEP, False))


def _keep() -> None:
    st.session_state[_KEEP] = st.session_state[PRESENT_KEY]


def presenter_toggle() -> bool:
    """The sidebar switch (kept in the link as ``?present=True``); injects the projector CSS."""
    # Like the language, a copy outside the widget's state survives Streamlit dropping it; it
    # changes only when the user flips the switch.
    urlstate.init(PRESENT_KEY, False, urlstate.choice((True, False)), start=st.session_state.get(_KEEP))
    st.session_state.setdefault(_KEEP, st.session_state[PRESENT_KEY])
    st.sidebar.toggle(t("present"), key=PRESENT_KEY, help=t("present_help"), on_change=_keep)
    on = presenting()
    if on:
        st.html(PRESENT_CSS)  # our own constant CSS, never user text
    return on


def slots(*names: str) -> dict:
    """One container per part of a page's top, on screen in the order ``names`` gives, except
    on a projector: there the "chart" comes first, then the "controls", then the rest."""
    first = ("chart", "controls")
    order = [*(n for n in first if n in names), *(n for n in names if n not in first)] if presenting() else names
    return {name: st.container() for name in order}


def present(chart, data=None):
    """An Altair chart (or a Vega-Lite dict, its rows in ``data``) with projector-sized text when
    presenting. Every chart passes through here, so it is also kept for the SVG download."""
    svg_export.remember(chart, data)
    if isinstance(chart, dict) and narrow_screen():
        chart = for_phone(chart)
    elif isinstance(chart, dict) and wide_screen():
        chart = for_wide(chart)
    if not presenting():
        return chart
    if isinstance(chart, dict):
        config = {**chart.get("config", {})}
        for part, values in BIG_TEXT.items():
            config[part] = {**config.get(part, {}), **values}
        return {**chart, "config": config}  # the datasets are shared, not copied
    return (chart.configure_axis(**BIG_TEXT["axis"]).configure_legend(**BIG_TEXT["legend"])
            .configure_header(**BIG_TEXT["header"]).configure_title(**BIG_TEXT["title"]))


PHONE_CELL = 110  # px: two facet columns, their headers and axes within a 390 px phone


WIDE_CELL = (1.8, 560)  # on a wide screen facet cells grow this many times, to at most this many px


def for_wide(spec: dict) -> dict:
    """A facetted Vega-Lite spec on a wide screen (≥ 1600 px): its cells wider, so that two
    columns fill a projector's width instead of a third of it (a facet cannot stretch)."""
    scale, most = WIDE_CELL
    return _facet_cells(spec, lambda width: max(width, min(round(width * scale), most)))


def _facet_cells(spec: dict, width) -> dict:
    """``spec`` with its facet cells ``width(old width)`` wide; a spec without facet cells of a
    fixed width as it was."""
    inner = spec.get("spec")
    if "facet" not in spec or not isinstance(inner, dict) or not isinstance(inner.get("width"), (int, float)):
        return spec
    return {**spec, "spec": {**inner, "width": width(inner["width"])}}


COLOUR_BAR_ROOM = 120  # px: a colour bar's legend laid under a chart, with a legend below it


def _has_colour_bar(spec) -> bool:
    """Whether some layer of ``spec`` colours by a quantitative field with a legend (a colour bar)."""
    if isinstance(spec, dict):
        colour = (spec.get("encoding") or {}).get("color") or {}
        if colour.get("type") == "quantitative" and colour.get("legend", {}) is not None:
            return True
        return any(_has_colour_bar(v) for k, v in spec.items() if k in ("layer", "spec", "hconcat", "vconcat"))
    return isinstance(spec, list) and any(_has_colour_bar(v) for v in spec)


def for_phone(spec: dict) -> dict:
    """A Vega-Lite spec fitted to a phone: facet cells no wider than ``PHONE_CELL`` (a facet
    cannot stretch to its container) and legends listed downwards, so none is cut off."""
    spec = {**spec, "config": {**spec.get("config", {})}}
    # Legends under the chart (a colour bar at the side takes a third of a phone's width), their
    # entries listed downwards with whole labels (a long one was cut at Vega's 160 px: "gradien…"),
    # a colour bar lying across: standing, it took the height of the chart's own (the tuning
    # heatmap was a one-pixel strip at 390 × 844).
    spec["config"]["legend"] = {**spec["config"].get("legend", {}), "orient": "bottom", "symbolDirection": "vertical",
                                "gradientDirection": "horizontal", "labelLimit": 0,
                                # two legends one under the other, not side by side off the screen
                                "layout": {"bottom": {"anchor": "start", "direction": "vertical"}}}
    if isinstance(spec.get("height"), (int, float)) and _has_colour_bar(spec):
        spec["height"] = spec["height"] + COLOUR_BAR_ROOM  # the bar now sits under the chart, in its height
    return _facet_cells(spec, lambda width: min(width, PHONE_CELL))


