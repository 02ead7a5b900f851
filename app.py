"""bnviz entrypoint: page config, the shared sidebar (language), navigation."""

import os

# One process serves the pages and trains. OpenMP threads that wait by spinning take the cores the
# pages need while a training runs (docs/DEPLOY.md); waiting threads sleep instead. Set before
# torch first loads (pages import it lazily); a value in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from bnviz.ui import urlstate
from bnviz.ui.classroom import presenter_toggle, share_box, start_run, svg_download
from bnviz.ui.common import page_helper
from bnviz.ui.i18n import language_selector, t
from bnviz.ui.shell import PAGES

# A link with ?present=True (or true) opens for a projector: sidebar collapsed, large text.
st.set_page_config(page_title="bnviz", page_icon=":material/insights:", layout="wide",
                   initial_sidebar_state="collapsed" if st.query_params.get("present", "").lower() == "true" else "auto")
urlstate.start_run()
language_selector()
presenter_toggle()
pages = [st.Page("pages/home.py", title=t("nav_home"), icon=":material/home:", default=True),
         *(st.Page(f"pages/{path}.py", title=t(f"nav_{key}"), icon=icon, url_path=path) for path, key, icon in PAGES)]
page = st.navigation(pages)
page_helper()
start_run()
page.run()
if ignored := urlstate.ignored():
    st.toast(t("url_ignored", keys=", ".join(ignored)), icon=":material/link_off:")
urlstate.sync()
share_box(page.url_path)
svg_download(page.url_path)
