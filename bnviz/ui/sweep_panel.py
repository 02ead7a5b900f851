"""The tuning page's second half: LeNet vs LeNet-BN over a log grid of learning rates, trained for
real as one background job (bnviz.sweep_job); the section refreshes itself while it trains.

torch is imported only once a sweep is started (the search above needs none)."""

from __future__ import annotations

import streamlit as st

from bnviz.ui import urlstate
from bnviz.ui.charts import vega_spec
from bnviz.ui.classroom import present
from bnviz.ui.i18n import t

JOB = "_sweep_job"
SUBSETS = (3_000, 12_000)
EPOCHS = (1, 2)


def _start() -> None:
    from bnviz.job_manager import JobRefused
    from bnviz.run_config import pick_device
    from bnviz.sweep import SweepConfig
    from bnviz.sweep_job import SweepJob
    from bnviz.ui.bn_session import dataset

    s = st.session_state
    config = SweepConfig(activation=s["sw_act"], epochs=s["sw_epochs"], train_limit=s["sw_subset"],
                         device=pick_device())
    try:
        s[JOB] = SweepJob(config, dataset()[0]).start()
    except JobRefused as err:
        s["_sweep_note"] = (f"err_{err.key}", err.params)


def _stop() -> None:
    if job := st.session_state.get(JOB):
        job.stop()


def section() -> None:
    st.subheader(t("sweep_header"))
    st.markdown(t("sweep_intro"))
    urlstate.init("sw_act", "relu", urlstate.choice(("relu", "sigmoid")))
    urlstate.init("sw_epochs", 2, urlstate.choice(EPOCHS))
    urlstate.init("sw_subset", 12_000, urlstate.choice(SUBSETS))
    job = st.session_state.get(JOB)
    running = job is not None and job.alive
    c1, c2, c3 = st.columns(3)
    c1.radio(t("bn_activation"), ("relu", "sigmoid"), key="sw_act", horizontal=True, disabled=running,
             format_func=lambda a: t(f"bn_act_{a}"))
    c2.segmented_control(t("sweep_epochs"), EPOCHS, key="sw_epochs", disabled=running, required=True)
    c3.segmented_control(t("sweep_subset"), SUBSETS, key="sw_subset", disabled=running, required=True,
                         format_func=lambda n: f"{n:,}")
    b1, b2 = st.columns(2)
    b1.button(t("sweep_start"), on_click=_start, disabled=running, key="sweep_start", type="primary",
              icon=":material/play_arrow:", width="stretch")
    b2.button(t("sweep_stop"), on_click=_stop, disabled=not running, key="sweep_stop",
              icon=":material/stop:", width="stretch")
    if note := st.session_state.pop("_sweep_note", None):
        st.warning(t(note[0], **note[1]))
    st.session_state[SEEN_RUNNING] = running
    # Refreshes itself once a second while the sweep trains, not otherwise (a slider dragged on
    # the page above must find no server run).
    st.fragment(run_every=1.0 if running else None)(live)()


SEEN_RUNNING = "_sweep_seen_running"


def live() -> None:
    job = st.session_state.get(JOB)
    if job is None:
        st.caption(t("sweep_idle"))
        return
    if not job.alive and st.session_state.get(SEEN_RUNNING):
        st.session_state[SEEN_RUNNING] = False
        st.rerun()  # the whole page: Start comes back, the refresh stops
    from bnviz import sweep_job
    from bnviz.ui import bn_charts

    snap = job.snapshot()
    eta = t("sweep_eta", s=round(snap.eta)) if snap.eta is not None else ""
    st.progress(snap.step / max(1, snap.total),
                text=t("sweep_progress", state=t(f"sweep_state_{snap.state}"), step=snap.step, total=snap.total,
                       s=round(snap.elapsed), eta=eta, device=snap.device))
    if snap.state == "failed":
        st.error(t("sweep_failed"))
    acc, loss = sweep_job.frames(snap)
    model = t("bn_model")
    if len(snap.accuracy["lenet"]):
        st.vega_lite_chart(present(vega_spec(
            bn_charts.sweep_accuracy_chart, {"acc": acc}, x_title=t("sweep_axis_lr"), y_title=t("sweep_axis_acc"),
            model_title=model, diverged_label=t("tune_diverged"))), width="stretch", key="sweep_chart_acc")
        st.caption(t("sweep_acc_explain"))
    if len(loss):
        st.vega_lite_chart(present(vega_spec(
            bn_charts.sweep_loss_chart, {"loss": loss}, x_title=t("sweep_axis_step"), y_title=t("sweep_axis_loss"),
            model_title=model, lr_title="α")), width="stretch", key="sweep_chart_loss")
    if not job.alive:
        st.download_button(t("sweep_download"), loss.to_csv(index=False), file_name="bnviz_lr_sweep.csv",
                           mime="text/csv", icon=":material/download:")
