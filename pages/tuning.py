"""Hyper-parameter tuning: layout only. The maths is bnviz.tuning (the search) and
bnviz.training.sweep (the learning-rate sweep); the controls and sections are bnviz.ui.tuning.

The seed and the rounds act in the browser: the server scores the whole landscape and every
strategy's points for every seed once per objective (bnviz.ui.tuning.controls.tables)."""

import streamlit as st

from bnviz.ui.classroom.presenter import slots
from bnviz.ui.i18n import t
from bnviz.ui.navigation import ensure_entrypoint
from bnviz.ui.page import guarded
from bnviz.ui.tuning import controls, sections, sweep_panel

ensure_entrypoint()

st.title(t("tune_title"))
top = slots("intro", "controls", "chart")  # on a projector: the chart first
top["intro"].markdown(t("tune_intro"))
surface_key, optimizer, steps = controls.sidebar()
controls.init_controls()
found = sections.scored(surface_key, optimizer, steps)

with guarded():
    with top["controls"]:
        controls.controls_panel()
    sections.search_chart(top["chart"], found)
    with top["intro"]:
        sections.score_formula()
with guarded():
    sections.table(found)
with guarded():
    sections.regimes(surface_key, optimizer, steps)
with guarded():
    sections.fine(found)
with guarded():
    sections.scale(found)
with guarded():
    sweep_panel.section()
sections.further(found)
