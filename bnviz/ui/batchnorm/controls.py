"""The BatchNorm page's run controls: the sidebar's settings and presets, Start/Pause/Step/Stop,
the learning rates changed mid-run, the status line, and the watch link with its QR code (the
owner's) or the watcher's header. The panels are bnviz.ui.batchnorm.panels."""

from __future__ import annotations

import io

import streamlit as st

from bnviz import training
from bnviz.batchnorm.models import LABELS, MODELS
from bnviz.training.watching import class_budget
from bnviz.ui import live_chart, urlstate
from bnviz.ui.batchnorm.session import (
    CLASS_TICKS,
    FORM,
    LRS,
    PRESETS,
    VIEW,
    apply_preset,
    change_lr,
    control,
    device_label,
    device_setting,
)
from bnviz.ui.classroom.sharing import share_link
from bnviz.ui.i18n import current_language, t, text


def sidebar() -> None:
    """Presets and the run's settings (a form: nothing changes until Apply)."""
    sb = st.sidebar
    sb.selectbox(t("preset"), ["none", *PRESETS], key="bn_preset",
                 format_func=lambda k: t(f"bn_preset_{k}") if k != "none" else t("preset_none"))
    sb.button(t("preset_apply"), on_click=apply_preset, width="stretch", key="bn_preset_apply",
              disabled=st.session_state.get("bn_preset", "none") == "none")
    with sb.form("bn_form", border=False):
        st.subheader(t("bn_settings"))
        c1, c2 = st.columns(2)
        FORM["lr"].show(c1)
        FORM["lr_bn"].show(c2)
        for name in ("batch_size", "epochs", "optimizer", "activation", "bn_position", "bn_impl"):
            FORM[name].show()
        c1, c2 = st.columns(2)
        FORM["bn_momentum"].show(c1)
        FORM["bn_eps"].show(c2)
        FORM["seed"].show()
        device_setting().show()
        FORM["hist_every"].show()
        FORM["probe_step"].show()
        FORM["train_limit"].show()
        st.form_submit_button(t("bn_apply"), width="stretch", icon=":material/tune:")
    sb.caption(t("bn_settings_note"))


def dataset_banner(ds, problem) -> None:
    if not ds.synthetic:
        st.caption(t("bn_data_real", n=len(ds.y_train), m=len(ds.y_test), path=ds.source))
        return
    if problem is not None and problem.key != "data_not_found":
        st.error(t(f"err_{problem.key}", **problem.params))
    from bnviz.data.fashion_mnist import candidates

    st.warning(t("bn_data_synthetic", folders=", ".join(map(str, candidates()))))


def run_controls(snap, pending: bool) -> None:
    """Start/Pause/Resume, Step, Stop, Reset and the job cap; a note left by the last click."""
    state = snap.state if snap else "idle"
    first = {"running": "pause", "paused": "resume"}.get(state, "start")
    cols = st.container(key="bn_buttons").columns(5)  # one key around them: focus stays in place (page.js)
    for col, action, icon, disabled in (
            (cols[0], first, "pause" if first == "pause" else "play_arrow", False),
            (cols[1], "step", "skip_next", False),
            (cols[2], "stop", "stop", state not in training.ACTIVE),
            (cols[3], "reset", "restart_alt", snap is None)):
        col.button(t(f"bn_{action}"), on_click=control, args=(action,), key=f"bn_{action}",
                   icon=f":material/{icon}:", width="stretch", disabled=disabled,
                   type="primary" if action in ("start", "resume") else "secondary",
                   help=t("bn_step_help") if action == "step" else None)
    cols[4].caption(t("bn_cap", active=len(training.MANAGER.active()), cap=training.MANAGER.cap))
    if note := st.session_state.pop("bn_note", None):
        st.warning(t(note[0], **note[1]))
    if pending:
        st.info(t("bn_settings_pending"))


def live_rates(snap) -> None:
    """Each model's learning rate, changeable while the run is on (it takes effect at the next step)."""
    if snap is None or snap.state not in training.ACTIVE:
        return
    cols = st.columns(2)
    for col, model, lr in zip(cols, MODELS, snap.lrs):
        key = f"lr_now_{model}"
        if st.session_state.get(f"_{key}_job") != snap.version and st.session_state.get(key) != lr:
            st.session_state[key] = min(LRS, key=lambda v: abs(v - lr))
        col.select_slider(t("bn_lr_now", model=LABELS[model]), LRS, key=key, on_change=change_lr, args=(model,),
                          format_func=lambda v: f"{v:g}", help=t("bn_lr_now_help"))


