"""The class board's two views: the teacher's (open a class, its link and QR code, Open/Close,
Start, Stop, Reset, the board) and a student's (``?join=CODE``: a nickname and a model, then its
curve and its place in the class). The maths and the rules are bnviz.training.classes,
class_job and class_board; this module holds widgets and layout only.

A nickname is always shown as text: in tables (cells are never markdown) or escaped."""

from __future__ import annotations

import io
import math
import secrets

import streamlit as st

from bnviz.server import feeds
from bnviz.training import class_board, wide
from bnviz.training.class_job import Setup
from bnviz.training.classes import FIELDS, LR_RANGE, MAX_ENTRIES, NICK_MAX, REGISTRY, ClassRefused
from bnviz.ui import browser_storage, live_chart, urlstate
from bnviz.ui.class_board import charts
from bnviz.ui.classroom.presenter import presenting
from bnviz.ui.classroom.sharing import share_link
from bnviz.ui.i18n import t
from bnviz.ui.page import as_text

TEACHER = "_class_teacher"  # the class this session opened (the teacher's session holds it)
TEACHER_KEY = "bnviz_class_teacher"  # the browser's side of the teacher token (bnviz.ui.browser_storage)
STUDENT = "_class_student"  # this student's session id
NOTE = "_class_note"
EPOCHS, SUBSETS, BATCHES = (1, 2, 3), (3_000, 6_000, 12_000), (64, 128, 256)
SETUP_DEFAULTS = {"cl_epochs": 1, "cl_subset": 6_000, "cl_batch": 64}  # the opening form's choices
# The rates a student picks from: 1, 2 and 5 per decade over LR_RANGE (a log scale).
RATES = tuple(float(f"{m}e{e}") for e in range(-4, 2) for m in (1, 2, 5) if LR_RANGE[0] <= m * 10.0**e <= LR_RANGE[1])
REFRESH_S = 2.0
IDLE_REFRESH_S = 5.0
LINK = "class"
# The teacher's buttons and the bands' titles wrap instead of ending in "…" (a projector's large
# text in five columns cut "Close submissions" to "Close submi…").
BOARD_CSS = """<style>
.st-key-cl_buttons button p, .st-key-cl_buttons button div,
.st-key-cl_bands [data-testid="stMetricLabel"] div, .st-key-cl_bands [data-testid="stMetricLabel"] p
  { white-space: normal; overflow: visible; text-overflow: clip; }
</style>"""


def _note(key: str, **params) -> None:
    st.session_state[NOTE] = (key, params)


def _show_note() -> None:
    if note := st.session_state.pop(NOTE, None):
        st.warning(t(note[0], **note[1]), icon=":material/info:")


def _refused(err: Exception) -> None:
    key = getattr(err, "key", "unexpected")
    _note(f"err_{key}", **getattr(err, "params", {}))


# ---- the teacher ----------------------------------------------------------------------------

def _seed_setup() -> None:
    """The opening form's choices, seeded (and put back where one came back empty: the one shown)."""
    for key, default in SETUP_DEFAULTS.items():
        urlstate.seed(key, default)


def _open_class() -> None:
    from bnviz.training.config import pick_device

    s = st.session_state
    _seed_setup()
    setup = Setup(epochs=s["cl_epochs"], train_limit=s["cl_subset"], batch_size=s["cl_batch"], device=pick_device())
    allowed = frozenset(s.get("cl_allowed") or ()) | {"lr"}
    made = REGISTRY.create(setup, allowed=allowed, max_entries=int(s["cl_max"]))
    s[TEACHER] = made.code


def _teacher_action(action: str) -> None:
    from bnviz.cluster import engine
    from bnviz.training.manager import JobRefused
    from bnviz.ui.batchnorm.session import dataset

    made = REGISTRY.find(st.session_state.get(TEACHER))
    if made is None:
        return
    try:
        if action == "open":
            made.set_open(True)
        elif action == "close":
            made.set_open(False)
        elif action == "start":
            made.start(dataset()[0], launch=engine.start_class)
        elif action == "stop":
            made.stop()
        elif action == "reset":
            made.reset()
        elif action == "end":
            REGISTRY.close(made.code)
            st.session_state.pop(TEACHER, None)
    except (ClassRefused, JobRefused) as err:
        _refused(err)


def teacher() -> None:
    made = REGISTRY.find(st.session_state.get(TEACHER))
    if made is None:  # a reload, or a second tab: the class this browser's teacher token holds
        made = REGISTRY.find_taught(browser_storage.held(TEACHER_KEY))
        if made is not None:
            st.session_state[TEACHER] = made.code
    browser_storage.keep("bnviz-class-teacher", made.teacher if made is not None else "", TEACHER_KEY)
    if made is None:
        opening_form()
        return
    header(made)
    _show_note()
    live_chart.forget()  # a run of the whole page: the board's charts are sent whole
    live = made.open if made.job is None else made.job.alive  # submissions arriving, or training
    st.session_state["_cl_live"] = live
    st.fragment(run_every=REFRESH_S if live else None)(board)(made.code)


