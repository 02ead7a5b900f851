"""Optimizer trajectories: widgets and layout only; the maths is in bnviz.optimizers / bnviz.opt_frames.

α, each optimizer's β (β₁), the step and Play act in the browser: the server computes the path
of every value on those sliders' grids once (bnviz.opt_frames.trajectory_table), the charts pick.
"""

import json

import pandas as pd
import streamlit as st

from bnviz import expr, opt_frames, optimizers
from bnviz.surfaces import SURFACES
from bnviz.ui import live, opt_charts, urlstate
from bnviz.ui.classroom import present
from bnviz.ui.common import guarded
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

SURFACE_KEYS = (*SURFACES, "custom")
LRS, BETAS = opt_frames.LRS, opt_frames.BETAS
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
    if key not in opt_frames.PRESETS:
        return
    p = opt_frames.PRESETS[key]
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


def on_click():
    picked = (st.session_state.get("contour") or {}).get("selection", {}).get("start") or []
    if picked:
        st.session_state.update(sx=float(picked[0]["cx"]), sy=float(picked[0]["cy"]),
                                step=st.session_state.get("steps", 150))


def sidebar():
    sb = st.sidebar
    sb.selectbox(t("preset"), ["none", *opt_frames.PRESETS], key="preset",
                 format_func=lambda k: t(f"preset_{k}") if k != "none" else t("preset_none"))
    sb.button(t("preset_apply"), on_click=apply_preset, width="stretch", disabled=st.session_state["preset"] == "none")

    urlstate.init("surf", "valley", urlstate.choice(SURFACE_KEYS))
    surf = sb.selectbox(t("surface"), SURFACE_KEYS, format_func=lambda k: t(f"surf_{k}"), key="surf",
                        on_change=on_surface_change)
    cfg = {"surface": surf}
    if surf == "custom":
        urlstate.init("expr", "x**2/4 + y**2 - cos(3*x)", urlstate.text(expr.MAX_LENGTH))
        urlstate.init("width", 3.0, urlstate.float_range(0.1, 100.0))
        cfg["expr"] = sb.text_input(t("custom_expr"), key="expr", max_chars=expr.MAX_LENGTH, help=t("custom_help"))
        cfg["width"] = sb.number_input(t("custom_width"), 0.1, 100.0, key="width")
    default = SURFACES.get(surf, SURFACES["valley"])

    urlstate.init("opts", ["gd", "momentum"], urlstate.choices(optimizers.OPTIMIZERS))
    names = sb.multiselect(t("optimizers"), optimizers.OPTIMIZERS, format_func=opt_label, key="opts")
    urlstate.init("same", True, urlstate.choice((True, False)))
    same = sb.toggle(t("same_lr"), key="same", help=t("same_lr_help"))
    urlstate.init("lr", min(LRS, key=lambda v: abs(v - default.lr)), urlstate.choice(LRS))

    hps = {}
    for name in names:
        defaults = optimizers.DEFAULTS[name]
        urlstate.init(f"lr_{name}", defaults["lr"] if defaults["lr"] in LRS else 0.1, urlstate.choice(LRS))
        hp = {"lr": st.session_state["lr" if same else f"lr_{name}"]}
        field = opt_frames.beta_field(name)
        if field:
            urlstate.init(f"{field}_{name}", defaults[field], urlstate.choice(BETAS))
            hp[field] = st.session_state[f"{field}_{name}"]
        with sb.expander(t("hp_of", name=opt_label(name))):
            if "beta2" in defaults:
                urlstate.init(f"beta2_{name}", defaults["beta2"], urlstate.choice(BETAS))
                hp["beta2"] = st.select_slider(t("beta2"), BETAS, key=f"beta2_{name}", format_func=lambda v: f"{v:g}")
            if "eps" in defaults:
                urlstate.init(f"eps_{name}", defaults["eps"], urlstate.choice(EPS))
                hp["eps"] = st.select_slider(t("eps"), EPS, key=f"eps_{name}", format_func=lambda v: f"{v:g}")
            if "bias_correction" in defaults:
                urlstate.init(f"bc_{name}", True, urlstate.choice((True, False)))
                hp["bias_correction"] = st.checkbox(t("bias_correction"), key=f"bc_{name}")
            if name == "adamw":
                urlstate.init("wd_adamw", 0.01, urlstate.choice(WEIGHT_DECAY))
                hp["weight_decay"] = st.select_slider(t("weight_decay"), WEIGHT_DECAY, key="wd_adamw")
            st.latex(optimizers.LATEX[name])
        hps[name] = hp

    urlstate.init("sched", "constant", urlstate.choice(optimizers.SCHEDULES))
    kind = sb.selectbox(t("schedule"), optimizers.SCHEDULES, format_func=lambda k: t(f"sched_{k}"), key="sched")
    schedule = None
    if kind != "constant":
        schedule = {"kind": kind}
        if kind in ("inverse", "sqrt"):
            urlstate.init("sk", 1.0 if kind == "sqrt" else 0.05, urlstate.choice(DECAY_K))
            schedule["k"] = sb.select_slider(t("sched_k"), DECAY_K, key="sk")
        if kind == "staircase":
            urlstate.init("sgamma", 0.5, urlstate.choice(STAIR))
            urlstate.init("severy", 20, urlstate.int_range(1, 1000))
            schedule["gamma"] = sb.select_slider(t("sched_gamma"), STAIR, key="sgamma")
            schedule["every"] = sb.number_input(t("sched_every"), 1, 1000, key="severy")
        urlstate.init("spe", 1, urlstate.int_range(1, 1000))
        schedule["steps_per_epoch"] = sb.number_input(t("steps_per_epoch"), 1, 1000, key="spe")
        sb.latex(optimizers.SCHEDULE_LATEX[kind])
        sb.caption(t("explain_schedule"))

    urlstate.init("noise", 0.0, urlstate.choice(NOISES))
    noise = sb.select_slider(t("noise"), NOISES, key="noise", help=t("noise_help"))
    common = {"schedule": schedule}
    if noise > 0:
        urlstate.init("bs", 1, urlstate.choice(BATCHES))
        urlstate.init("nseed", 0, urlstate.int_range(0, 10_000))
        common.update(noise=noise, batch_size=sb.select_slider(t("batch_size"), BATCHES, key="bs"),
                      seed=int(sb.number_input(t("seed"), 0, 10_000, key="nseed")))
        sb.latex(optimizers.LATEX["noise"])
    for hp in hps.values():
        hp.update(common)

    urlstate.init("steps", 150, urlstate.int_range(10, 1000))
    cfg["steps"] = sb.slider(t("steps"), 10, 1000, key="steps")
    return cfg, same, hps


