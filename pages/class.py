"""The class board: every student trains one model, one board shows them all (the notes' caviar).
Layout only: the rules are bnviz.training.classes, the batched training bnviz.training.class_job,
the board's tables bnviz.training.class_board, the views bnviz.ui.class_board.views."""

import streamlit as st

from bnviz.ui.class_board import views
from bnviz.ui.i18n import t
from bnviz.ui.navigation import ensure_entrypoint
from bnviz.ui.page import guarded

ensure_entrypoint()

st.title(t("class_title"))
code = views.join_code()
with guarded():
    if code:
        st.markdown(t("class_intro_student"))
        views.student(code)
    else:
        st.markdown(t("class_intro"))
        views.teacher()
