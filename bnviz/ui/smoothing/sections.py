"""The EWMA page's sections below its controls: the curves, the formulas, the weights, the lag,
Ng's numbers. Each draws one part of the page from the core's tables (bnviz.smoothing.ewma_frames)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnviz.data.series import Series
from bnviz.smoothing import ewma, ewma_frames
from bnviz.ui import browser_controls, urlstate
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import t
from bnviz.ui.page import formula
from bnviz.ui.smoothing import charts, controls
from bnviz.ui.vega import vega_spec


def intro(params: dict) -> Series:
    """What the page shows and which series it smooths, with what was assumed reading it."""
    st.markdown(t("ewma_intro"))
    chosen, name, what = controls.load_series(params)
    st.caption(t("source_caption", name=name, n=len(chosen.values), what=what))
    if chosen.notes.get("non_finite"):
        st.warning(t("note_non_finite", n=chosen.notes["non_finite"]))
    if chosen.notes.get("read_as"):  # numbers pasted as code or a tool printed them
        st.info(t(f"note_read_{chosen.notes['read_as']}", header=chosen.notes.get("header", "")),
                icon=":material/data_object:")
    if chosen.notes.get("number_format"):  # what was assumed about commas in pasted numbers
        st.info(t(f"note_format_{chosen.notes['number_format']}"), icon=":material/info:")
    return chosen


def init_zoom(n_values: int) -> int:
    """The zoom's largest window for this series; its value checked even while its tab is shut."""
    zoom_max = max(3, min(controls.ZOOM_MAX, n_values))
    urlstate.init("zoom", min(60, zoom_max), urlstate.int_range(2, zoom_max))
    st.session_state["zoom"] = min(st.session_state["zoom"], zoom_max)  # the series may have shrunk
    return zoom_max


def curves(where, chosen: Series, zoom_max: int) -> None:
    """The smoothed curves, whole or the first days (lazy tabs: only the open one is computed and
    sent), and the CSV of every curve shown."""
    n_values = len(chosen.values)
    tab_all, tab_zoom = where.tabs([t("chart_all"), t("chart_zoom")], key="view", on_change="rerun")
    if tab_all.open:
        with tab_all:
            drawn = controls.smoothing_chart(chosen)
            if drawn < n_values:
                st.info(t("note_downsampled", n=n_values, m=drawn))
    if tab_zoom.open:
        with tab_zoom:
            browser_controls.panel("ewma_zoom", controls.ZOOM, {"ewma-zoom": {
                "label": t("zoom_days"), "min": 2, "max": zoom_max, "template": t("zoom_value")}}, key="ewma_zoom_live")
            controls.smoothing_chart(chosen, first=zoom_max, zoom=True)
            st.caption(t("zoom_explain"))
    betas, variants = controls.chosen_betas(), controls.chosen_variants()
    st.download_button(t("download"), lambda: ewma_frames.export_frame(chosen, betas, variants).to_csv(index=False),
                       file_name="bnviz_ewma.csv", mime="text/csv", icon=":material/download:")


def formulas() -> None:
    st.subheader(t("formulas_header"))
    left, right = st.columns(2)
    with left:
        formula(ewma.LATEX["first"], "f_first")
        formula(ewma.LATEX["zero"], "f_zero")
    with right:
        formula(ewma.LATEX["corrected"], "f_corrected")
        formula(ewma.LATEX["weights"], "f_weights")


def _labels() -> list[str]:
    return [ewma_frames.beta_label(b) for b in controls.BETAS]


def weights() -> None:
    """How much each past value weighs, for every β of the grid (the sliders pick)."""
    (weight_rows, marks), _ = controls.weights_and_lag()
    st.subheader(t("weights_header"))
    st.latex(ewma.LATEX["window"])
    st.caption(t("weights_explain"))
    st.vega_lite_chart(present(vega_spec(
        charts.weights_chart, {"weights": weight_rows, "marks": marks}, labels=_labels(),
        horizons=[ewma_frames.horizon(b) for b in controls.BETAS], x_title=t("axis_k"), y_title=t("axis_weight"),
        curve_title=t("legend_curve"), mark_label=t("one_over_e"), decay_label=t("decay_left"))),
        width="stretch", key="ewma_chart_weights")


def lag() -> None:
    """How far the average trails a step in the input, measured and by the formula."""
    _, (lag_frame, lag_rows) = controls.weights_and_lag()
    st.subheader(t("lag_header"))
    st.caption(t("lag_explain"))
    st.latex(ewma.LATEX["lag"])
    st.vega_lite_chart(present(vega_spec(
        charts.lag_chart, {"lag": lag_frame, "lag_rows": lag_rows}, labels=_labels(),
        ends=[int(e) for e in lag_frame[lag_frame.i >= 0].groupby("i").t.max()], at=ewma_frames.LAG_AT,
        x_title=t("axis_step"), y_title=t("axis_value"), curve_title=t("legend_curve"),
        input_label=t("lag_step"), crossing_label=t("lag_table_63"))), width="stretch", key="ewma_chart_lag")
    rows = lag_rows[lag_rows.value_of_beta.isin(controls.chosen_betas())]
    st.dataframe(pd.DataFrame({
        t("lag_table_beta"): rows["value_of_beta"],
        t("lag_table_63"): rows["measured_63"], t("lag_table_95"): rows["measured_95"],
        t("lag_table_formula"): [f"{a} / {b}" for a, b in zip(rows["formula_63"], rows["formula_95"])],
    }), hide_index=True)


def numbers(chosen: Series) -> None:
    """Ng's worked numbers: the first step with and without bias correction, the windows, and the
    first step of the series shown."""
    st.subheader(t("ng_header"))
    ng = ewma.first_step([40.0], 0.98)
    st.markdown(t("ng_text", v1=round(ng["v"], 12), v1c=round(ng["v_corrected"], 12)))
    st.markdown(t("ng_window", w09=round(ewma.effective_window(0.9), 6), w098=round(ewma.effective_window(0.98), 6),
                  w05=round(ewma.effective_window(0.5), 6), p=ewma.window_decay(0.9)))
    b0 = controls.chosen_betas()[0]
    first = ewma.first_step(chosen.values, b0)
    if first is not None:
        st.markdown(t("ng_data", beta=b0, x1=first["theta"], v1=first["v"], v1c=first["v_corrected"]))


def further() -> None:
    """Why β near 1 is chosen on a log scale, and where the average returns (BatchNorm)."""
    st.subheader(t("log_header"))
    st.markdown(t("log_text", a=ewma.effective_window(0.9), b=ewma.effective_window(0.9005),
                  c=round(ewma.effective_window(0.999), 6), d=round(ewma.effective_window(0.9995), 6)))
    st.subheader(t("bn_header"))
    st.markdown(t("bn_text"))
