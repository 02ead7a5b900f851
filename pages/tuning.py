"""Hyper-parameter tuning: widgets and layout only; the maths is in bnviz.tuning.

The seed and the rounds act in the browser: the server scores the whole landscape and every
strategy's points for every seed once per objective (bnviz.ui.tuning_controls.tables)."""

import pandas as pd
import streamlit as st

from bnviz import tuning
from bnviz.ui import sweep_panel, tuning_charts
from bnviz.ui.charts import vega_spec
from bnviz.ui.classroom import present, slots
from bnviz.ui.common import formula, guarded
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint
from bnviz.ui.tuning_controls import BUDGET, SEEDS, controls_panel, init_controls, sidebar, tables

ensure_entrypoint()

st.title(t("tune_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
top["intro"].markdown(t("tune_intro"))
surface_key, optimizer, steps = sidebar()
init_controls()
with st.spinner(t("tune_computing")):
    cells, points, best, betas = tables(surface_key, optimizer, steps)
labels = {s: t(f"tune_strategy_{s}") for s in ("grid", "random", "fine")}
points = points.assign(label=points.strategy.map(labels))
cells = cells.assign(what=t("tune_diverged"))
best = best.assign(what=t("tune_true_best"))
betas = betas.assign(label=betas.scale.map({"linear": t("tune_scale_linear"), "log": t("tune_scale_log")}))
axes = {"x_title": t("tune_axis_alpha"), "y_title": t("tune_axis_beta"), "score_title": t("tune_score")}

with guarded():
    with top["controls"]:
        controls_panel()
    top["chart"].vega_lite_chart(present(vega_spec(
        tuning_charts.search_chart, {"cells": cells, "points": points, "best": best}, labels=labels,
        legend_title=t("tune_strategy"), **axes)), width="stretch", key="tune_chart_search")
    with top["intro"]:
        formula(tuning.LATEX["score"], "tune_score_explain")

def decimals(v):
    return "—" if pd.isna(v) else f"{v:.2f}"


with guarded():
    true_best = float(best.score.iloc[0]) if len(best) else float("nan")
    table = tuning.summary(points, true_best)
    seed = st.session_state["tseed"]
    shown = table[table.seed == seed]
    st.table(pd.DataFrame({  # a plain table: large on a projector, text a screen reader finds
        t("tune_strategy"): shown.strategy.map(labels), t("tune_col_runs"): shown.runs,
        t("tune_col_alphas"): shown.distinct_alpha, t("tune_col_betas"): shown.distinct_beta,
        t("tune_col_best"): shown.best.map(decimals), t("tune_col_behind"): shown.behind.map(decimals),
        t("tune_col_where"): [f"α = {a:.3g}, β = {b:.4g}" if pd.notna(a) else "—"
                              for a, b in zip(shown.best_alpha, shown.best_beta)],
    }).set_index(t("tune_strategy")))
    st.markdown(t("tune_verdict", **tuning.better_than_grid(table), seeds=SEEDS, budget=BUDGET, best=true_best))

with guarded():
    st.subheader(t("tune_fine_header"))
    st.caption(t("tune_fine_explain", budget=BUDGET))
    st.vega_lite_chart(present(vega_spec(
        tuning_charts.fine_chart, {"cells": cells, "points": points, "best": best}, round_title=t("tune_round"),
        **axes)), width="stretch", key="tune_chart_fine")

with guarded():
    st.subheader(t("tune_scale_header"))
    st.latex(tuning.LATEX["beta_sample"])
    st.vega_lite_chart(present(vega_spec(
        tuning_charts.sampling_chart, {"betas": betas}, x_title=t("tune_axis_window"), y_title=t("tune_axis_drawn"))),
        width="stretch", key="tune_chart_scale")
    st.caption(t("tune_scale_explain", **tuning.share_below(betas[betas.seed == st.session_state["tseed"]])))
    st.latex(tuning.LATEX["log_sample"])

with guarded():
    sweep_panel.section()

st.subheader(t("tune_more_header"))
st.markdown(t("tune_more"))
st.page_link("pages/batchnorm.py", label=t("tune_bn_link"), icon=":material/stacked_bar_chart:")
st.download_button(t("tune_download"), lambda: points.drop(columns=["label"]).to_csv(index=False),
                   file_name="bnviz_tuning.csv", mime="text/csv", icon=":material/download:")
