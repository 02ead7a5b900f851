"""EWMA smoothing: widgets and layout only; the maths is in bnviz.ewma / bnviz.ewma_frames."""

import pandas as pd
import streamlit as st

from bnviz import ewma, ewma_frames, series
from bnviz.ui import charts
from bnviz.ui import urlstate
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
    return series.temperatures(column)


@st.cache_data(show_spinner=False, max_entries=8)
def _table(data: bytes):
    return series.read_table(data)


def _ng_preset():
    st.session_state.update(ncurves=3, b1=0.5, b2=0.9, b3=0.98)


def _beta_fmt(b):
    return f"{b:g}"


def sidebar_controls():
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

    sb.header(t("smoothing_header"))
    sb.button(t("preset_ng"), on_click=_ng_preset, width="stretch")
    urlstate.init("ncurves", 2, urlstate.choice((1, 2, 3)))
    n = sb.segmented_control(t("n_curves"), (1, 2, 3), required=True, key="ncurves")
    betas = []
    for i in range(n):
        urlstate.init(f"b{i + 1}", DEFAULT_BETAS[i], urlstate.choice(BETAS))
        betas.append(sb.select_slider(t("beta_n", i=i + 1), BETAS, format_func=_beta_fmt, key=f"b{i + 1}"))
    urlstate.init("var", list(ewma.VARIANTS), urlstate.choices(ewma.VARIANTS))
    variants = sb.multiselect(t("variants"), ewma.VARIANTS, format_func=lambda v: t(f"var_{v}"), key="var")
    return params, list(dict.fromkeys(betas)), variants


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


def main_chart(chosen, smoothed, variants, betas, first=None):
    raw, curves, drawn = ewma_frames.chart_frames(chosen, smoothed, first=first)
    curves["variant"] = curves["variant"].map(lambda v: t(f"var_{v}"))
    temporal = chosen.index is not None
    chart = charts.smoothing_chart(
        raw, curves, temporal=temporal, x_title=t("axis_date") if temporal else t("axis_step"),
        y_title=t("axis_value"), curve_title=t("legend_curve"), variant_title=t("legend_variant"),
        raw_label=t("raw"), variant_order=[t(f"var_{v}") for v in variants],
        curve_order=[ewma_frames.beta_label(b) for b in betas])
    st.altair_chart(present(chart), width="stretch")
    return drawn


st.title(t("ewma_title"))
st.markdown(t("ewma_intro"))
params, betas, variants = sidebar_controls()
chosen, what = load_series(params)
n_values = len(chosen.values)
st.caption(t("source_caption", name=chosen.name, n=n_values, what=what))
if chosen.notes.get("non_finite"):
    st.warning(t("note_non_finite", n=chosen.notes["non_finite"]))

cols = st.columns(len(betas))
for col, b in zip(cols, betas):
    col.metric(t("metric_window", beta=b), t("metric_window_value", window=round(ewma.effective_window(b), 1)),
               help=t("metric_window_help"), border=True)

smoothed = ewma_frames.smooth_all(chosen, betas, variants)
with guarded():
    zoom_max = max(3, min(365, n_values))
    # Lazy tabs: only the open one is computed and sent, which halves the redraw time.
    tab_all, tab_zoom = st.tabs([t("chart_all"), t("chart_zoom")], key="view", on_change="rerun")
    if tab_all.open:
        with tab_all:
            drawn = main_chart(chosen, smoothed, variants, betas)
            if drawn < n_values:
                st.info(t("note_downsampled", n=n_values, m=drawn))
    if tab_zoom.open:
        with tab_zoom:
            urlstate.init("zoom", min(60, zoom_max), urlstate.int_range(2, zoom_max))
            st.session_state["zoom"] = min(st.session_state["zoom"], zoom_max)  # the series may have shrunk
            first = st.slider(t("zoom_days"), 2, zoom_max, key="zoom")
            main_chart(chosen, smoothed, variants, betas, first=first)
            st.caption(t("zoom_explain"))
    st.download_button(t("download"), lambda: ewma_frames.export_frame(chosen, smoothed).to_csv(index=False),
                       file_name="bnviz_ewma.csv", mime="text/csv", icon=":material/download:")

st.subheader(t("formulas_header"))
left, right = st.columns(2)
with left:
    formula(ewma.LATEX["first"], "f_first")
    formula(ewma.LATEX["zero"], "f_zero")
with right:
    formula(ewma.LATEX["corrected"], "f_corrected")
    formula(ewma.LATEX["weights"], "f_weights")

with guarded():
    st.subheader(t("weights_header"))
    st.latex(ewma.LATEX["window"])
    st.caption(t("weights_explain"))
    w, marks = ewma_frames.weights_frames(betas)
    st.altair_chart(present(charts.weights_chart(
        w, marks, x_title=t("axis_k"), y_title=t("axis_weight"), curve_title=t("legend_curve"),
        mark_label=t("one_over_e"), curve_order=[ewma_frames.beta_label(b) for b in betas])), width="stretch")
    st.caption(" · ".join(t("e_check", beta=b, val=ewma.window_decay(b)) for b in betas))

with guarded():
    st.subheader(t("lag_header"))
    st.caption(t("lag_explain"))
    st.latex(ewma.LATEX["lag"])
    lag, table, input_key = ewma_frames.lag_frames(betas)
    lag["curve"] = lag["curve"].replace({input_key: t("lag_step")})
    st.altair_chart(present(charts.lag_chart(lag, x_title=t("axis_step"), y_title=t("axis_value"),
                                             curve_title=t("legend_curve"), input_label=t("lag_step"),
                                             curve_order=[ewma_frames.beta_label(b) for b in betas])), width="stretch")
    st.dataframe(pd.DataFrame({
        t("lag_table_beta"): table["beta"],
        t("lag_table_63"): table["measured_63"], t("lag_table_95"): table["measured_95"],
        t("lag_table_formula"): [f"{a} / {b}" for a, b in zip(table["formula_63"], table["formula_95"])],
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
