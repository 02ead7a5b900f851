"""Landing page: what each page teaches, with a picture of each (the browser tests' screenshots)."""

from pathlib import Path

import streamlit as st

from bnviz.ui.i18n import t
from bnviz.ui.shell import PAGES, ensure_entrypoint

ensure_entrypoint()
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@st.cache_data(show_spinner=False)
def thumbnail(name: str):
    """The page's screenshot, 640 px wide at most (a tenth of the bytes); None if it is missing."""
    from PIL import Image

    try:
        with Image.open(SHOTS / f"{name}.png") as image:
            image.thumbnail((640, 640))
            return image.convert("RGB")
    except OSError:
        return None


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
