"""BatchNorm live: widgets and layout only; training is bnviz.training, frames bnviz.bn_frames."""

import inspect
import threading

import streamlit as st

from bnviz import bn as BN
from bnviz import bn_frames as F
from bnviz import data as D
from bnviz import histograms as H
from bnviz import training as T
from bnviz.ui import bn_charts as C
from bnviz.ui import urlstate as url
from bnviz.ui.common import guarded
from bnviz.ui.classroom import present, start_run
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0, 2.0, 5.0, 10.0, 100.0, 10000.0]
BATCHES = [8, 16, 32, 64, 128, 256, 512, 1024]
BN_MOMENTA = [0.01, 0.05, 0.1, 0.2, 0.5, 0.9]
BN_EPS = [1e-5, 1e-3, 1e-1]
HIST_EVERY = [1, 2, 5, 10, 20, 50, 100]
SUBSETS = [0, 30_000, 12_000, 6_000, 2_000, 512]  # 0: all training images
TICKS = (0.5, 1.0, 2.0, 5.0, 0.0)  # live refresh interval in seconds; 0: only on demand
PANELS = ("loss", "hist", "time", "bn", "grad", "test")


@st.cache_resource(show_spinner=False)
def dataset():
    """Fashion-MNIST once per process; a missing or broken copy falls back to labelled synthetic."""
    try:
        return D.load_fashion_mnist(), None
    except D.DataError as err:
        return D.synthetic(), err


class Slot:
    """This browser session's training job (at most one)."""

    def __init__(self):
        self.job: T.Job | None = None
        self.lock = threading.Lock()

    def release_job(self):
        if self.job is not None:
            self.job.release()
        self.job = None

    def release(self):
        with self.lock:
            self.release_job()


@st.cache_resource(scope="session", on_release=Slot.release, show_spinner=False)
def session_slot() -> Slot:
    return Slot()


def config_from_state() -> T.TrainConfig:
    s = st.session_state
    return T.TrainConfig(lr=s["bn_lr"], lr_bn=s["bn_lr_bn"], batch_size=s["bn_batch"],
                         epochs=int(s["bn_epochs"]), optimizer=s["bn_opt"], activation=s["bn_act"],
                         bn_position=s["bn_pos"], bn_impl=s["bn_impl"], bn_momentum=s["bn_mom"],
                         bn_eps=s["bn_eps"], seed=int(s["bn_seed"]), device=s["bn_device"],
                         hist_every=s["bn_every"], train_limit=s["bn_subset"],
                         test_limit=0 if s["bn_subset"] == 0 else 2048)


def _note(key, **params):
    st.session_state["bn_note"] = (key, params)


def _job(slot: Slot, fresh: bool = False) -> T.Job:
    """The session's job for the current settings (a new idle one when settings changed)."""
    cfg = config_from_state()
    job = slot.job
    if job is None or fresh or (job.state == "idle" and job.config != cfg):
        if job is not None:
            job.release()
        ds, _ = dataset()
        job = slot.job = T.Job(cfg, ds, manager=T.MANAGER, owner="session")
    return job


def _control(action: str) -> None:
    slot = session_slot()
    try:
        with slot.lock:
            job = slot.job
            if action == "start":
                if job is not None and job.state in T.ENDED:
                    slot.release_job()
                _job(slot).start()
            elif action == "step":
                if job is None or job.state in T.ENDED:
                    job = _job(slot, fresh=job is not None)
                job.step()
            elif job is None:
                return
            elif action == "pause":
                job.pause()
            elif action == "resume":
                job.resume()
            elif action == "stop":
                job.stop()
            elif action == "reset":
                _job(slot, fresh=True)
    except T.JobRefused as err:
        _note(f"err_{err.key}", **err.params)
    except T.ConfigError as err:
        _note(f"err_{err.key}", **err.params)


# One click reproduces a figure of the notes. Keys are session-state keys of the form and view.
D2L = {"bn_lr": 0.9, "bn_lr_bn": 1.0, "bn_batch": 256, "bn_epochs": 10, "bn_opt": "sgd",
       "bn_act": "sigmoid", "bn_pos": "before", "bn_impl": "torch", "bn_subset": 0, "bn_every": 10}
