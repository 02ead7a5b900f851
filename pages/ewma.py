"""EWMA smoothing: widgets and layout only; the maths is in bnviz.ewma / bnviz.ewma_frames.

The β sliders, the number of curves, the variants and the zoom act in the browser: the server
computes every curve for every β of the grid once per series, the charts pick (bnviz.ui.live).
"""

import pandas as pd
import streamlit as st

from bnviz import ewma, ewma_frames, series
from bnviz.ui import ewma_charts, live, urlstate
from bnviz.ui.classroom import present
from bnviz.ui.common import formula, guarded
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

BETAS = ewma_frames.BETAS
DEFAULT_BETAS = (0.9, 0.98, 0.5)
SOURCES = ("temperatures", "synthetic", "upload", "paste")
ZOOM_MAX = 365
CONTROLS = (
    live.Control("ewma-nc", "choice", key="ncurves"),
    *(live.Control(ewma_charts.IDS[f"b{i}"], "range", key=f"b{i}", options=BETAS) for i in (1, 2, 3)),
    *(live.Control(ewma_charts.IDS[p], "toggle", key=p) for p in ewma_charts.VARIANT_PARAMS.values()),
)
ZOOM = (live.Control(ewma_charts.IDS["zoom"], "range", key="zoom", wide=True),)


@st.cache_data(show_spinner=False)
def _temperatures(column):
    return series.temperatures(column)


@st.cache_data(show_spinner=False, max_entries=8)
def _table(data: bytes):
    return series.read_table(data)


@st.cache_data(show_spinner=False, max_entries=8)
def _curves(chosen: series.Series, first: int | None = None):
    return ewma_frames.curve_table(chosen, first=first)


@st.cache_data(show_spinner=False)
def _weights_and_lag():
    return ewma_frames.weight_table(), ewma_frames.lag_table()


def _ng_preset():
    st.session_state.update(ncurves=3, b1=0.5, b2=0.9, b3=0.98)


def data_sidebar():
    sb = st.sidebar
    sb.header(t("data_header"))
    urlstate.init("src", "temperatures", urlstate.choice(SOURCES))
    src = sb.radio(t("source"), SOURCES, format_func=lambda s: t(f"source_{s}"), key="src")
    params = {"src": src}
    if src == "temperatures":
        urlstate.init("temp", "temp_max", urlstate.choice(("temp_max", "temp_min")))
        params["column"] = sb.radio(t("temp_column"), ("temp_max", "temp_min"), format_func=t, key="temp",
                                    horizontal=True)
    elif src == "synthetic":
        urlstate.init("syn", "sine", urlstate.choice(series.SYNTHETIC))
        urlstate.init("seed", 0, urlstate.int_range(0, 10_000))
        params["kind"] = sb.selectbox(t("synthetic_kind"), series.SYNTHETIC, format_func=lambda k: t(f"syn_{k}"),
                                      key="syn")
        params["seed"] = sb.number_input(t("seed"), 0, 10_000, key="seed")
    elif src == "upload":
        params["file"] = sb.file_uploader(t("upload_label"), type=["csv", "txt", "tsv", "dat"], key="upload")
    else:
        params["text"] = sb.text_area(t("paste_label"), key="paste", height=120)
    return params


def load_series(params):
    """The chosen series, or the temperatures with an explanation when the user's input is not usable."""
    src = params["src"]
    try:
        if src == "temperatures":
            return _temperatures(params["column"]), t("what_temperatures")
        if src == "synthetic":
            return series.synthetic(params["kind"], seed=int(params["seed"])), t("what_synthetic", seed=params["seed"])
        if src == "upload":
            if params["file"] is None:
                st.info(t("upload_hint"))
            else:
                frame, dropped = _table(params["file"].getvalue())
                if dropped:
                    st.caption(t("note_dropped", columns=", ".join(dropped[:10])))
                column = st.selectbox(t("column"), list(frame.columns), key="col")
                return series.from_table(frame, column), t("what_upload", column=column)
        else:
            if not (params["text"] or "").strip():
                st.info(t("paste_hint"))
            else:
                return series.parse_pasted(params["text"]), t("what_paste")
    except series.SeriesError as err:
        st.error(t(f"err_{err.key}", **err.params) + " " + t("err_fallback"))
    return _temperatures("temp_max"), t("what_temperatures")


def init_controls():
    urlstate.init("ncurves", 2, urlstate.choice((1, 2, 3)))
    for i, beta in enumerate(DEFAULT_BETAS, 1):
        urlstate.init(f"b{i}", beta, urlstate.choice(BETAS))
    for p in ewma_charts.VARIANT_PARAMS.values():
        urlstate.init(p, 1, urlstate.choice((1, 0)))


def beta_texts():
    """What the panel shows for each β of the grid: the value and its effective window."""
    return [t("live_beta", beta=b, window=round(ewma.effective_window(b), 1)) for b in BETAS]


def controls_panel():
    texts = {"ewma-nc": {"label": t("n_curves"), "options": [[n, str(n)] for n in (1, 2, 3)]}}
    swatches = ewma_charts.beta_swatches(len(BETAS))
    for i in (1, 2, 3):
        texts[ewma_charts.IDS[f"b{i}"]] = {"label": f"β{'₁₂₃'[i - 1]}", "texts": beta_texts(), "max": len(BETAS) - 1,
                                           "shown_when": ["ewma-nc", i], "swatches": swatches}
    for variant, p in ewma_charts.VARIANT_PARAMS.items():
        texts[ewma_charts.IDS[p]] = {"label": t(f"var_{variant}")}
    live.panel("ewma", CONTROLS, texts, key="ewma_live")
    st.caption(t("live_hint"))


def chosen_betas():
    return list(dict.fromkeys(st.session_state[f"b{i}"] for i in range(1, st.session_state["ncurves"] + 1)))


