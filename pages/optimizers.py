"""Optimizer trajectories: widgets and layout only; the maths is in bnviz.optimizers / bnviz.opt_frames.

α, each optimizer's β (β₁), the step and Play act in the browser: the server computes the path
of every value on those sliders' grids once (bnviz.opt_frames.trajectory_table), the charts pick.
"""

import pandas as pd
import streamlit as st

from bnviz import expr, opt_frames, optimizers
from bnviz.ui import opt_charts, urlstate
from bnviz.ui.charts import vega_spec
from bnviz.ui.classroom import present, slots
from bnviz.ui.common import guarded
from bnviz.ui.i18n import t
from bnviz.ui.opt_controls import (controls_panel, every_path, load_surface, on_click, opt_label, settings_key,
                                   sidebar, start_inputs, torch_path)
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

st.title(t("opt_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
top["intro"].caption(t("opt_intro"))
cfg, same, hps = sidebar()
names = list(hps)
surface_id, surface = load_surface(cfg)
shape = surface or expr.square(float(cfg.get("width") or 3.0))  # a typed surface's square needs no formula
(xa, xb), (ya, yb) = shape.domain
urlstate.init("sx", float(shape.start[0]), urlstate.float_range(xa, xb))
urlstate.init("sy", float(shape.start[1]), urlstate.float_range(ya, yb))
steps = cfg["steps"]
urlstate.init("step", steps, urlstate.int_range(0, 1000))
st.session_state["step"] = min(st.session_state["step"], steps)
with top["intro"]:
    sx, sy = start_inputs(shape.domain)
    if surface is None:
        st.stop()  # the error is on screen; every setting is kept for the corrected formula
    st.latex(surface.latex if cfg["surface"] != "custom" else "f(x,y) = " + cfg["expr"].replace("**", "^"))

paths, rates, runs, cells = every_path(surface_id, settings_key(hps), hps, (sx, sy), steps)
labels = {name: opt_label(name) for name in optimizers.OPTIMIZERS}
paths, rates = paths.assign(label=paths.optimizer.map(labels)), rates.assign(label=rates.optimizer.map(labels))
if not names:
    top["intro"].info(t("opt_none"))
for name, r in runs.items():
    if r.diverged_at is not None:
        top["intro"].warning(t("diverged_msg", name=opt_label(name), k=r.diverged_at))

with guarded():
    with top["controls"]:
        controls_panel(names, same, steps)
    minima = pd.DataFrame(surface.minima or [], columns=["x", "y"])
    top["chart"].vega_lite_chart(present(vega_spec(
        opt_charts.contour_chart, {"cells": cells, "paths": paths, "minima": minima}, names=names, same=same,
        labels=labels, domain=surface.domain, x_title=t("axis_x"), y_title=t("axis_y"),
        loss_title=t("axis_log_gap"), opt_title=t("legend_opt"))),
        key="contour", on_select=on_click, selection_mode="start", width="stretch")
    if names:
        st.subheader(t("loss_header"))
        st.caption(t("loss_gap_explain", fstar=f"{opt_frames.lowest_value(surface):.6g}"))
        st.vega_lite_chart(present(vega_spec(
            opt_charts.loss_chart, {"paths": paths}, names=names, same=same, labels=labels,
            x_title=t("axis_step"), y_title=t("axis_gap"), opt_title=t("legend_opt"))),
            width="stretch", key="opt_chart_loss")


def step_or_never(v):
    return t("never") if v is None or pd.isna(v) else str(int(v))


if names:
    with guarded():
        table = opt_frames.summary_frame(surface, runs)
        st.dataframe(pd.DataFrame({
            t("col_opt"): table["optimizer"].map(opt_label),
            t("col_final"): table["final_loss"].map(lambda v: f"{v:.4g}"),
            t("col_reach"): table["steps_to_min"].map(step_or_never),
            t("col_diverged"): table["diverged_at"].map(step_or_never),
        }), hide_index=True)
        if any(hp.get("schedule") for hp in hps.values()):
            st.subheader(t("lr_header"))
            st.vega_lite_chart(present(vega_spec(
                opt_charts.lr_chart, {"rates": rates}, names=names, same=same, labels=labels,
                x_title=t("axis_step"), y_title=t("axis_lr"), opt_title=t("legend_opt"))),
                width="stretch", key="opt_chart_lr")
        st.download_button(t("download_paths"), lambda: opt_frames.export_frame(surface, runs).to_csv(index=False),
                           file_name="bnviz_trajectories.csv", mime="text/csv", icon=":material/download:")

    st.subheader(t("formulas_opt"))
    for name in hps:
        st.markdown(f"**{opt_label(name)}**")
        st.latex(optimizers.LATEX[name])

    urlstate.init("torch", False, urlstate.choice((True, False)))
    if st.toggle(t("torch_form"), key="torch"):
        with guarded():
            st.subheader(t("torch_header"))
            st.caption(t("torch_text"))
            for name, hp in hps.items():
                try:
                    code = optimizers.torch_call(name, **hp)
                except ValueError:
                    st.info(f"{opt_label(name)}: {t('torch_none')}")
                    continue
                ref = torch_path(surface_id, settings_key(hp), name, hp, (sx, sy), steps)
                st.code(code, language="python")
                st.caption(t("torch_dev", dev=optimizers.max_deviation(ref, runs[name].path)))