PRESETS = {
    "d2l": D2L,
    "fig1": {**D2L, "bn_every": 5, "panel": "time", "bn_layer": "fc2", "bn_time_kind": "pre"},
    "quick": {"bn_subset": 12_000, "bn_epochs": 3, "bn_batch": 128, "bn_every": 5, "panel": "hist"},
    "scratch": {"bn_impl": "scratch", "panel": "bn", "bn_layer": "conv1"},
    "big_lr": {"bn_lr": 5.0, "bn_lr_bn": 5.0, "bn_epochs": 5, "bn_subset": 12_000, "panel": "loss"},
}


def apply_preset():
    preset = PRESETS.get(st.session_state.get("bn_preset"))
    if not preset:
        return
    values = {k: v for k, v in preset.items() if k != "panel"}
    if "bn_layer" in values:
        values["_bn_layer"] = values["bn_layer"]
    if "panel" in preset:
        values["bn_panel"] = t(f"bn_tab_{preset['panel']}")
        values["bn_view"] = preset["panel"]
    st.session_state.update(values)


def sidebar():
    sb = st.sidebar
    sb.selectbox(t("preset"), ["none", *PRESETS], key="bn_preset",
                 format_func=lambda k: t(f"bn_preset_{k}") if k != "none" else t("preset_none"))
    sb.button(t("preset_apply"), on_click=apply_preset, width="stretch", key="bn_preset_apply",
              disabled=st.session_state.get("bn_preset", "none") == "none")
    devices = T.available_devices()
    defaults = T.TrainConfig()
    url.init("bn_lr", defaults.lr, url.choice(LRS))
    url.init("bn_lr_bn", defaults.lr_bn, url.choice(LRS))
    url.init("bn_batch", defaults.batch_size, url.choice(BATCHES))
    url.init("bn_epochs", defaults.epochs, url.int_range(1, 50))
    url.init("bn_opt", defaults.optimizer, url.choice(T.OPTIMIZERS))
    url.init("bn_act", defaults.activation, url.choice(("sigmoid", "relu")))
    url.init("bn_pos", defaults.bn_position, url.choice(("before", "after")))
    url.init("bn_impl", defaults.bn_impl, url.choice(("torch", "scratch")))
    url.init("bn_mom", defaults.bn_momentum, url.choice(BN_MOMENTA))
    url.init("bn_eps", defaults.bn_eps, url.choice(BN_EPS))
    url.init("bn_seed", defaults.seed, url.int_range(0, 10_000))
    url.init("bn_device", devices[0], url.choice(devices))
    url.init("bn_every", defaults.hist_every, url.choice(HIST_EVERY))
    url.init("bn_subset", 0, url.choice(SUBSETS))
    with sb.form("bn_form", border=False):
        st.subheader(t("bn_settings"))
        c1, c2 = st.columns(2)
        c1.select_slider(t("bn_lr_plain"), LRS, key="bn_lr", format_func=lambda v: f"{v:g}")
        c2.select_slider(t("bn_lr_bn"), LRS, key="bn_lr_bn", format_func=lambda v: f"{v:g}")
        st.select_slider(t("batch_size"), BATCHES, key="bn_batch")
        st.number_input(t("bn_epochs"), 1, 50, key="bn_epochs")
        st.selectbox(t("bn_optimizer"), T.OPTIMIZERS, key="bn_opt", format_func=lambda k: t(f"bn_opt_{k}"))
        st.radio(t("bn_activation"), ("sigmoid", "relu"), key="bn_act", horizontal=True,
                 format_func=lambda k: t(f"bn_act_{k}"))
        st.radio(t("bn_position"), ("before", "after"), key="bn_pos", horizontal=True,
                 format_func=lambda k: t(f"bn_pos_{k}"), help=t("bn_position_help"))
        st.radio(t("bn_impl"), ("torch", "scratch"), key="bn_impl", horizontal=True,
                 format_func=lambda k: t(f"bn_impl_{k}"))
        c1, c2 = st.columns(2)
        c1.select_slider(t("bn_momentum"), BN_MOMENTA, key="bn_mom", format_func=lambda v: f"{v:g}",
                         help=t("bn_momentum_help"))
        c2.select_slider("ε", BN_EPS, key="bn_eps", format_func=lambda v: f"{v:g}")
        st.number_input(t("seed"), 0, 10_000, key="bn_seed")
        st.selectbox(t("bn_device"), devices, key="bn_device", format_func=T.device_name)
        st.select_slider(t("bn_hist_every"), HIST_EVERY, key="bn_every")
        st.selectbox(t("bn_subset"), SUBSETS, key="bn_subset",
                     format_func=lambda n: t("bn_subset_all") if n == 0 else f"{n:,}")
        st.form_submit_button(t("bn_apply"), width="stretch", icon=":material/tune:")
    sb.caption(t("bn_settings_note"))


