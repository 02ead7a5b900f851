"""The BatchNorm page's session: its settings table, presets, and the one training job it owns.

Each browser session owns at most one :class:`bnviz.training.job.Job`, kept in a session-scoped
``st.cache_resource`` whose ``on_release`` stops it when the tab closes. Buttons call
:func:`control`; a refusal (job cap, unusable setting) becomes a note shown once by the page.
"""

from __future__ import annotations

import secrets
import threading

import streamlit as st

from bnviz import training
from bnviz.batchnorm.choices import ACTIVATIONS, BN_IMPLS, BN_POSITIONS
from bnviz.batchnorm.models import HIDDEN_LAYERS, WIDTHS
from bnviz.cluster import engine
from bnviz.data import fashion_mnist
from bnviz.training import watching
from bnviz.training.config import MAX_LR
from bnviz.ui import urlstate
from bnviz.ui.i18n import t, text
from bnviz.ui.settings import Setting, number, preset_state, translated

DEFAULTS = training.TrainConfig()  # the d2l recipe
LRS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1.0, 2.0, 5.0, 10.0, 100.0, 10000.0)
BATCHES = (8, 16, 32, 64, 128, 256, 512, 1024)
BN_MOMENTA = (0.01, 0.05, 0.1, 0.2, 0.5, 0.9)
BN_EPS = (1e-5, 1e-3, 1e-1)
HIST_EVERY = (1, 2, 5, 10, 20, 50, 100)
PROBE_STEPS = (0.0, 0.1, 0.3, 1.0)  # the smoothness probe's step length (0: each model's own step η·g)
SUBSETS = (0, 30_000, 12_000, 6_000, 3_000, 2_000, 512)  # 0: all training images
# Test images used with a training subset: 2,048, but never more than the subset itself. With
# 2,048, the 512-image option spent longer testing than training (accuracy at each epoch's end and
# at the test-time batch sizes): a 2-epoch run took 1.6-2.1 CPU-s here, 0.6-0.9 with 512.
SUBSET_TEST = 2048
TICKS = (0.5, 1.0, 2.0, 5.0, 0.0)  # live refresh interval in seconds; 0: only on demand
CLASS_TICKS = (1.0, 2.0, 5.0)  # what the owner can put into the watch link for the class
ANY_LR = urlstate.float_range(1e-6, MAX_LR)  # a link may name any rate the trainer accepts
PANELS = ("loss", "hist", "time", "bn", "grad", "test", "hand", "smooth")

# TrainConfig field → its control. The device's options are the devices found (see device_setting).
FORM = {
    "lr": Setting("bn_lr", DEFAULTS.lr, "bn_lr_plain", options=LRS, fmt=number, accept=ANY_LR),
    "lr_bn": Setting("bn_lr_bn", DEFAULTS.lr_bn, "bn_lr_bn", options=LRS, fmt=number, accept=ANY_LR),
    "batch_size": Setting("bn_batch", DEFAULTS.batch_size, "batch_size", options=BATCHES),
    "epochs": Setting("bn_epochs", DEFAULTS.epochs, "bn_epochs", "number", (1, 50)),
    "optimizer": Setting("bn_opt", DEFAULTS.optimizer, "bn_optimizer", "selectbox", training.OPTIMIZERS,
                         lambda k: t(f"bn_opt_{k}", momentum=DEFAULTS.momentum)),
    "activation": Setting("bn_act", DEFAULTS.activation, "bn_activation", "radio", ACTIVATIONS,
                          translated("bn_act_")),
    "bn_position": Setting("bn_pos", DEFAULTS.bn_position, "bn_position", "radio", BN_POSITIONS,
                           translated("bn_pos_"), help="bn_position_help"),
    "bn_impl": Setting("bn_impl", DEFAULTS.bn_impl, "bn_impl", "radio", BN_IMPLS, translated("bn_impl_")),
    "bn_momentum": Setting("bn_mom", DEFAULTS.bn_momentum, "bn_momentum", options=BN_MOMENTA, fmt=number,
                           help="bn_momentum_help",
                           help_params={"momentum": DEFAULTS.bn_momentum, "beta": 1 - DEFAULTS.bn_momentum}),
    "bn_eps": Setting("bn_eps", DEFAULTS.bn_eps, "bn_epsilon", options=BN_EPS, fmt=number),
    "seed": Setting("bn_seed", DEFAULTS.seed, "seed", "number", (0, 10_000)),
    "hist_every": Setting("bn_every", DEFAULTS.hist_every, "bn_hist_every", options=HIST_EVERY),
    "probe_step": Setting("bn_probe_step", DEFAULTS.probe_step, "bn_probe_step", options=PROBE_STEPS,
                          fmt=lambda v: t("bn_probe_step_own") if v == 0 else f"{v:g}", help="bn_probe_step_help"),
    "train_limit": Setting("bn_subset", 0, "bn_subset", "selectbox", SUBSETS,
                           lambda n: t("bn_subset_all") if n == 0 else f"{n:,}"),
}
VIEW = {
    "panel": Setting("bn_view", PANELS[0], "", options=PANELS),  # in the link only: the tabs show it
    "layer": Setting("bn_layer", "fc2", "bn_layer", "segmented", HIDDEN_LAYERS),
    "kind": Setting("bn_time_kind", "pre", "bn_kind", "radio", training.KINDS),
    "grid": Setting("bn_grid", True, "bn_all_layers", "toggle", help="bn_all_layers_help"),
    "channel": Setting("bn_channel", 0, "bn_channel", "number", (0, max(WIDTHS.values()) - 1)),
    "tick": Setting("bn_tick", 1.0, "bn_tick", "segmented", TICKS,
                    lambda v: t("bn_tick_off") if v == 0 else f"{v:g} s", help="bn_tick_help"),
}


