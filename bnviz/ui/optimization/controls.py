"""The optimizer page's controls: the sidebar's settings table, presets, the start point, the
live panel (α, β/β₁, the step, Play), and the cached computations the page draws from."""

from __future__ import annotations

import json

import streamlit as st

from bnviz.optimization import descent, optimizers, path_frames, schedules, typed_surfaces
from bnviz.optimization.surfaces import SURFACES
from bnviz.ui import browser_controls, urlstate
from bnviz.ui.i18n import t
from bnviz.ui.optimization import charts
from bnviz.ui.settings import Setting, number, translated

SURFACE_KEYS = (*SURFACES, "custom")
LRS, BETAS = path_frames.LRS, path_frames.BETAS
EPS = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
NOISES = (0.0, 0.1, 0.5, 1.0, 2.0, 5.0)
DECAY_K = (0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 2.0)
STAIR = (0.1, 0.25, 0.5, 0.75, 0.9)
WEIGHT_DECAY = (0.0, 0.001, 0.01, 0.1)


def opt_label(name):
    return t(f"opt_{name}")


def apply_preset():
    key = st.session_state.get("preset")
    if key not in path_frames.PRESETS:
        return
    p = path_frames.PRESETS[key]
    urlstate.reset_page(keep=("preset",))
    values = {"surf": p["surface"], "opts": list(p["optimizers"]), "steps": p["steps"],
              "sx": float(p["start"][0]), "sy": float(p["start"][1]), "noise": float(p.get("noise", 0.0)),
              "bs": int(p.get("batch_size", 1)), "sched": p.get("schedule", {}).get("kind", "constant"),
              "sk": float(p.get("schedule", {}).get("k", 1.0)), "step": p["steps"]}
    if "lrs" in p:
        values["same"] = False
        values.update({f"lr_{name}": lr for name, lr in p["lrs"].items()})
    else:
        values.update(same=True, lr=p["lr"])
    st.session_state.update(values)


def on_surface_change():
    s = SURFACES.get(st.session_state["surf"])
    if s is not None:
        st.session_state.update(sx=float(s.start[0]), sy=float(s.start[1]),
                                lr=min(LRS, key=lambda v: abs(v - s.lr)))


def on_click(domain):
    """A click on the heatmap starts the paths there; a cell outside the domain (a wide screen shows
    more than it) starts them at the nearest point of the domain, as far as the start's boxes go."""
    picked = (st.session_state.get("contour") or {}).get("selection", {}).get("start") or []
    if picked:
        (xa, xb), (ya, yb) = domain
        st.session_state.update(sx=min(max(float(picked[0]["cx"]), xa), xb),
                                sy=min(max(float(picked[0]["cy"]), ya), yb), step=st.session_state.get("steps", 150))


SIDEBAR = {
    "surf": Setting("surf", "valley", "surface", "selectbox", SURFACE_KEYS, translated("surf_")),
    "opts": Setting("opts", ["gd", "momentum"], "optimizers", "multiselect", optimizers.OPTIMIZERS,
                    translated("opt_")),
    "same": Setting("same", True, "same_lr", "toggle", help="same_lr_help"),
    "sched": Setting("sched", "constant", "schedule", "selectbox", schedules.SCHEDULES, translated("sched_")),
    "sk": Setting("sk", 0.05, "sched_k", options=DECAY_K),
    "sgamma": Setting("sgamma", 0.5, "sched_gamma", options=STAIR),
    "severy": Setting("severy", 20, "sched_every", "number", (1, 1000)),
    "spe": Setting("spe", 1, "steps_per_epoch", "number", (1, 1000)),
    "noise": Setting("noise", 0.0, "noise", options=NOISES, help="noise_help"),
    "bs": Setting("bs", 1, "batch_size", options=BATCHES),
    "nseed": Setting("nseed", 0, "seed", "number", (0, 10_000)),
    "steps": Setting("steps", 150, "steps", "slider", (10, 1000)),
}


