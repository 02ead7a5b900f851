"""BatchNorm live: layout only. Training is bnviz.training; the session's run, its settings and
the watch links are bnviz.ui.batchnorm.session; the live part is bnviz.ui.batchnorm.live_view, its
controls and status bnviz.ui.batchnorm.controls, the panels bnviz.ui.batchnorm.panels.

The owner's page (no ``watch`` in the link) has every control; a watcher's page
(``?watch=CODE``) shows the same run, live, with its own tab, layer, language and presenter
mode, and no control that could change the run."""

import streamlit as st

from bnviz.batchnorm import scratch
from bnviz.server import pysource
from bnviz.ui.batchnorm import live_view, panels
from bnviz.ui.i18n import t
from bnviz.ui.navigation import ensure_entrypoint
from bnviz.ui.page import guarded

ensure_entrypoint()

st.title(t("bn_title"))
st.caption(t("bn_intro"))
viewer = live_view.viewer()
live_view.header(viewer)
viewer = live_view.refresh(viewer)
live_view.tabs(viewer)
if viewer.run is not None:  # outside the live part: three downloads less to send on every refresh
    with guarded():
        panels.exports(viewer.run.job)

# The listing is drawn once opened: a collapsed expander's content is still drawn, and its two
# highlighted listings made a third of a watcher's page load (~1,500 DOM nodes, a 1.5 MB script).
listing = st.expander(t("bn_code_header"), key="bn_code", on_change="rerun")
with listing:
    st.caption(t("bn_code_text"))
    if listing.open:
        st.code(pysource.listing(scratch.BatchNormScratch), language="python")
        st.code(pysource.listing(scratch.batch_stats, scratch.normalise), language="python")