def device_label(device: str, lang: str | None = None) -> str:
    kind, info = training.device_info(device)
    if kind == "cuda":
        return info["name"]
    return t(f"bn_device_{kind}", **info) if lang is None else text(lang, f"bn_device_{kind}", **info)


def device_setting() -> Setting:
    devices = tuple(training.available_devices())
    return Setting("bn_device", devices[0], "bn_device", "selectbox", devices, device_label)


# One click reproduces a figure of the notes: run settings by TrainConfig name, and the view.
D2L = {name: getattr(DEFAULTS, name) for name in
       ("lr", "lr_bn", "batch_size", "epochs", "optimizer", "activation", "bn_position", "bn_impl",
        "hist_every")} | {"train_limit": 0}
PRESETS = {
    "d2l": {"run": D2L},
    "fig1": {"run": {**D2L, "hist_every": 5}, "view": {"panel": "time", "layer": "fc2", "kind": "pre"}},
    "quick": {"run": {"train_limit": 12_000, "epochs": 3, "batch_size": 128, "hist_every": 5},
              "view": {"panel": "hist"}},
    "scratch": {"run": {"bn_impl": "scratch"}, "view": {"panel": "bn", "layer": "conv1"}},
    "big_lr": {"run": {"lr": 5.0, "lr_bn": 5.0, "epochs": 5, "train_limit": 12_000},
               "view": {"panel": "loss"}},
    # Santurkar et al.'s probe made fair: ReLU, one learning rate where both train, every model
    # probed over the same distance along its gradient.
    "smooth_fair": {"run": {"activation": "relu", "lr": 0.1, "lr_bn": 0.1, "epochs": 3, "train_limit": 12_000,
                            "batch_size": 128, "hist_every": 2, "probe_step": 0.3},
                    "view": {"panel": "smooth"}},
}


def apply_preset() -> None:
    """Button callback: the chosen preset's settings and view into session state."""
    preset = PRESETS.get(st.session_state.get("bn_preset"))
    if not preset:
        return
    urlstate.reset_page(keep=("bn_preset", "bn_device", "bn_tick"))
    values = preset_state(FORM, preset["run"]) | preset_state(VIEW, preset.get("view", {}))
    if "bn_layer" in values:
        values["_bn_layer"] = values["bn_layer"]
    if "bn_view" in values:
        values["bn_panel"] = t(f"bn_tab_{values['bn_view']}")
    st.session_state.update(values)


def config_from_state() -> training.TrainConfig:
    """The run the form's current values describe."""
    s = st.session_state
    values = {name: s[setting.key] for name, setting in FORM.items()}
    values.update(epochs=int(values["epochs"]), seed=int(values["seed"]), device=s["bn_device"],
                  test_limit=0 if values["train_limit"] == 0 else min(SUBSET_TEST, values["train_limit"]))
    return training.TrainConfig(**values)


@st.cache_resource(show_spinner=False)
def dataset():
    """Fashion-MNIST once per process; a missing or broken copy falls back to labelled synthetic."""
    try:
        return fashion_mnist.load_fashion_mnist(), None
    except fashion_mnist.DataError as err:
        return fashion_mnist.synthetic(), err


