"""Landing page: what each page teaches."""

import streamlit as st

from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

st.title(t("app_title"))
st.markdown(t("home_intro"))
st.subheader(t("home_pages"))
st.page_link("pages/ewma.py", label=t("nav_ewma"), icon=":material/show_chart:")
st.markdown(t("home_ewma"))
st.page_link("pages/optimizers.py", label=t("nav_opt"), icon=":material/route:")
st.markdown(t("home_opt"))
st.page_link("pages/batchnorm.py", label=t("nav_bn"), icon=":material/stacked_bar_chart:")
st.markdown(t("home_bn"))
st.caption(t("home_more"))
st.info(t("home_howto"))
