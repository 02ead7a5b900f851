"""Optimizer trajectories: widgets and layout only; the maths is in bnviz.optimizers / bnviz.opt_frames."""

import pandas as pd
import streamlit as st

from bnviz import expr, opt_frames, optimizers
from bnviz.surfaces import SURFACES
from bnviz.ui import charts
from bnviz.ui import urlstate
from bnviz.ui.common import guarded
from bnviz.ui.classroom import present
from bnviz.ui.i18n import t
from bnviz.ui.shell import ensure_entrypoint

ensure_entrypoint()

SURFACE_KEYS = (*SURFACES, "custom")
BETAS = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999]
EPS = [1e-10, 1e-8, 1e-6, 1e-4, 1e-2]
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
PLAY_FRAMES = 40


def opt_label(name):
    return t(f"opt_{name}")


def _set(**values):
    st.session_state.update(values)


def apply_preset():
    key = st.session_state.get("preset")
    if key not in opt_frames.PRESETS:
        return
    p = opt_frames.PRESETS[key]
    values = {"surf": p["surface"], "opts": list(p["optimizers"]), "steps": p["steps"],
              "sx": float(p["start"][0]), "sy": float(p["start"][1]), "noise": float(p.get("noise", 0.0)),
              "bs": int(p.get("batch_size", 1)), "sched": p.get("schedule", {}).get("kind", "constant"),
              "sk": float(p.get("schedule", {}).get("k", 1.0)), "step": p["steps"], "playing": False}
    if "lrs" in p:
        values["same"] = False
        values.update({f"lr_{name}": lr for name, lr in p["lrs"].items()})
    else:
        values.update(same=True, lr=p["lr"])
    _set(**values)


def on_surface_change():
    s = SURFACES.get(st.session_state["surf"])
    if s is not None:
        _set(sx=float(s.start[0]), sy=float(s.start[1]), lr=min(opt_frames.LRS, key=lambda v: abs(v - s.lr)))


def on_click():
    picked = (st.session_state.get("contour") or {}).get("selection", {}).get("start") or []
    if picked:
        # The chart lives in a fragment: flag a full rerun so the paths are recomputed from the new start.
        _set(sx=float(picked[0]["cx"]), sy=float(picked[0]["cy"]), step=st.session_state.get("steps", 150),
             app_rerun=True)


def toggle_play():
    playing = not st.session_state.get("playing", False)
    if playing and st.session_state.get("step", 0) >= st.session_state.get("steps", 150):
        st.session_state["step"] = 0
    # The fragment's timer is set when the whole page runs, so starting or stopping needs a full rerun.
    _set(playing=playing, app_rerun=True)


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
    urlstate.init("lr", min(opt_frames.LRS, key=lambda v: abs(v - default.lr)), urlstate.choice(opt_frames.LRS))
    shared_lr = sb.select_slider(t("lr"), opt_frames.LRS, key="lr", format_func=lambda v: f"{v:g}") if same else None

    hps = {}
    for name in names:
        hp = {}
        with sb.expander(t("hp_of", name=opt_label(name)), expanded=not same):
            if not same:
                urlstate.init(f"lr_{name}", optimizers.DEFAULTS[name]["lr"] if optimizers.DEFAULTS[name]["lr"] in opt_frames.LRS else 0.1,
                         urlstate.choice(opt_frames.LRS))
                hp["lr"] = st.select_slider(t("lr_of", name=opt_label(name)), opt_frames.LRS, key=f"lr_{name}",
                                            format_func=lambda v: f"{v:g}")
            else:
                hp["lr"] = shared_lr
            defaults = optimizers.DEFAULTS[name]
            for field, options, label in (("beta", BETAS, "beta"), ("beta1", BETAS, "beta1"),
                                          ("beta2", BETAS, "beta2"), ("eps", EPS, "eps")):
                if field in defaults:
                    urlstate.init(f"{field}_{name}", defaults[field], urlstate.choice(options))
                    hp[field] = st.select_slider(t(label), options, key=f"{field}_{name}",
                                                 format_func=lambda v: f"{v:g}")
            if "bias_correction" in defaults:
                urlstate.init(f"bc_{name}", True, urlstate.choice((True, False)))
                hp["bias_correction"] = st.checkbox(t("bias_correction"), key=f"bc_{name}")
            if name == "adamw":
                urlstate.init("wd_adamw", 0.01, urlstate.choice((0.0, 0.001, 0.01, 0.1)))
                hp["weight_decay"] = st.select_slider(t("weight_decay"), (0.0, 0.001, 0.01, 0.1), key="wd_adamw")
            st.latex(optimizers.LATEX[name])
        hps[name] = hp

    urlstate.init("sched", "constant", urlstate.choice(optimizers.SCHEDULES))
    kind = sb.selectbox(t("schedule"), optimizers.SCHEDULES, format_func=lambda k: t(f"sched_{k}"), key="sched")
    schedule = None
    if kind != "constant":
        schedule = {"kind": kind}
        if kind in ("inverse", "sqrt"):
            urlstate.init("sk", 1.0 if kind == "sqrt" else 0.05, urlstate.choice((0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 2.0)))
            schedule["k"] = sb.select_slider(t("sched_k"), (0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 2.0), key="sk")
        if kind == "staircase":
            urlstate.init("sgamma", 0.5, urlstate.choice((0.1, 0.25, 0.5, 0.75, 0.9)))
            urlstate.init("severy", 20, urlstate.int_range(1, 1000))
            schedule["gamma"] = sb.select_slider(t("sched_gamma"), (0.1, 0.25, 0.5, 0.75, 0.9), key="sgamma")
            schedule["every"] = sb.number_input(t("sched_every"), 1, 1000, key="severy")
        urlstate.init("spe", 1, urlstate.int_range(1, 1000))
        schedule["steps_per_epoch"] = sb.number_input(t("steps_per_epoch"), 1, 1000, key="spe")
        sb.latex(optimizers.SCHEDULE_LATEX[kind])
        sb.caption(t("explain_schedule"))

    urlstate.init("noise", 0.0, urlstate.choice((0.0, 0.1, 0.5, 1.0, 2.0, 5.0)))
    noise = sb.select_slider(t("noise"), (0.0, 0.1, 0.5, 1.0, 2.0, 5.0), key="noise", help=t("noise_help"))
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
    return cfg, hps


