"""The BatchNorm page's sections: status, controls, the six panels and the exports.

Each function draws one part from a :class:`bnviz.history.Snapshot`; frames come from
:mod:`bnviz.bn_frames`, charts from :mod:`bnviz.ui.bn_charts`, words from the strings table.
"""

from __future__ import annotations

import streamlit as st

from bnviz import bn, bn_frames, histograms, training
from bnviz.models import LABELS
from bnviz.ui import bn_charts
from bnviz.ui.bn_session import (FORM, PRESETS, VIEW, apply_preset, control, device_label,
                                 device_setting, measure_test_time)
from bnviz.ui.classroom import present
from bnviz.ui.i18n import listing, t


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
        FORM["train_limit"].show()
        st.form_submit_button(t("bn_apply"), width="stretch", icon=":material/tune:")
    sb.caption(t("bn_settings_note"))


def dataset_banner(ds, problem) -> None:
    if not ds.synthetic:
        st.caption(t("bn_data_real", n=len(ds.y_train), m=len(ds.y_test), path=ds.source))
        return
    if problem is not None and problem.key != "data_not_found":
        st.error(t(f"err_{problem.key}", **problem.params))
    from bnviz.data import candidates

    st.warning(t("bn_data_synthetic", folders=", ".join(map(str, candidates()))))


def controls(snap, pending: bool) -> None:
    """Start/Pause/Resume, Step, Stop, Reset and the job cap; a note left by the last click."""
    state = snap.state if snap else "idle"
    first = {"running": "pause", "paused": "resume"}.get(state, "start")
    cols = st.columns(5)
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


def status(snap) -> None:
    """Progress bar with state, epoch, step, speed, ETA and device; divergence or failure below."""
    if snap is None:
        st.progress(0.0, text=t("bn_status_none"))
        return
    eta = "—" if snap.eta_s is None else f"{snap.eta_s:,.0f} s"
    text = t("bn_progress", state=t(f"bn_state_{snap.state}"), epoch=snap.epoch,
             epochs=snap.config.epochs, step=snap.step, total=snap.total_steps,
             rate=f"{snap.images_per_s:,.0f}", eta=eta, device=device_label(snap.device))
    st.progress(min(1.0, snap.progress), text=text)
    if snap.state == "diverged":
        st.error(t("bn_diverged", model=LABELS[snap.diverged_model], step=snap.diverged_at,
                   limit=f"{training.DIVERGED_LOSS:g}"))
    elif snap.state == "failed":
        st.error(t("bn_failed", error=snap.reason_params.get("error", "")))
    elif snap.state == "finished" and snap.reason_key == "job_stopped":
        st.info(t("bn_stopped", step=snap.step))


def layer_picker() -> str:
    # The picker lives in several tabs; a copy outside widget state keeps the choice between them.
    if st.session_state.get("bn_layer") not in VIEW["layer"].options:
        st.session_state["bn_layer"] = st.session_state.get("_bn_layer", VIEW["layer"].default)
    layer = st.segmented_control(t("bn_layer"), VIEW["layer"].options, key="bn_layer", required=True)
    st.session_state["_bn_layer"] = layer
    return layer


def panel_loss(snap) -> None:
    st.caption(t("bn_explain_loss"))
    c1, c2 = st.columns(2)
    c1.altair_chart(present(bn_charts.loss_chart(
        bn_frames.loss_frame(snap), x_title=t("axis_step"), y_title=t("bn_axis_loss"),
        model_title=t("bn_model"), total_steps=snap.total_steps)), width="stretch", key="bn_chart_loss")
    c2.altair_chart(present(bn_charts.accuracy_chart(
        bn_frames.epoch_frame(snap), x_title=t("bn_axis_epoch"), y_title=t("bn_axis_acc"),
        model_title=t("bn_model"), metric_title=t("bn_metric"),
        metric_labels={"train_acc": t("bn_train_acc"), "test_acc": t("bn_test_acc")},
        epochs_total=snap.config.epochs)), width="stretch", key="bn_chart_acc")
    st.latex(training.LATEX["loss"])


def panel_hist(snap, layer: str) -> None:
    st.caption(t("bn_explain_hist"))
    c = snap.captures[-1]
    rng = histograms.ranges(snap.config.activation)
    frame = bn_frames.hist_frame(snap, layer)
    for kind in training.KINDS:
        st.markdown(f"**{t(f'bn_kind_{kind}', layer=layer)}** · {t('bn_at_step', step=c.step)}")
        spec = bn_charts.spec_of(bn_charts.hist_chart, frame.iloc[:0], x_title=t(f"bn_axis_{kind}"),
                                 y_title=t("bn_axis_share"), model_title=t("bn_model"), domain=rng[kind])
        rows = frame[frame.kind == kind]
        st.vega_lite_chart(rows, present(spec, rows), key=f"bn_chart_hist_{kind}")
    out = bn_frames.outside_frame(snap, layer)
    for row in out[(out[list(histograms.OUTSIDE)] > 0).any(axis=1)].itertuples():
        st.caption(t("bn_outside", model=row.model, kind=t(f"bn_kind_{row.kind}", layer=layer),
                     under=row.under, over=row.over, nan=row.nan, inf=row.inf))
    st.latex(training.LATEX[snap.config.activation])


