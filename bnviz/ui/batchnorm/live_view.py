"""The BatchNorm page's live part: who is looking (the run's owner or a watcher), how often the
page refreshes, and the panels in their tabs, redrawn by one fragment on every refresh."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import streamlit as st

from bnviz.training.history import Snapshot
from bnviz.ui import live_chart, page_feed, urlstate
from bnviz.ui.batchnorm import controls, ownership, panels, session
from bnviz.ui.batchnorm.session import PANELS, VIEW
from bnviz.ui.classroom.svg_export import forget_charts
from bnviz.ui.i18n import t
from bnviz.ui.page import guarded, leave_warning


@dataclass(frozen=True)
class Viewer:
    """This page's view of a run: the owner's (every control) or a watcher's (none); the run
    shown (None before a Start), its snapshot when the page ran, and the refresh it asked for."""

    watched: object  # the watched run (bnviz.training.watching.WatchedRun), None on the owner's page
    slot: session.Slot
    snap: Snapshot | None
    tick: float = 0.0  # seconds between refreshes asked for (0: on demand)
    every: float = 0.0  # seconds between refreshes given (a large class refreshes less often)
    waiting: bool = False  # the run waits for a place in the training cluster (no snapshot yet)

    @property
    def owner(self) -> bool:
        return self.watched is None

    @property
    def run(self):
        return self.watched or self.slot.run

    @property
    def live(self) -> bool:  # the run trains (or waits for a place): its page may not be left unasked
        return self.snap is not None and self.snap.active or self.waiting

    @property
    def measuring(self) -> bool:  # the run has ended, its test-time demonstration to follow
        return self.snap is not None and self.snap.measuring

    @property
    def polling(self) -> bool:  # the page refreshes
        return self.live or self.measuring

    @property
    def begun(self) -> bool:  # else the page says how to begin, and has no tabs
        return self.snap is not None and self.snap.begun


def viewer() -> Viewer:
    watched, slot = session.watched_run(), session.session_slot()
    if watched is None:
        ownership.take_back(slot)  # a reload, or another tab of the owner's browser
    run = watched or slot.run
    snap = run.job.snapshot() if run is not None else None
    return Viewer(watched, slot, snap, waiting=snap is None and getattr(run, "queued", False))


def header(v: Viewer) -> None:
    """The owner's sidebar, controls and watch link, or a watcher's line on whose run it is."""
    if not v.owner:
        controls.watcher_header(v.watched)
        return
    ownership.keep(v.slot)
    controls.sidebar()
    controls.dataset_banner(*session.dataset())
    controls.engine_banner()
    with guarded():
        controls.run_controls(v.snap, pending=v.snap is not None and v.snap.active
                              and v.snap.config != session.config_from_state())
        controls.live_rates(v.snap)
        if v.run is not None:
            controls.watch_box(v.run, "batchnorm")
    leave_warning(v.live, t("bn_leave_warning"))


def refresh(v: Viewer) -> Viewer:
    """The refresh setting, as the class's budget allows it, said when it is slowed."""
    tick = VIEW["tick"].show()
    every = tick if v.owner else v.watched.class_interval(tick)  # a large class refreshes less often
    if every != tick:
        st.caption(t("watch_slowed", n=v.watched.watchers(), s=f"{every:g}"))
    st.caption(t("bn_tick_cost"))
    # The view is in the link too (language-independent ids; the tab widget itself holds a label).
    for name in ("panel", "layer", "kind"):
        VIEW[name].init()
    if v.polling and not tick:
        st.button(t("bn_refresh"), icon=":material/refresh:", key="bn_refresh")
    return Viewer(v.watched, v.slot, v.snap, tick, every, v.waiting)


def tabs(v: Viewer) -> None:
    """The panels' tabs, drawn once per page run; the open one refreshes (:func:`refreshing`)."""
    live_chart.forget()  # a run of the whole page (a reload, a reconnect, a Reset): charts are sent whole
    if not v.begun:
        _refreshing(v, fed=False)(None)
        return
    labels = [t(f"bn_tab_{p}") for p in PANELS]
    if st.session_state.get("bn_panel") not in labels:  # first view, or the language changed
        st.session_state["bn_panel"] = labels[PANELS.index(st.session_state["bn_view"])]
    # Fed (the server has the feed's route and the run trains): the browser asks for the panel's
    # rows and texts and the fragment does not run again on a timer; otherwise it runs again every refresh.
    fed = page_feed.served() and v.polling and bool(v.every)
    refreshing = _refreshing(v, fed)
    for name, tab in zip(PANELS, st.tabs(labels, key="bn_panel", on_change="rerun")):
        if tab.open:
            st.session_state["bn_view"] = name
            with tab:
                refreshing(name)


