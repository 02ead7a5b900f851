"""EWMA smoothing: layout only. The maths is bnviz.smoothing; the controls and sections are
bnviz.ui.smoothing.

The β sliders, the number of curves, the variants and the zoom act in the browser: the server
computes every curve for every β of the grid once per series, the charts pick (bnviz.ui.browser_controls).
"""

import streamlit as st

from bnviz.ui.classroom.presenter import slots
from bnviz.ui.i18n import t
from bnviz.ui.navigation import ensure_entrypoint
from bnviz.ui.page import guarded
from bnviz.ui.smoothing import controls, sections

ensure_entrypoint()

st.title(t("ewma_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
params = controls.data_sidebar()
st.sidebar.button(t("preset_ng"), on_click=controls.ng_preset, width="stretch")
with top["intro"]:
    chosen = sections.intro(params)

controls.init_controls()
zoom_max = sections.init_zoom(len(chosen.values))
with guarded():
    with top["controls"]:
        controls.controls_panel()
    sections.curves(top["chart"], chosen, zoom_max)

sections.formulas()
with guarded():
    sections.weights()
with guarded():
    sections.lag()
with guarded():
    sections.numbers(chosen)
sections.further()