@st.cache_resource(show_spinner=False, max_entries=16)
def custom_surface(text, width):
    return expr.surface(text, half_width=width)


def _surface_of(surface_id):
    """The surface named by (key, formula, width): built in, or a typed formula (cached)."""
    key, text, width = surface_id
    return SURFACES[key] if key != "custom" else custom_surface(text, float(width))


def load_surface(cfg):
    """(surface id, surface), or (id, None) after saying what is wrong with a typed formula."""
    surface_id = (cfg["surface"], cfg.get("expr"), cfg.get("width"))
    try:
        return surface_id, _surface_of(surface_id)
    except expr.ExprError as err:
        st.error(t(f"err_{err.key}", **err.params))
        return surface_id, None


def start_inputs(domain):
    """The start point's boxes, drawn on every run (a widget left out of a run loses its value)."""
    (xa, xb), (ya, yb) = domain
    c1, c2, _ = st.columns([1, 1, 2])
    return (c1.number_input(t("start_x"), float(xa), float(xb), key="sx", format="%.4g"),
            c2.number_input(t("start_y"), float(ya), float(yb), key="sy", format="%.4g"))


def _key(value) -> str:
    """A cache key for settings (dicts of numbers, strings and dicts)."""
    return json.dumps(value, sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=16)
def every_path(surface_id, settings_key, _settings, start, steps):
    surface = _surface_of(surface_id)
    fstar = opt_frames.lowest_value(surface)
    paths, rates, runs = opt_frames.trajectory_table(surface, start, steps, _settings, fstar)
    return paths, rates, runs, opt_frames.grid_frame(surface, fstar)


@st.cache_data(show_spinner=False, max_entries=64)
def torch_path(surface_id, hp_key, name, _hp, start, steps):
    return optimizers.torch_trajectory(name, _surface_of(surface_id), start, steps, **_hp)


def controls_panel(names, same, steps):
    """α (shared or each optimizer's), each β or β₁, the step and Play, in the browser."""
    controls, texts = [], {}
    alpha = [t("live_alpha", lr=v) for v in LRS]
    for name in ([None] if same else names):
        cid = opt_charts.lr_id(name)
        controls.append(live.Control(cid, "range", key="lr" if name is None else f"lr_{name}", options=LRS))
        texts[cid] = {"label": "α" if name is None else t("lr_of", name=opt_label(name)), "texts": alpha,
                      "max": len(LRS) - 1}
    for name in names:
        field = opt_frames.beta_field(name)
        if field:
            cid = opt_charts.beta_id(name)
            controls.append(live.Control(cid, "range", key=f"{field}_{name}", options=BETAS))
            texts[cid] = {"label": f"{t(field)} · {opt_label(name)}", "texts": [f"{v:g}" for v in BETAS],
                          "max": len(BETAS) - 1}
    controls.append(live.Control(opt_charts.STEP_ID, "range", key="step", wide=True))
    texts[opt_charts.STEP_ID] = {"label": t("step_now"), "template": t("step_of"), "max": steps}
    controls.append(live.Control("opt-play", "play", target=opt_charts.STEP_ID,
                                 seconds=min(8.0, max(3.0, steps / 30))))
    texts["opt-play"] = {"play": t("play"), "pause": t("pause")}
    live.panel("opt", tuple(controls), texts, key="opt_live")
    st.caption(t("live_hint"))


