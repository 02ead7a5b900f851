"""Optimizer trajectories: layout only. The maths is bnviz.optimization; the controls and the
sections are bnviz.ui.optimization.

α, each optimizer's β (β₁), the step and Play act in the browser: the server computes the path
of every value on those sliders' grids once (bnviz.optimization.path_frames.trajectory_table), the charts pick.
"""

import streamlit as st

from bnviz.ui.classroom.presenter import slots
from bnviz.ui.i18n import t
from bnviz.ui.navigation import ensure_entrypoint
from bnviz.ui.optimization import controls, sections
from bnviz.ui.page import guarded

ensure_entrypoint()

st.title(t("opt_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
top["intro"].caption(t("opt_intro"))
cfg, same, hps = controls.sidebar()
with top["intro"]:
    surface_id, surface, start = sections.surface_and_start(cfg)
    shown = sections.every_path(cfg, same, hps, surface_id, surface, start)

with guarded():
    with top["controls"]:
        controls.controls_panel(shown.names, same, cfg["steps"])
    sections.surface_chart(top["chart"], shown)
    sections.divergence(shown)
    if shown.names:
        sections.loss(shown)

if shown.names:
    with guarded():
        sections.table(shown)
    sections.formulas(shown)
    sections.torch_form(shown)
