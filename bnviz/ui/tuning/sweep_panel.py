"""The tuning page's second half: LeNet vs LeNet-BN over a log grid of learning rates, trained for
real as one background job (bnviz.training.sweep_job); the section refreshes itself while it trains.

torch is imported only once a sweep is started (the search above needs none)."""

from __future__ import annotations

import math

import streamlit as st

from bnviz.training.sweep_rates import LATEX_GRID, LATEX_UPDATE, MAX_RATES, SweepError, label, log_grid
from bnviz.ui import live_chart, urlstate
from bnviz.ui.i18n import t

JOB = "_sweep_job"
SUBSETS = (3_000, 12_000)
EPOCHS = (1, 2)
RANGE = {"sw_lo": 0.01, "sw_hi": 100.0, "sw_k": 9}  # the default: 9 rates from 0.01 to 100


def rates() -> tuple[float, ...]:
    """The learning rates the range controls describe (:class:`bnviz.training.sweep_rates.SweepError` if none)."""
    s = st.session_state
    return log_grid(float(s["sw_lo"]), float(s["sw_hi"]), s["sw_k"])


def _start() -> None:
    from bnviz.cluster import engine
    from bnviz.training.config import pick_device
    from bnviz.training.manager import JobRefused
    from bnviz.training.sweep import SweepConfig
    from bnviz.ui.batchnorm.session import dataset

    s = st.session_state
    try:
        lrs = rates()
    except SweepError as err:  # the button is disabled then; a stale click still lands here
        s["_sweep_note"] = (f"err_{err.key}", err.params)
        return
    config = SweepConfig(lrs=lrs, activation=s["sw_act"], epochs=s["sw_epochs"], train_limit=s["sw_subset"],
                         device=pick_device())
    try:
        s[JOB] = engine.start_sweep(config, lambda: dataset()[0])
    except JobRefused as err:
        s["_sweep_note"] = (f"err_{err.key}", err.params)


def _stop() -> None:
    if job := st.session_state.get(JOB):
        job.stop()


def section() -> None:
    st.subheader(t("sweep_header"))
    st.markdown(t("sweep_intro"))
    st.latex(LATEX_UPDATE)
    urlstate.init("sw_act", "relu", urlstate.choice(("relu", "sigmoid")))
    urlstate.init("sw_epochs", 2, urlstate.choice(EPOCHS))
    urlstate.init("sw_subset", 12_000, urlstate.choice(SUBSETS))
    # Any number from a link reaches the inputs; the core says what is wrong with it (as typed).
    urlstate.init("sw_lo", RANGE["sw_lo"], urlstate.float_range(-1e300, 1e300))
    urlstate.init("sw_hi", RANGE["sw_hi"], urlstate.float_range(-1e300, 1e300))
    urlstate.init("sw_k", RANGE["sw_k"], urlstate.int_range(-10**9, 10**9))
    job = st.session_state.get(JOB)
    running = job is not None and job.alive
    c1, c2, c3 = st.columns(3)
    c1.radio(t("bn_activation"), ("relu", "sigmoid"), key="sw_act", horizontal=True, disabled=running,
             format_func=lambda a: t(f"bn_act_{a}"))
    c2.segmented_control(t("sweep_epochs"), EPOCHS, key="sw_epochs", disabled=running, required=True)
    c3.segmented_control(t("sweep_subset"), SUBSETS, key="sw_subset", disabled=running, required=True,
                         format_func=lambda n: f"{n:,}")
    r1, r2, r3 = st.columns(3)
    r1.number_input(t("sweep_lo"), key="sw_lo", format="%g", step=None, disabled=running)
    r2.number_input(t("sweep_hi"), key="sw_hi", format="%g", step=None, disabled=running)
    r3.number_input(t("sweep_k"), key="sw_k", step=1, disabled=running, help=t("sweep_k_help", max=MAX_RATES))
    try:
        lrs = rates()
    except SweepError as err:
        lrs = None
        st.error(t(f"err_{err.key}", **err.params), icon=":material/error:")
    else:
        st.latex(LATEX_GRID)
        st.caption(t("sweep_rates", rates=", ".join(map(label, lrs)), models=2 * len(lrs)))
    b1, b2 = st.columns(2)
    b1.button(t("sweep_start"), on_click=_start, disabled=running or lrs is None, key="sweep_start", type="primary",
              icon=":material/play_arrow:", width="stretch")
    b2.button(t("sweep_stop"), on_click=_stop, disabled=not running, key="sweep_stop",
              icon=":material/stop:", width="stretch")
    if note := st.session_state.pop("_sweep_note", None):
        st.warning(t(note[0], **note[1]))
    st.session_state[SEEN_RUNNING] = running
    # Refreshes itself once a second while the sweep trains, not otherwise (a slider dragged on
    # the page above must find no server run).
    live_chart.forget()  # a run of the whole page: the sweep's charts are sent whole
    st.fragment(run_every=1.0 if running else None)(progress)()
    if lrs is not None:
        panda(lrs)
    if st.session_state.pop(PANDA_GO, False):
        st.switch_page("pages/batchnorm.py")