def panel_time(snap, layer: str) -> None:
    st.caption(t("bn_explain_time"))
    kind = VIEW["kind"].show(format_func=lambda k: t(f"bn_kind_{k}", layer=layer))
    rng = histograms.ranges(snap.config.activation)[kind]
    st.altair_chart(present(bn_charts.percentile_chart(
        bn_frames.percentile_frame(snap, layer, kind), x_title=t("axis_step"), y_title=t(f"bn_axis_{kind}"),
        model_title=t("bn_model"), total_steps=snap.total_steps, domain=rng)),
        width="stretch", key="bn_chart_pct")
    drift = bn_frames.drift(snap, layer, kind)
    for col, label in zip(st.columns(2), LABELS.values()):
        col.metric(t("bn_drift", model=label), f"{drift[label]:.3f}")
    st.markdown(f"**{t('bn_ridge')}**")
    st.altair_chart(present(bn_charts.ridge_chart(
        bn_frames.ridge_frame(snap, layer, kind), x_title=t(f"bn_axis_{kind}"), y_title=t("axis_step"),
        model_title=t("bn_model"), domain=rng, total_steps=snap.total_steps)), key="bn_chart_ridge")


def panel_bn(snap, layer: str) -> None:
    st.caption(t("bn_explain_internals"))
    for key in ("mean", "var", "normalise", "scale", "running"):
        st.latex(bn.LATEX[key])
    st.markdown(f"**{t('bn_gamma_beta', layer=layer)}**")
    st.altair_chart(present(bn_charts.gamma_beta_chart(
        bn_frames.gamma_beta_frame(snap, layer), x_title=t("bn_channel"), y_title=t("bn_value"),
        param_title=t("bn_parameter"))), width="stretch", key="bn_chart_gb")
    st.markdown(f"**{t('bn_running_vs_batch', layer=layer)}**")
    st.altair_chart(present(bn_charts.bn_stats_chart(
        bn_frames.bn_stats_frame(snap, layer), x_title=t("axis_step"), channel_title=t("bn_channel"),
        source_title=t("bn_source"), source_labels={"running": t("bn_running"), "batch": t("bn_batch")})),
        key="bn_chart_stats")
    st.page_link("pages/ewma.py", label=t("bn_link_ewma"), icon=":material/show_chart:")
    st.caption(t(f"bn_unbiased_{snap.config.bn_impl}"))
    st.latex(bn.LATEX["unbiased"])


def panel_grad(snap) -> None:
    st.caption(t("bn_explain_grad"))
    st.altair_chart(present(bn_charts.grad_chart(
        bn_frames.grad_frame(snap), x_title=t("axis_step"), y_title=t("bn_axis_grad"),
        layer_title=t("bn_layer"), total_steps=snap.total_steps)), key="bn_chart_grad")


def panel_test(snap, job) -> None:
    st.caption(t("bn_explain_test", batches=listing(snap.config.test_time_batches)))
    st.latex(bn.LATEX["eval"])
    result = snap.test_time
    kept = st.session_state.get("bn_tt")
    if kept and kept[0] == job.id and (result is None or kept[1] >= snap.step):
        result = kept[2]  # measured with the button at this step (newer than the run's own)
    if snap.state == "paused" or (snap.state == "finished" and result is None):
        st.button(t("bn_measure_now"), on_click=measure_test_time, key="bn_measure",
                  icon=":material/science:")
    if result is None:
        st.info(t("bn_test_when"))
        return
    modes = {"eval": t("bn_mode_eval"), "train": t("bn_mode_train")}
    st.altair_chart(present(bn_charts.test_time_chart(
        bn_frames.test_time_frame(result), x_title=t("batch_size"), y_title=t("bn_axis_acc"),
        mode_title=t("bn_mode"), mode_labels=modes)), width="stretch", key="bn_chart_test")
    st.caption(t("bn_test_n", n=result["n"]))


NEEDS_CAPTURE = ("hist", "time", "bn", "grad")


def panel(name: str, snap, job) -> None:
    """One tab's content (with its layer picker where it has one)."""
    layer = layer_picker() if name in ("hist", "time", "bn") else None
    if name in NEEDS_CAPTURE and not snap.captures:
        st.info(t("bn_no_capture"))
    elif name == "loss":
        panel_loss(snap)
    elif name == "grad":
        panel_grad(snap)
    elif name == "test":
        panel_test(snap, job)
    else:
        {"hist": panel_hist, "time": panel_time, "bn": panel_bn}[name](snap, layer)


def exports(job) -> None:
    c1, c2, c3 = st.columns(3)
    c1.download_button(t("bn_dl_csv"), lambda: bn_frames.history_csv(job.snapshot()),
                       file_name="bnviz_history.csv", mime="text/csv", icon=":material/download:",
                       key="bn_dl_csv")
    c2.download_button(t("bn_dl_json"), lambda: bn_frames.history_json(job.snapshot()),
                       file_name="bnviz_history.json", mime="application/json",
                       icon=":material/download:", key="bn_dl_json")
    c3.download_button(t("bn_dl_weights"), job.export_weights, file_name="bnviz_lenet_weights.pt",
                       mime="application/octet-stream", icon=":material/download:", key="bn_dl_w")