def dataset_banner():
    ds, problem = dataset()
    if not ds.synthetic:
        st.caption(t("bn_data_real", n=len(ds.y_train), m=len(ds.y_test), path=ds.source))
        return
    if problem is not None and problem.key != "data_not_found":
        st.error(t(f"err_{problem.key}", **problem.params))
    st.warning(t("bn_data_synthetic", folders=", ".join(map(str, D.candidates()))))


def controls(snap):
    state = snap.state if snap else "idle"
    cols = st.columns(5)
    if state == "running":
        cols[0].button(t("bn_pause"), on_click=_control, args=("pause",), key="bn_pause",
                       icon=":material/pause:", width="stretch")
    elif state == "paused":
        cols[0].button(t("bn_resume"), on_click=_control, args=("resume",), key="bn_resume",
                       icon=":material/play_arrow:", width="stretch", type="primary")
    else:
        cols[0].button(t("bn_start"), on_click=_control, args=("start",), key="bn_start",
                       icon=":material/play_arrow:", width="stretch", type="primary")
    cols[1].button(t("bn_step"), on_click=_control, args=("step",), key="bn_step",
                   icon=":material/skip_next:", width="stretch", help=t("bn_step_help"))
    cols[2].button(t("bn_stop"), on_click=_control, args=("stop",), key="bn_stop",
                   icon=":material/stop:", width="stretch", disabled=state not in T.ACTIVE)
    cols[3].button(t("bn_reset"), on_click=_control, args=("reset",), key="bn_reset",
                   icon=":material/restart_alt:", width="stretch", disabled=snap is None)
    cols[4].caption(t("bn_cap", active=len(T.MANAGER.active()), cap=T.MANAGER.cap))
    if note := st.session_state.pop("bn_note", None):
        st.warning(t(note[0], **note[1]))
    if snap is not None and snap.state in T.ACTIVE and snap.config != config_from_state():
        st.info(t("bn_settings_pending"))


def status(snap):
    if snap is None:
        st.progress(0.0, text=t("bn_status_none"))
        return
    eta = "—" if snap.eta_s is None else f"{snap.eta_s:,.0f} s"
    text = t("bn_progress", state=t(f"bn_state_{snap.state}"), epoch=snap.epoch,
             epochs=snap.config.epochs, step=snap.step, total=snap.total_steps,
             rate=f"{snap.images_per_s:,.0f}", eta=eta, device=snap.device_name)
    st.progress(min(1.0, snap.progress), text=text)
    if snap.state == "diverged":
        st.error(t("bn_diverged", model=F.LABELS[snap.diverged_model], step=snap.diverged_at,
                   limit=f"{T.DIVERGED_LOSS:g}"))
    elif snap.state == "failed":
        st.error(t("bn_failed", error=snap.reason_params.get("error", "")))
    elif snap.state == "finished" and snap.reason_key == "job_stopped":
        st.info(t("bn_stopped", step=snap.step))


def panel_loss(snap):
    st.caption(t("bn_explain_loss"))
    c1, c2 = st.columns(2)
    c1.altair_chart(present(C.loss_chart(F.loss_frame(snap), x_title=t("axis_step"), y_title=t("bn_axis_loss"),
                                         model_title=t("bn_model"), total_steps=snap.total_steps)),
                    width="stretch", key="bn_chart_loss")
    c2.altair_chart(present(C.accuracy_chart(F.epoch_frame(snap), x_title=t("bn_axis_epoch"),
                                             y_title=t("bn_axis_acc"), model_title=t("bn_model"),
                                             metric_title=t("bn_metric"),
                                             metric_labels={"train_acc": t("bn_train_acc"),
                                                            "test_acc": t("bn_test_acc")},
                                             epochs_total=snap.config.epochs)),
                    width="stretch", key="bn_chart_acc")
    st.latex(T.LATEX["loss"])


def _layer_picker():
    # The picker lives in several tabs; a copy outside widget state keeps the choice between them.
    if st.session_state.get("bn_layer") not in T.LAYERS:
        st.session_state["bn_layer"] = st.session_state.get("_bn_layer", "fc2")
    layer = st.segmented_control(t("bn_layer"), T.LAYERS, key="bn_layer", required=True)
    st.session_state["_bn_layer"] = layer
    return layer


