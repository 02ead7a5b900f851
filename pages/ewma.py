"""EWMA smoothing: widgets and layout only; the maths is in bnviz.ewma / bnviz.ewma_frames."""

import numpy as np
import pandas as pd
import streamlit as st

from bnviz import ewma as E
from bnviz import ewma_frames as F
from bnviz import series as S
from bnviz.ui import charts
from bnviz.ui import urlstate as url
from bnviz.ui.common import formula, guarded
from bnviz.ui.classroom import present
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

# β on the scale of 1−β: roughly log-spaced, containing Ng's 0.5, 0.9 and 0.98.
ONE_MINUS_BETA = [0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02, 0.015, 0.01,
                  0.007, 0.005, 0.003, 0.002, 0.001]
BETAS = [round(1 - d, 6) for d in ONE_MINUS_BETA]
DEFAULT_BETAS = (0.9, 0.98, 0.5)
SOURCES = ("temperatures", "synthetic", "upload", "paste")


@st.cache_data(show_spinner=False)
def _temperatures(column):
    return S.temperatures(column)


@st.cache_data(show_spinner=False, max_entries=8)
def _table(data: bytes):
    return S.read_table(data)


def _ng_preset():
    st.session_state.update(ncurves=3, b1=0.5, b2=0.9, b3=0.98)


def _beta_fmt(b):
    return f"{b:g}"


def sidebar_controls():
    sb = st.sidebar
    sb.header(t("data_header"))
    url.init("src", "temperatures", url.choice(SOURCES))
    src = sb.radio(t("source"), SOURCES, format_func=lambda s: t(f"source_{s}"), key="src")
    params = {"src": src}
    if src == "temperatures":
        url.init("temp", "temp_max", url.choice(("temp_max", "temp_min")))
        params["column"] = sb.radio(t("temp_column"), ("temp_max", "temp_min"), format_func=t, key="temp",
                                    horizontal=True)
    elif src == "synthetic":
        url.init("syn", "sine", url.choice(S.SYNTHETIC))
        url.init("seed", 0, url.int_range(0, 10_000))
        params["kind"] = sb.selectbox(t("synthetic_kind"), S.SYNTHETIC, format_func=lambda k: t(f"syn_{k}"),
                                      key="syn")
        params["seed"] = sb.number_input(t("seed"), 0, 10_000, key="seed")
    elif src == "upload":
        params["file"] = sb.file_uploader(t("upload_label"), type=["csv", "txt", "tsv", "dat"], key="upload")
    else:
        params["text"] = sb.text_area(t("paste_label"), key="paste", height=120)

    sb.header(t("smoothing_header"))
    sb.button(t("preset_ng"), on_click=_ng_preset, width="stretch")
    url.init("ncurves", 2, url.choice((1, 2, 3)))
    n = sb.segmented_control(t("n_curves"), (1, 2, 3), required=True, key="ncurves")
    betas = []
    for i in range(n):
        url.init(f"b{i + 1}", DEFAULT_BETAS[i], url.choice(BETAS))
        betas.append(sb.select_slider(t("beta_n", i=i + 1), BETAS, format_func=_beta_fmt, key=f"b{i + 1}"))
    url.init("var", list(E.VARIANTS), url.choices(E.VARIANTS))
    variants = sb.multiselect(t("variants"), E.VARIANTS, format_func=lambda v: t(f"var_{v}"), key="var")
    return params, list(dict.fromkeys(betas)), variants


def load_series(params):
    """The chosen series, or the temperatures with an explanation when the user's input is not usable."""
    src = params["src"]
    try:
        if src == "temperatures":
            return _temperatures(params["column"]), t("what_temperatures")
        if src == "synthetic":
            return S.synthetic(params["kind"], seed=int(params["seed"])), t("what_synthetic", seed=params["seed"])
        if src == "upload":
            if params["file"] is None:
                st.info(t("upload_hint"))
            else:
                frame, dropped = _table(params["file"].getvalue())
                if dropped:
                    st.caption(t("note_dropped", columns=", ".join(dropped[:10])))
                column = st.selectbox(t("column"), list(frame.columns), key="col")
                return S.from_table(frame, column), t("what_upload", column=column)
        else:
            if not (params["text"] or "").strip():
                st.info(t("paste_hint"))
            else:
                return S.parse_pasted(params["text"]), t("what_paste")
    except S.SeriesError as err:
        st.error(t(f"err_{err.key}", **err.params) + " " + t("err_fallback"))
    return _temperatures("temp_max"), t("what_temperatures")


def main_chart(series, smoothed, variants, betas, first=None):
    raw, curves, drawn = F.chart_frames(series, smoothed, first=first)
    curves["variant"] = curves["variant"].map(lambda v: t(f"var_{v}"))
    temporal = series.index is not None
    chart = charts.smoothing_chart(
        raw, curves, temporal=temporal, x_title=t("axis_date") if temporal else t("axis_step"),
        y_title=t("axis_value"), curve_title=t("legend_curve"), variant_title=t("legend_variant"),
        raw_label=t("raw"), variant_order=[t(f"var_{v}") for v in variants],
        curve_order=[F.beta_label(b) for b in betas])
    st.altair_chart(present(chart), width="stretch")
    return drawn


