"""BatchNorm live: layout only. Training is bnviz.jobs; the session's run, its settings and the
watch links are bnviz.ui.bn_session; the controls and status are drawn by bnviz.ui.bn_controls,
the panels by bnviz.ui.bn_panels.

The owner's page (no ``watch`` in the link) has every control; a watcher's page
(``?watch=CODE``) shows the same run, live, with its own tab, layer, language and presenter
mode, and no control that could change the run."""

import time

import streamlit as st

from bnviz import bn, pysource
from bnviz.ui import bn_controls, bn_panels, bn_session, urlstate
from bnviz.ui.bn_session import PANELS, VIEW
from bnviz.ui.classroom import start_run
from bnviz.ui.common import guarded, leave_warning
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

st.title(t("bn_title"))
st.caption(t("bn_intro"))
watched = bn_session.watching()
owner = watched is None
slot = bn_session.session_slot()
run = watched or slot.run
snap0 = run.job.snapshot() if run is not None else None
if owner:
    bn_controls.sidebar()
    bn_controls.dataset_banner(*bn_session.dataset())
    with guarded():
        bn_controls.controls(snap0, pending=snap0 is not None and snap0.active
                           and snap0.config != bn_session.config_from_state())
        bn_controls.live_rates(snap0)
        if run is not None:
            bn_controls.watch_box(run, "batchnorm")
    leave_warning(snap0 is not None and snap0.active, t("bn_leave_warning"))
else:
    bn_controls.watcher_header(watched)
tick = VIEW["tick"].show()
every = tick if owner else watched.class_interval(tick)  # a large class refreshes less often
if every != tick:
    st.caption(t("watch_slowed", n=watched.watchers(), s=f"{every:g}"))
st.caption(t("bn_tick_cost"))
# The view is in the link too (language-independent ids; the tab widget itself holds a label).
for name in ("panel", "layer", "kind"):
    VIEW[name].init()
polling = snap0 is not None and snap0.active
begun = snap0 is not None and snap0.begun  # else the page says how to begin, and has no tabs
if polling and not tick:
    st.button(t("bn_refresh"), icon=":material/refresh:", key="bn_refresh")


@st.fragment(run_every=every if polling and every else None)
def live(panel: str | None):
    """The live part: the run's status and the open tab's panel (the tabs themselves are drawn
    once per page run, not on every refresh: nine blocks less to send each time)."""
    t0 = time.perf_counter()
    start_run()  # every chart of this page is drawn here: the SVG download holds the latest tick's
    current = watched or slot.run
    snap = current.job.snapshot() if current is not None else None
    if watched is not None:
        watched.seen(st.session_state["_viewer"])
    if (snap is not None and snap.active) != polling or (snap is not None and snap.begun) != begun \
            or not owner and watched.class_interval(tick) != every:
        st.rerun(scope="app")  # started, first drawn or ended, or the class grew: the page anew
    with guarded():
        bn_controls.status(snap)
        if panel is None:
            st.info(t("bn_press_start" if owner else "watch_not_started"))
            return
        bn_panels.panel(panel, bn_panels.View(current, snap, owner))
        urlstate.sync()  # a layer chosen inside the fragment goes into the link at once
    current.tick_costs.append(time.perf_counter() - t0)


if begun:
    labels = [t(f"bn_tab_{p}") for p in PANELS]
    if st.session_state.get("bn_panel") not in labels:  # first view, or the language changed
        st.session_state["bn_panel"] = labels[PANELS.index(st.session_state["bn_view"])]
    for name, tab in zip(PANELS, st.tabs(labels, key="bn_panel", on_change="rerun")):
        if tab.open:
            st.session_state["bn_view"] = name
            with tab:
                live(name)
else:
    live(None)
if run is not None:  # outside the live part: three downloads less to send on every refresh
    with guarded():
        bn_panels.exports(run.job)

with st.expander(t("bn_code_header")):
    st.caption(t("bn_code_text"))
    st.code(pysource.listing(bn.BatchNormScratch), language="python")
    st.code(pysource.listing(bn.batch_stats, bn.normalise), language="python")