def panel_hist(snap, layer):
    st.caption(t("bn_explain_hist"))
    if not snap.captures:
        st.info(t("bn_no_capture"))
        return
    c = snap.captures[-1]
    rng = H.ranges(snap.config.activation)
    frame = F.hist_frame(snap, layer)
    for kind in T.KINDS:
        st.markdown(f"**{t(f'bn_kind_{kind}', layer=layer)}** · {t('bn_at_step', step=c.step)}")
        spec = C.spec_of(C.hist_chart, frame.iloc[:0], x_title=t(f"bn_axis_{kind}"),
                         y_title=t("bn_axis_share"), model_title=t("bn_model"), domain=rng[kind])
        rows = frame[frame.kind == kind]
        st.vega_lite_chart(rows, present(spec, rows), key=f"bn_chart_hist_{kind}")
    out = F.outside_frame(snap, layer)
    extra = out[(out[list(H.OUTSIDE)] > 0).any(axis=1)]
    for row in extra.itertuples():
        st.caption(t("bn_outside", model=row.model, kind=t(f"bn_kind_{row.kind}", layer=layer),
                     under=row.under, over=row.over, nan=row.nan, inf=row.inf))
    st.latex(T.LATEX[snap.config.activation])


def panel_time(snap, layer):
    st.caption(t("bn_explain_time"))
    if not snap.captures:
        st.info(t("bn_no_capture"))
        return
    kind = st.radio(t("bn_kind"), T.KINDS, key="bn_time_kind", horizontal=True,
                    format_func=lambda k: t(f"bn_kind_{k}", layer=layer))
    rng = H.ranges(snap.config.activation)[kind]
    st.altair_chart(present(C.percentile_chart(F.percentile_frame(snap, layer, kind), x_title=t("axis_step"),
                                               y_title=t(f"bn_axis_{kind}"), model_title=t("bn_model"),
                                               total_steps=snap.total_steps, domain=rng)),
                    width="stretch", key="bn_chart_pct")
    drift = F.drift(snap, layer, kind)
    c1, c2 = st.columns(2)
    c1.metric(t("bn_drift", model="LeNet"), f"{drift['LeNet']:.3f}")
    c2.metric(t("bn_drift", model="LeNet-BN"), f"{drift['LeNet-BN']:.3f}")
    st.markdown(f"**{t('bn_ridge')}**")
    st.altair_chart(present(C.ridge_chart(F.ridge_frame(snap, layer, kind), x_title=t(f"bn_axis_{kind}"),
                                          y_title=t("axis_step"), model_title=t("bn_model"), domain=rng,
                                          total_steps=snap.total_steps)), key="bn_chart_ridge")


def panel_bn(snap, layer):
    st.caption(t("bn_explain_internals"))
    for key in ("mean", "var", "normalise", "scale", "running"):
        st.latex(BN.LATEX[key])
    if not snap.captures:
        st.info(t("bn_no_capture"))
        return
    st.markdown(f"**{t('bn_gamma_beta', layer=layer)}**")
    st.altair_chart(present(C.gamma_beta_chart(F.gamma_beta_frame(snap, layer), x_title=t("bn_channel"),
                                               y_title=t("bn_value"), param_title=t("bn_parameter"))),
                    width="stretch", key="bn_chart_gb")
    st.markdown(f"**{t('bn_running_vs_batch', layer=layer)}**")
    st.altair_chart(present(C.bn_stats_chart(F.bn_stats_frame(snap, layer), x_title=t("axis_step"),
                                             channel_title=t("bn_channel"), source_title=t("bn_source"),
                                             source_labels={"running": t("bn_running"), "batch": t("bn_batch")})),
                    key="bn_chart_stats")
    st.page_link("pages/ewma.py", label=t("bn_link_ewma"), icon=":material/show_chart:")
    st.caption(t("bn_unbiased_torch" if snap.config.bn_impl == "torch" else "bn_unbiased_scratch"))
    st.latex(BN.LATEX["unbiased"])


def panel_grad(snap):
    st.caption(t("bn_explain_grad"))
    if not snap.captures:
        st.info(t("bn_no_capture"))
        return
    st.altair_chart(present(C.grad_chart(F.grad_frame(snap), x_title=t("axis_step"), y_title=t("bn_axis_grad"),
                                         layer_title=t("bn_layer"), total_steps=snap.total_steps)),
                    key="bn_chart_grad")