class Stamp(NamedTuple):
    """The page's shape: what, when it changes, needs the page drawn anew (not only fed)."""

    active: bool
    begun: bool
    state: str
    reason_key: str
    measuring: bool
    diverged: tuple
    captured: bool
    every: float | None  # a watcher's refresh as the class's budget gives it (None for the owner)
    shape: object  # what of the open tab the feed does not compute (panels.shape)
    owner_present: bool  # an owner's page whose connection dropped takes its run back: the whole page


# Drawn outside the fragment: on the owner's page, the run held (a dropped connection takes it back
# at once). A watcher's fragment runs as for any other change: a class of thirty whose teacher's
# connection drops for a moment would otherwise run thirty whole pages, twice.
WHOLE_PAGE = frozenset({Stamp._fields.index("owner_present")})


def stamp(view: panels.View, every: float | None, panel: str) -> Stamp:
    """The page's :class:`Stamp` for ``view``, ``every`` and the open tab ``panel``."""
    snap = view.snap
    return Stamp(snap.active, snap.begun, snap.state, snap.reason_key, snap.measuring,
                 tuple(sorted(snap.diverged.items())), bool(snap.captures), every, panels.shape(panel, view),
                 view.run.owner_present)


def _refreshing(v: Viewer, fed: bool):
    @st.fragment(run_every=v.every if v.polling and v.every and not fed else None)
    def refreshing(panel: str | None):
        """The part that refreshes: the run's status and the open tab's panel (nine blocks less
        to send each time than the whole page); fed, it runs again only when the page changes."""
        t0 = time.perf_counter()
        forget_charts()  # every chart of this page is drawn here: the SVG download holds the latest tick's
        current = v.run  # the slot's run is read anew: a Reset replaces it
        snap = current.job.snapshot() if current is not None else None
        if v.watched is not None:
            v.watched.seen(st.session_state["_viewer"])
        waiting = snap is None and current is not None and controls.queued(current)
        now = Viewer(v.watched, v.slot, snap, waiting=waiting)
        if (now.polling, now.begun) != (v.polling, v.begun) \
                or not v.owner and v.watched.class_interval(v.tick) != v.every \
                or v.owner and session.session_slot() is not v.slot:
            # Started, first drawn, or ended and its demonstration measured (one run of the whole
            # page, not two: it would take back a drag of the scrubber begun after the end), the
            # class grew, or the owner's page lost its connection and came back (its slot was
            # released with the connection, the run left in its grace period while the fed page
            # went on: the page anew takes the run back): the page anew.
            st.rerun(scope="app")
        feed = page_feed.begin(fed and panel is not None and snap is not None)
        with guarded():
            view = panels.View(current, snap, v.owner) if snap is not None else None
            controls.status(snap, v.owner, view, feed and {**feed, "every": v.every})
            if panel is None:
                st.info(t("bn_press_start" if v.owner else "watch_not_started"))
                return
            panels.panel(panel, view)
            urlstate.sync()  # a layer chosen inside the fragment goes into the link at once
            if feed:
                watched, viewer_id = v.watched, st.session_state.get("_viewer")

                def given():  # a watcher's refresh as the class's budget gives it now
                    return None if watched is None else watched.class_interval(v.tick)

                page_feed.open_feed(stamp(view, None if watched is None else v.every, panel),  # as drawn
                                    lambda: panels.View(current, current.job.snapshot(), v.owner),
                                    lambda w: stamp(w, given(), panel),
                                    seen=None if watched is None else lambda: watched.seen(viewer_id),
                                    costs=current.tick_costs, whole=WHOLE_PAGE if watched is None else frozenset())
        current.tick_costs.append(time.perf_counter() - t0)

    return refreshing