st.title(t("opt_title"))
st.caption(t("opt_intro"))
cfg, same, hps = sidebar()
names = list(hps)
surface_id, surface = load_surface(cfg)
shape = surface or expr.square(float(cfg.get("width") or 3.0))  # a typed surface's square needs no formula
(xa, xb), (ya, yb) = shape.domain
urlstate.init("sx", float(shape.start[0]), urlstate.float_range(xa, xb))
urlstate.init("sy", float(shape.start[1]), urlstate.float_range(ya, yb))
steps = cfg["steps"]
urlstate.init("step", steps, urlstate.int_range(0, 1000))
st.session_state["step"] = min(st.session_state["step"], steps)
sx, sy = start_inputs(shape.domain)
if surface is None:
    st.stop()  # the error is on screen; every setting is kept for the corrected formula
st.latex(surface.latex if cfg["surface"] != "custom" else "f(x,y) = " + cfg["expr"].replace("**", "^"))

paths, rates, runs, cells = every_path(surface_id, _key(hps), hps, (sx, sy), steps)
labels = {name: opt_label(name) for name in optimizers.OPTIMIZERS}
if not names:
    st.info(t("opt_none"))
for name, r in runs.items():
    if r.diverged_at is not None:
        st.warning(t("diverged_msg", name=opt_label(name), k=r.diverged_at))

with guarded():
    controls_panel(names, same, steps)
    minima = pd.DataFrame(surface.minima or [], columns=["x", "y"])
    st.altair_chart(present(opt_charts.contour_chart(
        cells, paths, minima, names=names, same=same, labels=labels, domain=surface.domain, x_title=t("axis_x"),
        y_title=t("axis_y"), loss_title=t("axis_log_gap"), opt_title=t("legend_opt"))),
        key="contour", on_select=on_click, selection_mode="start", width="stretch")
    if names:
        st.subheader(t("loss_header"))
        st.caption(t("loss_gap_explain", fstar=f"{opt_frames.lowest_value(surface):.6g}"))
        st.altair_chart(present(opt_charts.loss_chart(
            paths, names=names, same=same, labels=labels, x_title=t("axis_step"), y_title=t("axis_gap"),
            opt_title=t("legend_opt"))), width="stretch", key="opt_chart_loss")


def step_or_never(v):
    return t("never") if v is None or pd.isna(v) else str(int(v))


if names:
    with guarded():
        table = opt_frames.summary_frame(surface, runs)
        st.dataframe(pd.DataFrame({
            t("col_opt"): table["optimizer"].map(opt_label),
            t("col_final"): table["final_loss"].map(lambda v: f"{v:.4g}"),
            t("col_reach"): table["steps_to_min"].map(step_or_never),
            t("col_diverged"): table["diverged_at"].map(step_or_never),
        }), hide_index=True)
        if any(hp.get("schedule") for hp in hps.values()):
            st.subheader(t("lr_header"))
            st.altair_chart(present(opt_charts.lr_chart(
                rates, names=names, same=same, labels=labels, x_title=t("axis_step"), y_title=t("axis_lr"),
                opt_title=t("legend_opt"))), width="stretch", key="opt_chart_lr")
        st.download_button(t("download_paths"), lambda: opt_frames.export_frame(surface, runs).to_csv(index=False),
                           file_name="bnviz_trajectories.csv", mime="text/csv", icon=":material/download:")

    st.subheader(t("formulas_opt"))
    for name in hps:
        st.markdown(f"**{opt_label(name)}**")
        st.latex(optimizers.LATEX[name])

    urlstate.init("torch", False, urlstate.choice((True, False)))
    if st.toggle(t("torch_form"), key="torch"):
        with guarded():
            st.subheader(t("torch_header"))
            st.caption(t("torch_text"))
            for name, hp in hps.items():
                try:
                    code = optimizers.torch_call(name, **hp)
                except ValueError:
                    st.info(f"{opt_label(name)}: {t('torch_none')}")
                    continue
                ref = torch_path(surface_id, _key(hp), name, hp, (sx, sy), steps)
                st.code(code, language="python")
                st.caption(t("torch_dev", dev=optimizers.max_deviation(ref, runs[name].path)))