def opening_form() -> None:
    st.subheader(t("class_open_header"))
    st.caption(t("class_open_help"))
    c1, c2, c3 = st.columns(3)
    _seed_setup()
    c1.segmented_control(t("class_epochs"), EPOCHS, key="cl_epochs", required=True)
    c2.segmented_control(t("class_subset"), SUBSETS, key="cl_subset", required=True, format_func=lambda n: f"{n:,}")
    c3.segmented_control(t("class_batch"), BATCHES, key="cl_batch", required=True)
    st.pills(t("class_allowed"), [f for f in FIELDS if f != "lr"], selection_mode="multi", default=["batch_norm"],
             key="cl_allowed", format_func=lambda f: t(f"class_field_{f}"), help=t("class_allowed_help"))
    st.number_input(t("class_max"), 1, 200, MAX_ENTRIES, key="cl_max")
    st.button(t("class_open"), on_click=_open_class, type="primary", icon=":material/group_add:", key="cl_open")


def header(made) -> None:
    import segno

    link = share_link(LINK, {"join": made.code})
    c1, c2 = st.columns([1, 3])
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=10, border=2)
    c1.image(buf.getvalue(), caption=t("class_scan"), width="stretch")
    c2.markdown(t("class_code", code=made.code))
    c2.code(link, language=None, wrap_lines=True)
    c2.caption(t("class_rules", n=made.max_entries, fields=", ".join(t(f"class_field_{f}") for f in FIELDS
                                                                       if f in made.allowed)))
    started = made.job is not None
    st.html(BOARD_CSS)  # our own constant CSS, never user text
    cols = st.container(key="cl_buttons").columns(5)
    cols[0].button(t("class_close_submissions" if made.open else "class_open_submissions"), key="cl_toggle",
                   on_click=_teacher_action, args=("close" if made.open else "open",), disabled=started,
                   icon=":material/lock:" if made.open else ":material/lock_open:", width="stretch")
    cols[1].button(t("class_start"), key="cl_start", on_click=_teacher_action, args=("start",), type="primary",
                   disabled=started, icon=":material/play_arrow:", width="stretch")
    cols[2].button(t("class_stop"), key="cl_stop", on_click=_teacher_action, args=("stop",),
                   disabled=not (started and made.job.alive), icon=":material/stop:", width="stretch")
    cols[3].button(t("class_reset"), key="cl_reset", on_click=_teacher_action, args=("reset",),
                   icon=":material/restart_alt:", width="stretch")
    cols[4].button(t("class_end"), key="cl_end", on_click=_teacher_action, args=("end",),
                   icon=":material/close:", width="stretch")


def _status(made, snap) -> None:
    n = len(made.roster())
    if snap is None:
        st.info(t("class_waiting" if made.open else "class_closed_now", n=n, max=made.max_entries),
                icon=":material/groups:")
        return
    if snap.state == "waiting":  # on a training cluster with every place taken
        st.info(t("class_queued", n=n, place=made.job.place() or "?"), icon=":material/hourglass_top:")
        return
    eta = t("sweep_eta", s=round(snap.eta)) if snap.eta is not None else ""
    st.progress(snap.step / max(1, snap.total),
                text=t("class_progress", state=t(f"sweep_state_{snap.state}"), step=snap.step, total=snap.total,
                       n=n, s=round(snap.elapsed), eta=eta, device=snap.device))
    if snap.state == "failed":
        if getattr(made.job, "lost", False):  # on a training cluster: its machine died
            st.error(t("class_lost"))
        elif getattr(made.job, "expired", False):  # on a training cluster: its results were not kept
            st.error(t("class_expired"))
        else:
            st.error(t("sweep_failed"))


