"""Landing page: what each page teaches, with a picture of each (the browser tests' screenshots)."""

import streamlit as st

from bnviz.ui.i18n import t
from bnviz.ui.navigation import PAGES, ensure_entrypoint, thumbnail

ensure_entrypoint()

st.title(t("app_title"))
st.markdown(t("home_intro"))
st.subheader(t("home_pages"))
for path, key, icon in PAGES:
    picture, words = st.columns([2, 3], vertical_alignment="center")
    if (image := thumbnail(path)) is not None:
        picture.image(image, width="stretch")
    words.page_link(f"pages/{path}.py", label=t(f"nav_{key}"), icon=icon)
    words.markdown(t(f"home_{key}"))
st.caption(t("home_more"))
st.info(t("home_howto"))
