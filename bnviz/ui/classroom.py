"""Classroom helpers shared by every page: presenter mode and the share link."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from urllib.parse import urlencode, urlsplit

import streamlit as st

from bnviz.ui import live, urlstate
from bnviz.ui.common import narrow_screen
from bnviz.ui.i18n import t

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


MAX_DRAWN = 40
_DRAWN = "_charts_drawn"  # session key: (spec source, data) of the charts of the last full run


def start_run() -> None:
    """Called by app.py before a page runs: forget the previous run's charts (this session's)."""
    st.session_state[_DRAWN] = []


def present(chart, data=None):
    """An Altair chart (or a Vega-Lite dict, its rows in ``data``) with projector-sized text when
    presenting. Every chart passes through here, so it is also kept for the SVG download."""
    drawn = st.session_state.setdefault(_DRAWN, [])
    drawn.append((chart, data))
    del drawn[:-MAX_DRAWN]  # fragment reruns add charts without a new run: keep the latest
    if isinstance(chart, dict) and narrow_screen():
        chart = for_phone(chart)
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


def for_phone(spec: dict) -> dict:
    """A Vega-Lite spec fitted to a phone: facet cells no wider than ``PHONE_CELL`` (a facet
    cannot stretch to its container) and legends listed downwards, so none is cut off."""
    spec = {**spec, "config": {**spec.get("config", {})}}
    # Legends under the chart (a colour bar at the side takes a third of a phone's width), listed downwards.
    spec["config"]["legend"] = {**spec["config"].get("legend", {}), "orient": "bottom", "direction": "vertical"}
    inner = spec.get("spec")
    if "facet" in spec and isinstance(inner, dict) and isinstance(inner.get("width"), (int, float)):
        spec["spec"] = {**inner, "width": min(inner["width"], PHONE_CELL)}
    return spec


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


def _fix_bound(spec, bound: dict) -> None:
    """Parameters bound to a live control take its committed value (no browser, no control)."""
    if isinstance(spec, dict):
        for param in spec.get("params", []):
            bind = param.get("bind")
            element = bind.get("element", "") if isinstance(bind, dict) else ""
            if element.startswith("#") and element[1:] in bound:
                param.pop("bind")
                if "select" in param:
                    param["value"] = [{field: bound[element[1:]] for field in param["select"].get("fields", [])}]
                else:
                    param["value"] = bound[element[1:]]
        for value in spec.values():
            _fix_bound(value, bound)
    elif isinstance(spec, list):
        for value in spec:
            _fix_bound(value, bound)


def _svg_zip(drawn: list, bound: dict | None = None) -> bytes:
    """Every chart of the page rendered to SVG on the server (vl-convert), in one zip; charts
    that follow live controls show the values last committed (``bound``: control id → value)."""
    import altair as alt
    import vl_convert

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, alt.data_transformers.disable_max_rows():
        for i, (chart, data) in enumerate(drawn, 1):
            spec = chart.to_dict() if hasattr(chart, "to_dict") else copy.deepcopy(chart)
            if data is not None:
                spec["data"] = {"values": json.loads(data.to_json(orient="records"))}
            for name, frame in spec.get("datasets", {}).items():
                if isinstance(frame, bytes):  # Arrow, as sent to the browser
                    import pyarrow as pa

                    frame = pa.ipc.open_stream(frame).read_pandas()
                if hasattr(frame, "to_json"):
                    spec["datasets"][name] = json.loads(frame.to_json(orient="records"))
            spec.pop("usermeta", None)
            _fix_bound(spec, bound or {})
            zf.writestr(f"chart_{i:02d}.svg", vl_convert.vegalite_to_svg(spec))
    return buf.getvalue()


def svg_download(url_path: str) -> None:
    """Sidebar button: the charts of this page as SVG files (rendered only when clicked)."""
    drawn = list(st.session_state.get(_DRAWN, []))
    bound = live.bound_values()
    if drawn:
        st.sidebar.download_button(t("save_svg", n=len(drawn)), lambda: _svg_zip(drawn, bound),
                                   file_name=f"bnviz_{url_path or 'home'}_charts.zip",
                                   mime="application/zip", icon=":material/image:", width="stretch")