st.title(t("ewma_title"))
st.markdown(t("ewma_intro"))
params, betas, variants = sidebar_controls()
series, what = load_series(params)
n_values = len(series.values)
st.caption(t("source_caption", name=series.name, n=n_values, what=what))
if series.notes.get("non_finite"):
    st.warning(t("note_non_finite", n=series.notes["non_finite"]))

cols = st.columns(len(betas))
for col, b in zip(cols, betas):
    col.metric(t("metric_window", beta=b), t("metric_window_value", window=round(E.effective_window(b), 1)),
               help=t("metric_window_help"), border=True)

smoothed = F.smooth_all(series, betas, variants)
with guarded():
    zoom_max = max(3, min(365, n_values))
    # Lazy tabs: only the open one is computed and sent, which halves the redraw time.
    tab_all, tab_zoom = st.tabs([t("chart_all"), t("chart_zoom")], key="view", on_change="rerun")
    if tab_all.open:
        with tab_all:
            drawn = main_chart(series, smoothed, variants, betas)
            if drawn < n_values:
                st.info(t("note_downsampled", n=n_values, m=drawn))
    if tab_zoom.open:
        with tab_zoom:
            url.init("zoom", min(60, zoom_max), url.int_range(2, zoom_max))
            st.session_state["zoom"] = min(st.session_state["zoom"], zoom_max)  # the series may have shrunk
            first = st.slider(t("zoom_days"), 2, zoom_max, key="zoom")
            main_chart(series, smoothed, variants, betas, first=first)
            st.caption(t("zoom_explain"))
    st.download_button(t("download"), lambda: F.export_frame(series, smoothed).to_csv(index=False),
                       file_name="bnviz_ewma.csv", mime="text/csv", icon=":material/download:")

st.subheader(t("formulas_header"))
left, right = st.columns(2)
with left:
    formula(E.LATEX["first"], "f_first")
    formula(E.LATEX["zero"], "f_zero")
with right:
    formula(E.LATEX["corrected"], "f_corrected")
    formula(E.LATEX["weights"], "f_weights")

with guarded():
    st.subheader(t("weights_header"))
    st.latex(E.LATEX["window"])
    st.caption(t("weights_explain"))
    w, marks = F.weights_frames(betas)
    st.altair_chart(present(charts.weights_chart(
        w, marks, x_title=t("axis_k"), y_title=t("axis_weight"), curve_title=t("legend_curve"),
        mark_label=t("one_over_e"), curve_order=[F.beta_label(b) for b in betas])), width="stretch")
    st.caption(" · ".join(t("e_check", beta=b, val=b ** E.effective_window(b)) for b in betas))

with guarded():
    st.subheader(t("lag_header"))
    st.caption(t("lag_explain"))
    st.latex(E.LATEX["lag"])
    lag, table, input_key = F.lag_frames(betas)
    lag["curve"] = lag["curve"].replace({input_key: t("lag_step")})
    st.altair_chart(present(charts.lag_chart(lag, x_title=t("axis_step"), y_title=t("axis_value"),
                                             curve_title=t("legend_curve"), input_label=t("lag_step"),
                                             curve_order=[F.beta_label(b) for b in betas])), width="stretch")
    st.dataframe(pd.DataFrame({
        t("lag_table_beta"): table["beta"],
        t("lag_table_63"): table["measured_63"], t("lag_table_95"): table["measured_95"],
        t("lag_table_formula"): [f"{a} / {b}" for a, b in zip(table["formula_63"], table["formula_95"])],
    }), hide_index=True)

with guarded():
    st.subheader(t("ng_header"))
    v1 = E.ewma([40.0], 0.98)[0]
    v1c = E.ewma([40.0], 0.98, bias_correction=True)[0]
    st.markdown(t("ng_text", v1=round(v1, 12), v1c=round(v1c, 12)))
    st.markdown(t("ng_window", w09=round(E.effective_window(0.9), 6), w098=round(E.effective_window(0.98), 6),
                  w05=round(E.effective_window(0.5), 6), p=0.9 ** 10))
    first_finite = series.values[np.isfinite(series.values)][:1]
    b0 = betas[0]
    st.markdown(t("ng_data", beta=b0, x1=first_finite[0], v1=E.ewma(first_finite, b0)[0],
                  v1c=E.ewma(first_finite, b0, bias_correction=True)[0]))

st.subheader(t("log_header"))
st.markdown(t("log_text", a=E.effective_window(0.9), b=E.effective_window(0.9005),
              c=round(E.effective_window(0.999), 6), d=round(E.effective_window(0.9995), 6)))
st.subheader(t("bn_header"))
st.markdown(t("bn_text"))