def board(code: str) -> None:
    """The class's board: refreshed every few seconds (a fragment)."""
    made = REGISTRY.find(code)
    if made is None or (made.open if made.job is None else made.job.alive) != st.session_state.get("_cl_live"):
        st.rerun(scope="app")  # started, ended or closed: the buttons and the refresh change
    entries = made.roster()
    snap = made.job.snapshot() if made.job is not None else None
    _status(made, snap)
    if not entries:
        return
    table = class_board.points(entries, snap)
    run = made.job.id if made.job is not None else f"{made.code}/before"
    shown = _shown(entries, snap)
    nick, model = t("class_nickname"), t("bn_model")
    live_chart.show(charts.accuracy_chart, {"points": feeds.whole(f"{run}/points/{shown}", table)}, "cl_chart_acc",
                    x_title=t("sweep_axis_lr"), y_title=t("sweep_axis_acc"), model_title=model, nick_title=nick,
                    diverged_label=t("tune_diverged"), pending_label=t("class_pending"))
    st.caption(t("class_acc_explain"))
    bands(table)
    # On a projector the leaderboard goes below the charts, at full width: its columns in large
    # text do not fit two fifths of the screen.
    c1, c2 = (st.container(), st.container()) if presenting() else st.columns([3, 2])
    with c1:
        if snap is not None and len(snap.losses):
            live_chart.show(charts.loss_chart, {"loss": class_board.losses(entries, snap, run)}, "cl_chart_loss",
                            x_title=t("sweep_axis_step"), y_title=t("sweep_axis_loss"), model_title=model,
                            nick_title=nick)
        search(table, f"{run}/search/{shown}")
    with c2:
        st.markdown(f"**{t('class_leaderboard')}**")
        board_table = class_board.leaderboard(table)
        st.dataframe(board_table, hide_index=True, width="stretch", column_config={
            "rank": st.column_config.NumberColumn("#", width="small"),
            "nickname": st.column_config.TextColumn(nick), "lr": st.column_config.NumberColumn("α", format="%g"),
            "accuracy": st.column_config.NumberColumn(t("sweep_axis_acc"), format="%.3f"),
            "model": st.column_config.TextColumn(model),
            "optimizer": st.column_config.TextColumn(t("class_field_optimizer")),
            "diverged": st.column_config.CheckboxColumn(t("tune_diverged"))})
    st.download_button(t("class_download"), table.to_csv(index=False), file_name="bnviz_class.csv",
                       mime="text/csv", icon=":material/download:", key="cl_csv")


def bands(table) -> None:
    found = class_board.bands(table)
    cols = st.container(key="cl_bands").columns(3)
    for col, label in zip(cols, ("LeNet", "LeNet-BN")):
        band = found[label]
        value = "—" if band["decades"] is None else f"{band['decades']:.2f}"
        span = "" if band["lo"] is None else t("class_band_span", lo=f"{band['lo']:g}", hi=f"{band['hi']:g}",
                                               n=band["n"], tried=band["tried"])
        col.metric(t("class_band", model=label), value,
                   help=t("class_band_help", within=round(100 * class_board.WORKED_WITHIN)))
        col.caption(span)
    cols[2].metric(t("class_ratio"), "—" if found["ratio"] is None else f"{found['ratio']:.2f}×")
    st.latex(class_board.LATEX_BAND)


def _shown(entries, snap) -> int:
    """A number that changes whenever the board's small tables do (entries, measurements, divergences)."""
    return hash((tuple((e.session, e.nickname, e.member) for e in entries),
                 None if snap is None else (len(snap.accuracy_steps), snap.diverged_at)))


def search(table, source: str) -> None:
    frame, gaps = class_board.search(table, *LR_RANGE)
    labels = {"class": t("class_search_class"), "uniform": t("class_search_uniform")}
    live_chart.show(charts.search_chart, {"search": feeds.whole(source, frame)}, "cl_chart_search",
                    x_title=t("sweep_axis_lr"), who_title=t("class_search_who"), labels=labels, lo=LR_RANGE[0],
                    hi=LR_RANGE[1])
    st.latex(class_board.LATEX_UNIFORM)
    st.caption(t("class_search_gaps", mine=f"{gaps['class']:.2f}", uniform=f"{gaps['uniform']:.2f}"))


# ---- a student ------------------------------------------------------------------------------

def _submit(code: str) -> None:
    s = st.session_state
    made = REGISTRY.find(code)
    if made is None:
        _note("err_class_gone")
        return
    settings = {"lr": s.get("cl_lr"), "batch_norm": s.get("cl_bn"), "optimizer": s.get("cl_opt"),
                "momentum": s.get("cl_mom"), "seed": s.get("cl_seed")}
    try:
        made.submit(s.setdefault(STUDENT, secrets.token_hex(8)), s.get("cl_nick"),
                    {k: v for k, v in settings.items() if v is not None})
    except ClassRefused as err:
        _refused(err)


def _withdraw(code: str) -> None:
    made = REGISTRY.find(code)
    if made is not None:
        try:
            made.withdraw(st.session_state.get(STUDENT, ""))
        except ClassRefused as err:
            _refused(err)


def student(code: str) -> None:
    made = REGISTRY.find(code)
    if made is None:
        st.error(t("class_unknown"))
        st.page_link("pages/class.py", label=t("class_own"), icon=":material/group_add:")
        return
    mine = made.entry(st.session_state.get(STUDENT, ""))
    live_chart.forget()  # a run of the whole page: the student's chart is sent whole
    if made.job is None:
        form(made, mine)
        st.fragment(run_every=REFRESH_S)(waiting)(code)
    else:
        live = made.job.alive
        st.session_state["_cl_live"] = live
        # Once trained, slower: the page still hears of a Reset (a new round) or the class closing.
        st.fragment(run_every=REFRESH_S if live else IDLE_REFRESH_S)(own_view)(code)


