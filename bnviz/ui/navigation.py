"""The app's pages (their order, titles, icons and pictures on Home), and the guard every page
script calls first.

Because a folder named ``pages/`` sits beside ``app.py``, Streamlit starts each new server process
in its legacy multipage mode: if the very first request is a deep link (``/ewma?b1=0.98``), it runs
``pages/ewma.py`` alone, without ``app.py`` (no page config, no language switch, no navigation).
``st.navigation`` switches the process to the modern mode, but only once ``app.py`` has run.
This guard switches the mode and reruns, so the same request is served through ``app.py``.
"""

from pathlib import Path
from urllib.parse import unquote, urlparse

import streamlit as st

# The pages after Home, in the navigation's order: (url path, string key, icon). The script is
# ``pages/<url path>.py``; its title is the string ``nav_<key>``, its line on Home ``home_<key>``.
PAGES = (("ewma", "ewma", ":material/show_chart:"), ("optimizers", "opt", ":material/route:"),
         ("batchnorm", "bn", ":material/stacked_bar_chart:"), ("tuning", "tune", ":material/tune:"),
         ("class", "class", ":material/groups:"))


SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"  # taken by the browser tests


@st.cache_data(show_spinner=False)
def thumbnail(path: str):
    """The page's screenshot for Home, 640 px wide at most (a tenth of the bytes); None if missing."""
    from PIL import Image

    try:
        with Image.open(SHOTS / f"{path}.png") as image:
            image.thumbnail((640, 640))
            return image.convert("RGB")
    except OSError:
        return None


def ensure_entrypoint() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def unknown_path(url: str, base: str = "") -> str | None:
    """The page path of ``url`` (below the server's ``base`` path) when no page has it: Streamlit
    then shows Home. None for Home itself and for every page of :data:`PAGES`."""
    path = unquote(urlparse(url).path).strip("/")
    base = base.strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):].strip("/")
    return path if path and path not in {p for p, _, _ in PAGES} else None


def say_unknown_path(page) -> None:
    """Once per visit: a link to a page that does not exist says so, on the Home it opened."""
    if page.url_path or st.session_state.get("_unknown_path_said"):
        return
    st.session_state["_unknown_path_said"] = True
    wrong = unknown_path(st.context.url or "", st.get_option("server.baseUrlPath") or "")
    if wrong:
        from bnviz.ui.i18n import t

        st.toast(t("page_unknown", path=wrong[:80]), icon=":material/link_off:")
