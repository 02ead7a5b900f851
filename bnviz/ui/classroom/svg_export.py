"""Every chart of a page as an SVG file, rendered on the server (vl-convert) when asked for."""

from __future__ import annotations

import copy
import io
import json
import zipfile

import streamlit as st

from bnviz.ui import browser_controls
from bnviz.ui.i18n import t

MAX_DRAWN = 40
_DRAWN = "_charts_drawn"  # session key: (spec source, data) of the charts of the last full run


def forget_charts() -> None:
    """Called by app.py before a page runs: forget the previous run's charts (this session's)."""
    st.session_state[_DRAWN] = []


def remember(chart, data=None) -> None:
    """Keep a chart this run draws (fragment reruns add charts without a new run: the latest)."""
    drawn = st.session_state.setdefault(_DRAWN, [])
    drawn.append((chart, data))
    del drawn[:-MAX_DRAWN]


def _fix_bound(spec, bound: dict) -> None:
    """Parameters bound to a live control take its committed value (no browser, no control)."""
    if isinstance(spec, dict):
        for param in spec.get("params", []):
            element = browser_controls.bound_id(param.get("bind"))
            if element in bound:
                param.pop("bind")
                if "select" in param:
                    param["value"] = [{field: bound[element] for field in param["select"].get("fields", [])}]
                else:
                    param["value"] = bound[element]
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
    bound = browser_controls.bound_values()
    if drawn:
        st.sidebar.download_button(t("save_svg", n=len(drawn)), lambda: _svg_zip(drawn, bound),
                                   file_name=f"bnviz_{url_path or 'home'}_charts.zip",
                                   mime="application/zip", icon=":material/image:", width="stretch")