class Slot:
    """This browser session's own run (at most one): its job and watch code. The run outlives
    the job — a Reset or a new Start keeps the code — and, after the tab closes, lives on for
    the registry's grace period so the class can keep watching."""

    def __init__(self):
        self.id = secrets.token_hex(8)  # this page's name among the run's owners
        self.run: watching.WatchedRun | None = None
        self.lock = threading.Lock()

    @property
    def job(self) -> training.Job | None:
        return self.run.job if self.run is not None else None

    def new_job(self, config: training.TrainConfig):
        """A new idle job for ``config`` in this page's run (a new run at the first): a thread
        of this process, or, on the Ray engine, a job in the run's actor."""
        if engine.uses_ray():
            from bnviz.cluster import remote

            if self.run is None or self.run.lost:  # a run whose machine died: a new one, a new code
                self.run = remote.REGISTRY.open(config, owner=self.id)
                return self.run.job
            return self.run.new_job(config)
        ds, _ = dataset()
        job = training.Job(config, ds, manager=training.MANAGER, owner="session")
        if self.run is None:
            self.run = watching.REGISTRY.create(job, owner=self.id)
            return job
        old, self.run.job = self.run.job, job
        if old is not job:
            old.release()
        return job

    def adopt(self, run: watching.WatchedRun) -> None:
        """Hold ``run`` as its owner (its owner token came from this browser), unless this page
        holds a run already."""
        with self.lock:
            if self.run is None:
                engine.registry().owner_back(run, self.id)
                self.run = run

    def release(self):
        with self.lock:
            if self.run is not None:
                engine.registry().owner_left(self.run, self.id)


@st.cache_resource(scope="session", on_release=Slot.release, show_spinner=False)
def session_slot() -> Slot:
    return Slot()


def watched_run() -> watching.WatchedRun | None:
    """The run this page watches (``?watch=CODE``), None for the owner's own page; a code that is
    wrong or expired shows a message and stops the page."""
    urlstate.init("watch", "", urlstate.text(64))
    code = st.session_state.get("watch") or ""
    if not code:
        return None
    run = engine.registry().find(code)
    if run is None:
        st.error(t("watch_unknown"))
        st.page_link("pages/batchnorm.py", label=t("watch_own"), icon=":material/play_circle:")
        st.stop()
    viewer = st.session_state.setdefault("_viewer", secrets.token_hex(8))
    run.seen(viewer)
    return run


def note(key: str, **params) -> None:
    """A message for the next run of the page (shown once)."""
    st.session_state["bn_note"] = (key, params)


def _job(slot: Slot, fresh: bool = False) -> training.Job:
    """The session's job for the current settings (a new idle one when settings changed)."""
    cfg = config_from_state()
    job = slot.job
    if job is None or fresh or (job.state == "idle" and job.config != cfg):
        job = slot.new_job(cfg)
    return job


def control(action: str) -> None:
    """Button callback: start, step, pause, resume, stop or reset this session's own job (a
    watcher's page has none of these buttons; its session has no job to act on)."""
    if st.session_state.get("watch"):
        return
    slot = session_slot()
    try:
        with slot.lock:
            job = slot.job
            if action == "start":
                if job is None or job.state in training.ENDED:
                    job = _job(slot, fresh=job is not None)
                else:
                    job = _job(slot)
                job.start()
            elif action == "step":
                if job is None or job.state in training.ENDED:
                    job = _job(slot, fresh=job is not None)
                job.step()
                job.wait_parked(2.0)  # so the page that follows shows the step done
            elif job is None:
                return
            elif action == "pause":
                job.pause()
            elif action == "resume":
                job.resume()
            elif action == "stop":  # the page says so once the run has ended, its demonstration to follow
                job.stop(settled=False)
            elif action == "reset":
                _job(slot, fresh=True)
    except (training.JobRefused, training.ConfigError) as err:
        note(f"err_{err.key}", **err.params)


def change_lr(model: str) -> None:
    """Callback of a model's live learning-rate control: the running job takes it at the next step."""
    job = session_slot().job
    if job is None or st.session_state.get("watch") or job.state not in training.ACTIVE:
        return
    try:
        job.set_lr(model, st.session_state[f"lr_now_{model}"])
    except training.ConfigError as err:
        note(f"err_{err.key}", **err.params)