def measure_test_time():
    slot = session_slot()
    job = slot.job
    if job is None or job.state == "running":
        return
    try:
        st.session_state["bn_tt"] = (job.id, job.snapshot().step, job.test_time_now())
    except T.ConfigError as err:
        _note(f"err_{err.key}", **err.params)


def panel_test(snap, job):
    st.caption(t("bn_explain_test"))
    st.latex(BN.LATEX["eval"])
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
    frame = F.test_time_frame(result)
    st.altair_chart(present(C.test_time_chart(frame, x_title=t("batch_size"), y_title=t("bn_axis_acc"),
                                              mode_title=t("bn_mode"),
                                              mode_labels={"eval": t("bn_mode_eval"), "train": t("bn_mode_train")})),
                    width="stretch", key="bn_chart_test")
    st.caption(t("bn_test_n", n=result["n"]))


def exports(snap, job):
    c1, c2, c3 = st.columns(3)
    c1.download_button(t("bn_dl_csv"), lambda: F.history_csv(job.snapshot()), file_name="bnviz_history.csv",
                       mime="text/csv", icon=":material/download:", key="bn_dl_csv")
    c2.download_button(t("bn_dl_json"), lambda: F.history_json(job.snapshot()),
                       file_name="bnviz_history.json", mime="application/json",
                       icon=":material/download:", key="bn_dl_json")
    c3.download_button(t("bn_dl_weights"), job.export_weights, file_name="bnviz_lenet_weights.pt",
                       mime="application/octet-stream", icon=":material/download:", key="bn_dl_w")


st.title(t("bn_title"))
st.caption(t("bn_intro"))
sidebar()
dataset_banner()
slot = session_slot()
job = slot.job
snap0 = job.snapshot() if job is not None else None
with guarded():
    controls(snap0)
url.init("bn_tick", 1.0, url.choice(TICKS))
# The view is in the link too (language-independent ids; the tab widget itself holds a label).
url.init("bn_view", PANELS[0], url.choice(PANELS))
url.init("bn_layer", "fc2", url.choice(T.LAYERS))
url.init("bn_time_kind", "pre", url.choice(T.KINDS))
tick = st.segmented_control(t("bn_tick"), TICKS, key="bn_tick", required=True, help=t("bn_tick_help"),
                            format_func=lambda v: t("bn_tick_off") if v == 0 else f"{v:g} s")
polling = snap0 is not None and snap0.active
if polling and not tick:
    st.button(t("bn_refresh"), icon=":material/refresh:", key="bn_refresh")


@st.fragment(run_every=tick if polling and tick else None)
def live():
    start_run()  # every chart of this page is drawn here: the SVG download holds the latest tick's
    job = slot.job
    snap = job.snapshot() if job is not None else None
    if (snap is not None and snap.active) != polling:
        st.rerun(scope="app")  # started or ended since the page ran: switch the timer
    with guarded():
        status(snap)
        if snap is None or snap.step == 0 and not snap.captures:
            st.info(t("bn_press_start"))
            return
        labels = [t(f"bn_tab_{p}") for p in PANELS]
        if st.session_state.get("bn_panel") not in labels:  # first view, or the language changed
            st.session_state["bn_panel"] = labels[PANELS.index(st.session_state.get("bn_view", PANELS[0]))]
        tabs = st.tabs(labels, key="bn_panel", on_change="rerun")
        layer = None
        for panel, tab in zip(PANELS, tabs):
            if not tab.open:
                continue
            st.session_state["bn_view"] = panel
            with tab:
                if panel in ("hist", "time", "bn"):
                    layer = _layer_picker()
                if panel == "loss":
                    panel_loss(snap)
                elif panel == "hist":
                    panel_hist(snap, layer)
                elif panel == "time":
                    panel_time(snap, layer)
                elif panel == "bn":
                    panel_bn(snap, layer)
                elif panel == "grad":
                    panel_grad(snap)
                else:
                    panel_test(snap, job)
        exports(snap, job)
        url.sync()  # a tab or layer chosen inside the fragment goes into the link at once


live()

with st.expander(t("bn_code_header")):
    st.caption(t("bn_code_text"))
    st.code(inspect.getsource(BN.BatchNormScratch), language="python")
    st.code(inspect.getsource(BN.batch_stats) + "\n" + inspect.getsource(BN.normalise), language="python")
