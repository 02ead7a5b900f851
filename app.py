"""bnviz entrypoint: page config, the shared sidebar (language), navigation."""

import streamlit as st

from bnviz.ui import urlstate
from bnviz.ui.i18n import language_selector, t

st.set_page_config(page_title="bnviz", page_icon=":material/insights:", layout="wide")
language_selector()
pages = [
    st.Page("pages/home.py", title=t("nav_home"), icon=":material/home:", default=True),
    st.Page("pages/ewma.py", title=t("nav_ewma"), icon=":material/show_chart:", url_path="ewma"),
    st.Page("pages/optimizers.py", title=t("nav_opt"), icon=":material/route:", url_path="optimizers"),
    st.Page("pages/batchnorm.py", title=t("nav_bn"), icon=":material/stacked_bar_chart:", url_path="batchnorm"),
]
st.navigation(pages).run()
if ignored := urlstate.ignored():
    st.toast(t("url_ignored", keys=", ".join(ignored)), icon=":material/link_off:")
urlstate.sync()