def chosen_variants():
    return [v for v, p in ewma_charts.VARIANT_PARAMS.items() if st.session_state[p]]


def smoothing_chart(table, chosen, zoom=False):
    temporal = chosen.index is not None
    chart = ewma_charts.smoothing_chart(
        table, labels=[ewma_frames.beta_label(b) for b in BETAS],
        variants={v: t(f"var_{v}") for v in ewma.VARIANTS}, temporal=temporal,
        x_title=t("axis_date") if temporal else t("axis_step"), y_title=t("axis_value"),
        curve_title=t("legend_curve"), variant_title=t("legend_variant"), raw_label=t("raw"), zoom=zoom)
    st.altair_chart(present(chart), width="stretch", key="ewma_chart_zoom" if zoom else "ewma_chart")


st.title(t("ewma_title"))
st.markdown(t("ewma_intro"))
params = data_sidebar()
st.sidebar.button(t("preset_ng"), on_click=_ng_preset, width="stretch")
chosen, what = load_series(params)
n_values = len(chosen.values)
st.caption(t("source_caption", name=chosen.name, n=n_values, what=what))
if chosen.notes.get("non_finite"):
    st.warning(t("note_non_finite", n=chosen.notes["non_finite"]))

init_controls()
with guarded():
    controls_panel()
    # Lazy tabs: only the open one is computed and sent.
    tab_all, tab_zoom = st.tabs([t("chart_all"), t("chart_zoom")], key="view", on_change="rerun")
    if tab_all.open:
        with tab_all:
            table, drawn = _curves(chosen)
            smoothing_chart(table, chosen)
            if drawn < n_values:
                st.info(t("note_downsampled", n=n_values, m=drawn))
    if tab_zoom.open:
        with tab_zoom:
            zoom_max = max(3, min(ZOOM_MAX, n_values))
            urlstate.init("zoom", min(60, zoom_max), urlstate.int_range(2, zoom_max))
            st.session_state["zoom"] = min(st.session_state["zoom"], zoom_max)  # the series may have shrunk
            live.panel("ewma_zoom", ZOOM, {"ewma-zoom": {"label": t("zoom_days"), "min": 2, "max": zoom_max,
                                                         "template": t("zoom_value")}}, key="ewma_zoom_live")
            smoothing_chart(_curves(chosen, first=zoom_max)[0], chosen, zoom=True)
            st.caption(t("zoom_explain"))
    betas, variants = chosen_betas(), chosen_variants()
    st.download_button(t("download"), lambda: ewma_frames.export_frame(chosen, betas, variants).to_csv(index=False),
                       file_name="bnviz_ewma.csv", mime="text/csv", icon=":material/download:")

st.subheader(t("formulas_header"))
left, right = st.columns(2)
with left:
    formula(ewma.LATEX["first"], "f_first")
    formula(ewma.LATEX["zero"], "f_zero")
with right:
    formula(ewma.LATEX["corrected"], "f_corrected")
    formula(ewma.LATEX["weights"], "f_weights")

labels = [ewma_frames.beta_label(b) for b in BETAS]
(weights, marks), (lag, lag_rows) = _weights_and_lag()
with guarded():
    st.subheader(t("weights_header"))
    st.latex(ewma.LATEX["window"])
    st.caption(t("weights_explain"))
    st.altair_chart(present(ewma_charts.weights_chart(
        weights, marks, labels=labels, horizons=[ewma_frames.horizon(b) for b in BETAS], x_title=t("axis_k"),
        y_title=t("axis_weight"), curve_title=t("legend_curve"), mark_label=t("one_over_e"),
        decay_label=t("decay_left"))), width="stretch", key="ewma_chart_weights")

with guarded():
    st.subheader(t("lag_header"))
    st.caption(t("lag_explain"))
    st.latex(ewma.LATEX["lag"])
    ends = lag[lag.i >= 0].groupby("i").t.max().tolist()
    st.altair_chart(present(ewma_charts.lag_chart(
        lag, lag_rows, labels=labels, ends=ends, at=ewma_frames.LAG_AT, x_title=t("axis_step"),
        y_title=t("axis_value"), curve_title=t("legend_curve"), input_label=t("lag_step"),
        crossing_label=t("lag_table_63"))), width="stretch", key="ewma_chart_lag")
    rows = lag_rows[lag_rows.beta.isin(betas)]
    st.dataframe(pd.DataFrame({
        t("lag_table_beta"): rows["beta"],
        t("lag_table_63"): rows["measured_63"], t("lag_table_95"): rows["measured_95"],
        t("lag_table_formula"): [f"{a} / {b}" for a, b in zip(rows["formula_63"], rows["formula_95"])],
    }), hide_index=True)

with guarded():
    st.subheader(t("ng_header"))
    ng = ewma.first_step([40.0], 0.98)
    st.markdown(t("ng_text", v1=round(ng["v"], 12), v1c=round(ng["v_corrected"], 12)))
    st.markdown(t("ng_window", w09=round(ewma.effective_window(0.9), 6), w098=round(ewma.effective_window(0.98), 6),
                  w05=round(ewma.effective_window(0.5), 6), p=ewma.window_decay(0.9)))
    b0 = betas[0]
    first = ewma.first_step(chosen.values, b0)
    if first is not None:
        st.markdown(t("ng_data", beta=b0, x1=first["theta"], v1=first["v"], v1c=first["v_corrected"]))

st.subheader(t("log_header"))
st.markdown(t("log_text", a=ewma.effective_window(0.9), b=ewma.effective_window(0.9005),
              c=round(ewma.effective_window(0.999), 6), d=round(ewma.effective_window(0.9995), 6)))
st.subheader(t("bn_header"))
st.markdown(t("bn_text"))