PANDA_GO = "_sweep_panda_go"


def _watch_one(lr: float) -> None:
    """Button callback: the BatchNorm page's settings for one rate of this sweep (both models at
    that α, the same activation, epochs and training images, SGD with batch 256, seed 0)."""
    from bnviz.ui.batchnorm.session import FORM

    s = st.session_state
    values = {"lr": lr, "lr_bn": lr, "activation": s["sw_act"], "epochs": s["sw_epochs"],
              "train_limit": s["sw_subset"], "optimizer": "sgd", "batch_size": 256, "seed": 0}
    s.update({FORM[name].key: value for name, value in values.items()})
    s.update(bn_view="loss", bn_panel=t("bn_tab_loss"), bn_preset="none")
    s[PANDA_GO] = True


def panda(lrs) -> None:
    """Panda: one rate of the sweep, trained and watched on the BatchNorm page's live view. The
    slider is a new widget for each grid of rates (its options are part of what it is), and the
    button acts on the rate the slider shows."""
    st.markdown(f"#### {t('sweep_panda_header')}")
    st.caption(t("sweep_panda_explain"))
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    pick = c1.select_slider(t("sweep_panda_pick"), lrs, value=min(lrs, key=lambda v: abs(math.log(v))),
                            key=f"sw_panda_{label(lrs[0])}_{label(lrs[-1])}_{len(lrs)}", format_func=label)
    c2.button(t("sweep_panda_go", lr=pick), on_click=_watch_one, args=(pick,), key="sweep_panda",
              icon=":material/visibility:", width="stretch")


SEEN_RUNNING = "_sweep_seen_running"


def progress() -> None:
    """The sweep's progress and charts, refreshed every second while it trains (a fragment)."""
    job = st.session_state.get(JOB)
    if job is None:
        st.caption(t("sweep_idle"))
        return
    if not job.alive and st.session_state.get(SEEN_RUNNING):
        st.session_state[SEEN_RUNNING] = False
        st.rerun()  # the whole page: Start comes back, the refresh stops
    from bnviz.training import live_tables, sweep_job
    from bnviz.ui.batchnorm import charts

    snap = job.snapshot()
    if snap.state == "waiting":  # on a training cluster with every place taken
        st.info(t("sweep_queued", place=job.place() or "?"), icon=":material/hourglass_top:")
        return
    eta = t("sweep_eta", s=round(snap.eta)) if snap.eta is not None else ""
    st.progress(snap.step / max(1, snap.total),
                text=t("sweep_progress", state=t(f"sweep_state_{snap.state}"), step=snap.step, total=snap.total,
                       s=round(snap.elapsed), eta=eta, device=snap.device))
    if snap.state == "failed":
        why = "sweep_lost" if getattr(job, "lost", False) else "sweep_expired" if getattr(job, "expired", False) \
            else "sweep_failed"
        st.error(t(why))
    model = t("bn_model")
    if len(snap.accuracy["lenet"]):
        live_chart.show(charts.sweep_accuracy_chart, {"acc": live_tables.sweep_accuracy(snap, job.id)},
                        "sweep_chart_acc",
                        x_title=t("sweep_axis_lr"), y_title=t("sweep_axis_acc"), model_title=model,
                        diverged_label=t("tune_diverged"))
        st.caption(t("sweep_acc_explain"))
    if snap.step:
        labels = [label(lr) for lr in snap.lrs]
        if any(p not in labels for p in st.session_state.get("sw_runs") or []):
            st.session_state["sw_runs"] = []  # a new sweep with other rates
        chosen = st.pills(t("sweep_runs"), labels, selection_mode="multi", key="sw_runs")
        live_chart.show(charts.sweep_loss_chart, {"loss": live_tables.sweep_loss(snap, job.id, tuple(chosen or ()))},
                        "sweep_chart_loss", x_title=t("sweep_axis_step"), y_title=t("sweep_axis_loss"),
                        model_title=model, lr_title="α")
    if not job.alive:
        st.download_button(t("sweep_download"), lambda: sweep_job.frames(job.snapshot())[1].to_csv(index=False),
                           file_name="bnviz_lr_sweep.csv", mime="text/csv", icon=":material/download:")
