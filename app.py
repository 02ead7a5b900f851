"""bnviz entrypoint: page config, the shared sidebar (language), navigation."""

import os
from pathlib import Path

# One process serves the pages and trains. OpenMP threads that wait by spinning take the cores the
# pages need while a training runs (docs/DEPLOY.md); waiting threads sleep instead. Set before
# torch first loads (pages import it lazily); a value in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st

from bnviz.ui import page_feed, urlstate
from bnviz.ui.classroom.presenter import presenter_toggle
from bnviz.ui.classroom.sharing import share_box
from bnviz.ui.classroom.svg_export import forget_charts, svg_download
from bnviz.ui.i18n import language_selector, t
from bnviz.ui.navigation import PAGES, say_unknown_path
from bnviz.ui.page import page_helper

ICON = Path(__file__).resolve().parent / "static" / "favicon.png"
# A link with ?present=True (or true) opens for a projector: sidebar collapsed, large text.
presenting = st.query_params.get("present", "").lower() == "true"
# The tab's icon is a file of the app: a Material icon there is fetched from Google's font CDN
# on every page load (Streamlit draws the favicon from it), which a class offline or in China lacks.
st.set_page_config(page_title="bnviz", page_icon=str(ICON), layout="wide",
                   initial_sidebar_state="collapsed" if presenting else "auto")
urlstate.begin_page_run()
language_selector()
presenter_toggle()
pages = [st.Page("pages/home.py", title=t("nav_home"), icon=":material/home:", default=True),
         *(st.Page(f"pages/{path}.py", title=t(f"nav_{key}"), icon=icon, url_path=path) for path, key, icon in PAGES)]
page = st.navigation(pages)
say_unknown_path(page)
page_helper()
forget_charts()
page_feed.forget()
page.run()
if ignored := urlstate.ignored():
    st.toast(t("url_ignored", keys=", ".join(ignored)), icon=":material/link_off:", duration="long")  # 10 s
urlstate.sync()
share_box(page.url_path)
svg_download(page.url_path)