def progress(snap, lang: str) -> dict:
    """The progress bar's value and its line: state, epoch, step, speed, ETA and device."""
    eta = "—" if snap.eta_s is None else f"{snap.eta_s:,.0f} s"
    state = "measuring" if snap.measuring else "stopped" if snap.reason_key == "job_stopped" else snap.state
    line = text(lang, "bn_progress", state=text(lang, f"bn_state_{state}"), epoch=snap.epoch,
                epochs=snap.config.epochs, step=snap.step, total=snap.total_steps,
                rate=f"{snap.images_per_s:,.0f}", eta=eta, device=device_label(snap.device, lang))
    return {"value": min(1.0, snap.progress), "text": line}


def status(snap, owner: bool = True, view=None, feed: dict | None = None) -> None:
    """Progress bar (:func:`progress`; fed with ``feed``, drawn by the live text); divergence,
    failure or a Stop below (said to the owner as their own doing, to a watcher as the owner's)."""
    if snap is None:
        st.progress(0.0, text=t("bn_status_none"))
        return
    lang = current_language()
    if feed:
        live_chart.text("bn_status", "progress", lambda w: progress(w.snap, lang), view, leads=True, feed=feed)
    else:
        now = progress(snap, lang)
        st.progress(now["value"], text=now["text"])
    for model, step in sorted(snap.diverged.items(), key=lambda kv: kv[1]):
        st.error(t("bn_diverged_one", model=LABELS[model], step=step, limit=f"{training.DIVERGED_LOSS:g}",
                   other=LABELS[MODELS[1 - MODELS.index(model)]]))
    if snap.reason_key == "job_lost":
        st.error(t("bn_lost" if owner else "watch_lost"))
    elif snap.state == "failed":
        st.error(t("bn_failed", error=snap.reason_params.get("error", "")))
    elif snap.reason_key == "job_stopped":
        st.info(t("bn_stopped" if owner else "watch_stopped", step=snap.step))


def engine_banner() -> None:
    """Why trainings run in this process although the Ray cluster was asked for (if so)."""
    from bnviz.cluster import engine

    fallback = engine.current().fallback
    if fallback is not None:
        st.warning(t(fallback[0], **fallback[1]), icon=":material/cloud_off:")


def queued(run) -> bool:
    """Whether ``run``, not begun, waits for a place in the training cluster (said on the page,
    as is a place lost before the run could begin)."""
    if getattr(run, "lost", False):
        st.warning(t("engine_queue_lost"), icon=":material/cloud_off:")
        return False
    waiting = bool(getattr(run, "queued", False))
    if waiting:
        st.info(t("engine_queued", place=run.place() or "?"), icon=":material/hourglass_top:")
    return waiting


def watch_box(run, url_path: str) -> None:
    """The owner's watch link, its QR code (large, for a projector) and how many watch."""
    import segno

    with st.expander(t("watch_header", n=run.watchers()), icon=":material/groups:"):
        # The class's refresh goes into the link: a large class on a small server can slow it.
        urlstate.seed("bn_watch_tick", CLASS_TICKS[0])
        tick = st.segmented_control(t("watch_tick"), CLASS_TICKS, required=True,
                                    format_func=lambda v: f"{v:g} s", key="bn_watch_tick",
                                    help=t("watch_tick_help", budget=f"{class_budget():g}"))
        query = {"watch": run.code} if tick == VIEW["tick"].default else {"watch": run.code, "bn_tick": f"{tick:g}"}
        if (every := run.class_interval(tick)) != tick:
            st.caption(t("watch_class_slowed", n=run.watchers(), s=f"{every:g}"))
        link = share_link(url_path, query)
        c1, c2 = st.columns([1, 2])
        buf = io.BytesIO()
        segno.make(link, error="m").save(buf, kind="png", scale=10, border=2)
        c1.image(buf.getvalue(), caption=t("watch_scan"), width="stretch")
        c2.caption(t("watch_help"))
        c2.code(link, language=None, wrap_lines=True)
        c2.caption(t("watch_grace", minutes=round(run_grace() / 60)))


def run_grace() -> float:
    from bnviz.cluster import engine

    return engine.registry().grace_s


def watcher_header(run) -> None:
    st.info(t("watch_watching"), icon=":material/visibility:")
    if not run.owner_present and run.ends_at is not None:
        import time

        st.warning(t("watch_owner_left", minutes=max(1, round((run.ends_at - time.monotonic()) / 60))))