@st.cache_resource(show_spinner=False, max_entries=16)
def custom_surface(text, width):
    return expr.surface(text, half_width=width)


def load_surface(cfg):
    if cfg["surface"] != "custom":
        return SURFACES[cfg["surface"]]
    try:
        return custom_surface(cfg["expr"], float(cfg["width"]))
    except expr.ExprError as err:
        st.error(t(f"err_{err.key}", **err.params))
        st.stop()


def _freeze(hp):
    return tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in hp.items()))


@st.cache_data(show_spinner=False, max_entries=64)
def compute(surface_id, _surface, name, frozen_hp, start, steps, form):
    hp = {k: dict(v) if isinstance(v, tuple) else v for k, v in frozen_hp}
    if form == "torch":
        return optimizers.torch_trajectory(name, _surface, start, steps, **hp)
    return optimizers.run(name, _surface, start, steps, **hp)


st.title(t("opt_title"))
st.caption(t("opt_intro"))
cfg, hps = sidebar()
surface = load_surface(cfg)
surface_id = (cfg["surface"], cfg.get("expr"), cfg.get("width"))
(xa, xb), (ya, yb) = surface.domain
urlstate.init("sx", float(surface.start[0]), urlstate.float_range(xa, xb))
urlstate.init("sy", float(surface.start[1]), urlstate.float_range(ya, yb))
c1, c2, _ = st.columns([1, 1, 2])
sx = c1.number_input(t("start_x"), float(xa), float(xb), key="sx", format="%.4g")
sy = c2.number_input(t("start_y"), float(ya), float(yb), key="sy", format="%.4g")
st.latex(surface.latex if cfg["surface"] != "custom" else "f(x,y) = " + cfg["expr"].replace("**", "^"))

steps = cfg["steps"]
runs = {name: compute(surface_id, surface, name, _freeze(hp), (sx, sy), steps, "course") for name, hp in hps.items()}
order = [opt_label(n) for n in hps]
for name, r in runs.items():
    if r.diverged_at is not None:
        st.warning(t("diverged_msg", name=opt_label(name), k=r.diverged_at))
cells, offset = opt_frames.grid_frame(surface, 70)
minima = pd.DataFrame(surface.minima or [], columns=["x", "y"])


def step_or_never(v):
    return t("never") if v is None or pd.isna(v) else str(int(v))


def labelled(df):
    df = df.copy()
    df["optimizer"] = df["optimizer"].map(opt_label)
    return df


if "step" not in st.session_state or st.session_state["step"] > steps:
    st.session_state["step"] = steps
st.session_state.setdefault("playing", False)


@st.fragment(run_every=0.25 if st.session_state["playing"] else None)
def live_view():
    if st.session_state.pop("app_rerun", False):
        st.rerun(scope="app")
    if st.session_state["playing"]:
        st.session_state["step"] = min(st.session_state["step"] + max(1, steps // PLAY_FRAMES), steps)
        if st.session_state["step"] >= steps:
            _set(playing=False, app_rerun=True)  # the last frame is drawn, then the timer stops
    with guarded():  # a fragment rerun does not pass through the page's own guards
        left, right = st.columns([5, 1], vertical_alignment="bottom")
        upto = left.slider(t("step_now"), 0, steps, key="step")
        playing = st.session_state["playing"]
        right.button(t("pause") if playing else t("play"), on_click=toggle_play, width="stretch",
                     icon=":material/pause:" if playing else ":material/play_arrow:")
        paths = labelled(opt_frames.paths_frame(surface, runs, upto, offset))
        st.altair_chart(present(charts.contour_chart(cells, paths, minima, x_title=t("axis_x"), y_title=t("axis_y"),
                                                     loss_title=t("axis_loss"), opt_title=t("legend_opt"),
                                                     opt_order=order, domain=surface.domain)),
                        key="contour", on_select=on_click, selection_mode="start", width="stretch")
        st.subheader(t("loss_header"))
        st.altair_chart(present(charts.step_chart(paths, "gap", y_title=t("axis_loss"), x_title=t("axis_step"),
                                                  opt_title=t("legend_opt"), opt_order=order, log=True)),
                        width="stretch")


live_view()

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
        st.altair_chart(present(charts.step_chart(labelled(opt_frames.lr_frame(runs)), "lr", y_title=t("axis_lr"),
                                                  x_title=t("axis_step"), opt_title=t("legend_opt"), opt_order=order,
                                                  log=False)), width="stretch")
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
            ref = compute(surface_id, surface, name, _freeze(hp), (sx, sy), steps, "torch")
            st.code(code, language="python")
            st.caption(t("torch_dev", dev=optimizers.max_deviation(ref, runs[name].path)))
