"""EWMA smoothing: widgets and layout only; the maths is in bnviz.ewma / bnviz.ewma_frames.

The β sliders, the number of curves, the variants and the zoom act in the browser: the server
computes every curve for every β of the grid once per series, the charts pick (bnviz.ui.live).
"""

import pandas as pd
import streamlit as st

from bnviz import ewma, ewma_frames
from bnviz.ui import ewma_charts, live, urlstate
from bnviz.ui.charts import vega_spec
from bnviz.ui.classroom import present, slots
from bnviz.ui.common import formula, guarded
from bnviz.ui.ewma_controls import (BETAS, ZOOM, ZOOM_MAX, chosen_betas, chosen_variants, controls_panel,
                                    data_sidebar, init_controls, load_series, ng_preset, smoothing_chart,
                                    weights_and_lag)
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

st.title(t("ewma_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
params = data_sidebar()
st.sidebar.button(t("preset_ng"), on_click=ng_preset, width="stretch")
with top["intro"]:
    st.markdown(t("ewma_intro"))
    chosen, name, what = load_series(params)
    n_values = len(chosen.values)
    st.caption(t("source_caption", name=name, n=n_values, what=what))
    if chosen.notes.get("non_finite"):
        st.warning(t("note_non_finite", n=chosen.notes["non_finite"]))
    if chosen.notes.get("number_format"):  # what was assumed about commas in pasted numbers
        st.info(t(f"note_format_{chosen.notes['number_format']}"), icon=":material/info:")

init_controls()
zoom_max = max(3, min(ZOOM_MAX, n_values))
urlstate.init("zoom", min(60, zoom_max), urlstate.int_range(2, zoom_max))  # checked even while its tab is shut
st.session_state["zoom"] = min(st.session_state["zoom"], zoom_max)  # the series may have shrunk
with guarded():
    with top["controls"]:
        controls_panel()
    # Lazy tabs: only the open one is computed and sent.
    tab_all, tab_zoom = top["chart"].tabs([t("chart_all"), t("chart_zoom")], key="view", on_change="rerun")
    if tab_all.open:
        with tab_all:
            drawn = smoothing_chart(chosen)
            if drawn < n_values:
                st.info(t("note_downsampled", n=n_values, m=drawn))
    if tab_zoom.open:
        with tab_zoom:
            live.panel("ewma_zoom", ZOOM, {"ewma-zoom": {"label": t("zoom_days"), "min": 2, "max": zoom_max,
                                                         "template": t("zoom_value")}}, key="ewma_zoom_live")
            smoothing_chart(chosen, first=zoom_max, zoom=True)
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
(weights, marks), (lag, lag_rows) = weights_and_lag()
with guarded():
    st.subheader(t("weights_header"))
    st.latex(ewma.LATEX["window"])
    st.caption(t("weights_explain"))
    st.vega_lite_chart(present(vega_spec(
        ewma_charts.weights_chart, {"weights": weights, "marks": marks}, labels=labels,
        horizons=[ewma_frames.horizon(b) for b in BETAS], x_title=t("axis_k"), y_title=t("axis_weight"),
        curve_title=t("legend_curve"), mark_label=t("one_over_e"), decay_label=t("decay_left"))),
        width="stretch", key="ewma_chart_weights")

with guarded():
    st.subheader(t("lag_header"))
    st.caption(t("lag_explain"))
    st.latex(ewma.LATEX["lag"])
    st.vega_lite_chart(present(vega_spec(
        ewma_charts.lag_chart, {"lag": lag, "lag_rows": lag_rows}, labels=labels,
        ends=[int(e) for e in lag[lag.i >= 0].groupby("i").t.max()], at=ewma_frames.LAG_AT,
        x_title=t("axis_step"), y_title=t("axis_value"), curve_title=t("legend_curve"),
        input_label=t("lag_step"), crossing_label=t("lag_table_63"))), width="stretch", key="ewma_chart_lag")
    rows = lag_rows[lag_rows.value_of_beta.isin(betas)]
    st.dataframe(pd.DataFrame({
        t("lag_table_beta"): rows["value_of_beta"],
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