# How the sidebar shows each hyper-parameter an optimizer lists in its ``settings``: the session key's
# prefix (``<prefix>_<optimizer>``), the label's string key, the widget and its options.
HYPER_WIDGETS = {
    "beta2": ("beta2", "beta2", {"options": BETAS, "fmt": number}),
    "eps": ("eps", "eps", {"options": EPS, "fmt": number}),
    "bias_correction": ("bc", "bias_correction", {"widget": "checkbox"}),
    "weight_decay": ("wd", "weight_decay", {"options": WEIGHT_DECAY}),
}


def optimizer_settings(name: str) -> dict[str, Setting]:
    """Hyper-parameter → its sidebar setting, for those ``name`` shows there (α and β/β₁ are live,
    above the chart)."""
    optimizer = optimizers.get(name)
    out = {}
    for field in optimizer.settings:
        prefix, label, widget = HYPER_WIDGETS[field]
        out[field] = Setting(f"{prefix}_{name}", optimizer.defaults[field], label, **widget)
    return out


def sidebar():
    sb = st.sidebar
    sb.selectbox(t("preset"), ["none", *path_frames.PRESETS], key="preset",
                 format_func=lambda k: t(f"preset_{k}") if k != "none" else t("preset_none"))
    sb.button(t("preset_apply"), on_click=apply_preset, width="stretch", disabled=st.session_state["preset"] == "none")

    surf = SIDEBAR["surf"].show(sb, on_change=on_surface_change)
    cfg = {"surface": surf}
    if surf == "custom":
        urlstate.init("expr", "x**2/4 + y**2 - cos(3*x)", urlstate.text(typed_surfaces.MAX_LENGTH))
        urlstate.init("width", 3.0, urlstate.float_range(0.1, 100.0))
        # The box takes a longer paste than a formula may be, so the core says why it is refused
        # (a box that cut it at the limit would say nothing).
        cfg["expr"] = sb.text_input(t("custom_expr"), key="expr", max_chars=10 * typed_surfaces.MAX_LENGTH,
                                    help=t("custom_help"))
        cfg["width"] = sb.number_input(t("custom_width"), 0.1, 100.0, key="width")
    default = SURFACES.get(surf, SURFACES["valley"])

    names = SIDEBAR["opts"].show(sb)
    same = SIDEBAR["same"].show(sb)
    urlstate.init("lr", min(LRS, key=lambda v: abs(v - default.lr)), urlstate.choice(LRS))

    hps = {}
    for name in names:
        defaults = optimizers.get(name).defaults
        urlstate.init(f"lr_{name}", defaults["lr"] if defaults["lr"] in LRS else 0.1, urlstate.choice(LRS))
        hp = {"lr": st.session_state["lr" if same else f"lr_{name}"]}
        field = optimizers.get(name).slider
        if field:
            urlstate.init(f"{field}_{name}", defaults[field], urlstate.choice(BETAS))
            hp[field] = st.session_state[f"{field}_{name}"]
        with sb.expander(t("hp_of", name=opt_label(name))):
            for field, setting in optimizer_settings(name).items():
                hp[field] = setting.show()
            st.latex(optimizers.get(name).latex)
        hps[name] = hp

    kind = SIDEBAR["sched"].show(sb)
    schedule = None
    if kind != "constant":
        schedule = {"kind": kind}
        if kind in ("inverse", "sqrt"):
            schedule["k"] = SIDEBAR["sk"].show(sb, default=1.0 if kind == "sqrt" else 0.05)
        if kind == "staircase":
            schedule["gamma"] = SIDEBAR["sgamma"].show(sb)
            schedule["every"] = SIDEBAR["severy"].show(sb)
        schedule["steps_per_epoch"] = SIDEBAR["spe"].show(sb)
        sb.latex(schedules.LATEX[kind])
        sb.caption(t("explain_schedule"))

    noise = SIDEBAR["noise"].show(sb)
    common = {"schedule": schedule}
    if noise > 0:
        common.update(noise=noise, batch_size=SIDEBAR["bs"].show(sb), seed=int(SIDEBAR["nseed"].show(sb)))
        sb.latex(schedules.NOISE_LATEX)
    for hp in hps.values():
        hp.update(common)

    cfg["steps"] = SIDEBAR["steps"].show(sb)
    return cfg, same, hps