def waiting(code: str) -> None:
    """Before the start: how many have joined; the page turns to the training once it starts."""
    made = REGISTRY.find(code)
    if made is None or made.job is not None:
        st.rerun(scope="app")
    st.caption(t("class_joined", n=len(made.roster()), max=made.max_entries))


def form(made, mine) -> None:
    if not made.open:
        st.info(t("class_closed_student"), icon=":material/lock:")
    default = mine.member if mine is not None else made.default
    s = st.session_state
    if mine is not None and "cl_nick" not in s:
        s["cl_nick"] = mine.nickname
    st.text_input(t("class_nickname"), max_chars=NICK_MAX, key="cl_nick", help=t("class_nick_help", n=NICK_MAX))
    if "lr" in made.allowed:
        s.setdefault("cl_lr", min(RATES, key=lambda r: abs(math.log(r / default.lr))))
        st.select_slider(t("class_lr"), RATES, key="cl_lr", format_func=lambda r: f"{r:g}", help=t("class_lr_help"))
    if "batch_norm" in made.allowed:
        st.toggle(t("class_field_batch_norm"), value=default.batch_norm, key="cl_bn")
    if "optimizer" in made.allowed:
        st.radio(t("class_field_optimizer"), wide.OPTIMIZERS, index=wide.OPTIMIZERS.index(default.optimizer),
                 key="cl_opt", horizontal=True, format_func=lambda o: t(f"class_opt_{o}"))
        st.latex(wide.LATEX[s.get("cl_opt") or default.optimizer])
    if "momentum" in made.allowed:
        st.select_slider(t("class_field_momentum"), (0.0, 0.5, 0.8, 0.9, 0.95, 0.99), value=default.momentum
                         if default.momentum in (0.0, 0.5, 0.8, 0.9, 0.95, 0.99) else 0.9, key="cl_mom")
    if "seed" in made.allowed:
        st.number_input(t("class_field_seed"), 0, 10**6, default.seed, key="cl_seed")
    fixed = [f for f in FIELDS if f not in made.allowed]
    if fixed:
        st.caption(t("class_fixed", fields=", ".join(t(f"class_field_{f}") for f in fixed)))
    c1, c2 = st.columns(2)
    c1.button(t("class_submit_again" if mine else "class_submit"), on_click=_submit, args=(made.code,),
              type="primary", disabled=not made.open, icon=":material/send:", width="stretch", key="cl_submit")
    if mine is not None:
        c2.button(t("class_withdraw"), on_click=_withdraw, args=(made.code,), icon=":material/undo:",
                  width="stretch", key="cl_withdraw")
    _show_note()
    if mine is not None:
        st.success(t("class_you_are_in", nick=as_text(mine.nickname), n=len(made.roster())),
                   icon=":material/check_circle:")


def own_view(code: str) -> None:
    """After the class has started: this student's own curve and their place (a fragment)."""
    made = REGISTRY.find(code)
    if made is None or made.job is None or made.job.alive != st.session_state.get("_cl_live"):
        st.rerun(scope="app")  # closed, reset or ended
    entries = made.roster()
    me = st.session_state.get(STUDENT, "")
    snap = made.job.snapshot()
    _status(made, snap)
    k = next((i for i, e in enumerate(entries) if e.session == me), None)
    if k is None:
        st.info(t("class_not_in"), icon=":material/visibility:")
        return
    entry = entries[k]
    st.markdown(t("class_yours", nick=as_text(entry.nickname), lr=f"{entry.member.lr:g}",
                  model=class_board.model_label(entry.member.batch_norm)))
    table = class_board.points(entries, snap)
    loss = class_board.losses(entries, snap, made.job.id, only=k)
    if len(loss.frame):
        live_chart.show(charts.own_chart, {"loss": loss}, "cl_chart_own", x_title=t("sweep_axis_step"),
                        y_title=t("sweep_axis_loss"))
    c1, c2 = st.columns(2)
    acc = table.loc[k, "accuracy"]
    c1.metric(t("sweep_axis_acc"), "—" if acc is None or acc != acc else f"{acc:.3f}")
    if table.loc[k, "diverged"]:
        st.error(t("class_you_diverged", step=int(table.loc[k, "diverged_at"])))
    place = class_board.standing(table, entry.nickname)
    if place:
        c2.metric(t("class_place"), t("class_place_of", rank=place[0], n=place[1]))


def join_code() -> str:
    urlstate.init("join", "", urlstate.text(64))
    return str(st.session_state.get("join") or "")
