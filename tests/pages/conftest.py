import functools
import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bnviz.ui import browser_controls
from bnviz.ui.strings import STRINGS

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _scan_once():
    """Every AppTest run scans the metadata of every installed package for Streamlit components
    (0.3 s, three quarters of a page's run here); the packages do not change during a test
    session, so the first scan's answer is kept."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    if getattr(scan, "cache_info", None) is None:
        manifest_scanner.scan_component_manifests = functools.lru_cache(maxsize=1)(scan)


_scan_once()


@pytest.fixture
def app():
    """Run the real entrypoint; ``app(page, lang)`` opens a page in a language."""
    created = []

    def open_page(page="pages/home.py", lang="en"):
        at = AppTest.from_file(APP, default_timeout=60).run()
        if lang != "en":
            set_language(at, lang)
        if page != "pages/home.py":
            at.switch_page(page).run()
        created.append(at)
        return at

    yield open_page
    st.cache_resource.clear()
    from bnviz.training.watching import REGISTRY

    REGISTRY.drop_all()  # the owners' runs stay watchable after their sessions: not between tests


def set_language(at, lang):
    # AppTest formats option labels outside the session and drops the entrypoint's sidebar widget
    # from its tree after a page switch, so the switch goes through session state (the widget's
    # value and the copy the app keeps of it). The real widget is clicked in the browser tests.
    at.session_state["lang"] = lang
    at.session_state["_lang_kept"] = lang
    at.run()


def texts(at):
    """All text the page shows in markdown, captions, alerts and titles."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "title", "subheader", "header"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def no_traceback(at):
    assert not at.exception, [e.value for e in at.exception]
    assert "Traceback" not in texts(at)


@pytest.fixture(params=list(STRINGS))
def lang(request):
    return request.param


def chart_specs(at):
    """The Vega-Lite specs of the page's charts (AppTest can't see their content otherwise)."""
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_data(at, index=0):
    """The data frames Streamlit sent with chart ``index`` (Arrow-encoded beside the spec)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[index]
    frames = [pa.ipc.open_stream(ds.data.data).read_pandas() for ds in chart.proto.datasets]
    if chart.proto.HasField("data") and chart.proto.data.data:  # st.vega_lite_chart(frame, spec)
        frames.insert(0, pa.ipc.open_stream(chart.proto.data.data).read_pandas())
    return frames


def chart_tables(at, index=0) -> dict:
    """The named datasets Streamlit sent with chart ``index`` as it sent them: name → Arrow table."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[index]
    return {ds.name: pa.ipc.open_stream(ds.data.data).read_all() for ds in chart.proto.datasets}


def chart_datasets(at, index=0) -> dict:
    """The named datasets Streamlit sent with chart ``index``: name → frame."""
    return {name: table.to_pandas() for name, table in chart_tables(at, index).items()}


def drawn_specs(at) -> list[dict]:
    """Every chart the page drew in its last run, live ones included, as the SVG download keeps
    them: Vega-Lite specs whose ``datasets`` are frames (a live chart's: every row it holds)."""
    return [chart for chart, _ in at.session_state["_charts_drawn"]]


def drawn_datasets(at, index=0) -> dict:
    """The datasets of drawn chart ``index``: name → frame."""
    return dict(drawn_specs(at)[index]["datasets"])


def live_charts(at) -> list[dict]:
    """The page's live charts (bnviz.ui.live_chart) as their browsers receive them: ``key``,
    ``spec`` (Vega, or None when not sent), ``feeds`` (name → source, whole, base, version),
    ``params``, ``follow``, and ``rows`` (name → the frame of rows sent)."""
    import pyarrow as pa

    out = []
    for element in at.get("bidi_component"):
        proto = element.proto
        mixed = proto.HasField("mixed")
        doc = json.loads(proto.mixed.json if mixed else proto.json)
        if not isinstance(doc, dict) or "meta" not in doc:
            continue  # a panel of controls
        rows = {name[2:]: pa.ipc.open_stream(proto.mixed.arrow_blobs[ref["__streamlit_arrow_ref__"]].data).read_pandas()
                for name, ref in doc.items() if name.startswith("t_")}
        out.append({**doc["meta"], "rows": rows})
    return out


def live_panels(at) -> dict:
    """The live panels of the page: control id → what the browser gets (label, texts, …) and
    ``value``, the position the panel starts at."""
    out = {}
    for element in at.get("bidi_component"):
        data = json.loads(element.proto.json)
        for control in data.get("controls", []):  # the page helper (bnviz/ui/page.js) has none
            out[control["id"]] = {**control, "value": data["values"].get(control["id"])}
    return out


def live_text(at, control_id) -> str:
    """The text the panel shows beside a control at its current position."""
    c = live_panels(at)[control_id]
    return c["texts"][c["value"]] if "texts" in c else c["template"].replace("{value}", str(c["value"]))


def spec_nodes(spec):
    """Every dict inside a chart spec (its layers, encodings, parameters, ...), depth first."""
    if isinstance(spec, dict):
        yield spec
        for value in spec.values():
            yield from spec_nodes(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from spec_nodes(value)


def bound_elements(spec) -> set[str]:
    """The ids of the live controls a chart's parameters follow."""
    binds = (param.get("bind") for node in spec_nodes(spec) for param in node.get("params", []))
    return {element for element in map(browser_controls.bound_id, binds) if element}