@st.cache_resource(show_spinner=False, max_entries=16)
def custom_surface(text, width):
    return typed_surfaces.surface(text, half_width=width)


def surface_of(surface_id):
    """The surface named by (key, formula, width): built in, or a typed formula (cached)."""
    key, text, width = surface_id
    return SURFACES[key] if key != "custom" else custom_surface(text, float(width))


def load_surface(cfg):
    """(surface id, surface), or (id, None) after saying what is wrong with a typed formula."""
    surface_id = (cfg["surface"], cfg.get("expr"), cfg.get("width"))
    try:
        return surface_id, surface_of(surface_id)
    except typed_surfaces.ExprError as err:
        st.error(t(f"err_{err.key}", **err.params))
        return surface_id, None


def start_inputs(domain):
    """The start point's boxes, drawn on every run (a widget left out of a run loses its value)."""
    (xa, xb), (ya, yb) = domain
    # Handed to the browser on every run, not only on the first: a tab reloaded into its old
    # session (Streamlit keeps it for a while) could draw the boxes anew from their default, the
    # domain's minimum, while the paths started at the value kept here (−10/−4 shown, (−8, 3) used).
    for key in ("sx", "sy"):
        st.session_state[key] = st.session_state[key]
    c1, c2, _ = st.columns([1, 1, 2])
    return (c1.number_input(t("start_x"), float(xa), float(xb), key="sx", format="%.4g"),
            c2.number_input(t("start_y"), float(ya), float(yb), key="sy", format="%.4g"))


def settings_key(value) -> str:
    """A cache key for settings (dicts of numbers, strings and dicts)."""
    return json.dumps(value, sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=16)
def every_path(surface_id, settings_key, _settings, start, steps, phone: bool = False):
    surface = surface_of(surface_id)
    fstar = path_frames.lowest_value(surface)
    paths, rates, runs = path_frames.trajectory_table(surface, start, steps, _settings, fstar)
    aspects = path_frames.PHONE_ASPECTS if phone else path_frames.SCREEN_ASPECTS
    return paths, rates, runs, path_frames.grid_frame(surface, fstar, aspects)


@st.cache_data(show_spinner=False, max_entries=64)
def torch_path(surface_id, hp_key, name, _hp, start, steps):
    return descent.torch_trajectory(name, surface_of(surface_id), start, steps, **_hp)


def controls_panel(names, same, steps):
    """α (shared or each optimizer's), each β or β₁, the step and Play, in the browser."""
    controls, texts = [], {}
    alpha = [t("live_alpha", lr=v) for v in LRS]
    for name in ([None] if same else names):
        cid = charts.lr_id(name)
        controls.append(browser_controls.Control(cid, "range", key="lr" if name is None else f"lr_{name}", options=LRS))
        texts[cid] = {"label": "α" if name is None else t("lr_of", name=opt_label(name)), "texts": alpha,
                      "max": len(LRS) - 1}
    for name in names:
        field = optimizers.get(name).slider
        if field:
            cid = charts.beta_id(name)
            controls.append(browser_controls.Control(cid, "range", key=f"{field}_{name}", options=BETAS))
            texts[cid] = {"label": f"{t(field)} · {opt_label(name)}", "texts": [f"{v:g}" for v in BETAS],
                          "max": len(BETAS) - 1}
    controls.append(browser_controls.Control(charts.STEP_ID, "range", key="step", wide=True))
    texts[charts.STEP_ID] = {"label": t("step_now"), "template": t("step_of"), "max": steps}
    controls.append(browser_controls.Control("opt-play", "play", target=charts.STEP_ID,
                                 seconds=min(8.0, max(3.0, steps / 30))))
    texts["opt-play"] = {"play": t("play"), "pause": t("pause")}
    browser_controls.panel("opt", tuple(controls), texts, key="opt_live")
    st.caption(t("live_hint"))
