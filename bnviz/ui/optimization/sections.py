"""The optimizer page's parts: the surface and the start, every path the sliders can pick, the
surface with the paths, the loss, the table, the formulas and the ``torch.optim`` form."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from bnviz.optimization import descent, optimizers, path_frames, typed_surfaces
from bnviz.optimization.surfaces import Surface
from bnviz.ui import urlstate
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import t
from bnviz.ui.optimization import charts, controls
from bnviz.ui.page import guarded, narrow_screen
from bnviz.ui.vega import vega_spec


@dataclass(frozen=True)
class Paths:
    """Everything the page draws of one setting: the surface, the start and the steps, every
    path the sliders can pick (``paths``, ``rates``), the runs as set and the heatmap's cells."""

    surface_id: tuple
    surface: Surface
    start: tuple
    steps: int
    hps: dict
    names: list
    same: bool
    paths: pd.DataFrame
    rates: pd.DataFrame
    runs: dict
    cells: pd.DataFrame
    labels: dict


def surface_and_start(cfg: dict) -> tuple:
    """(surface id, surface or None, start): the surface's formula and the start point's boxes;
    a typed formula that cannot be used says why and stops the page, every setting kept."""
    surface_id, surface = controls.load_surface(cfg)
    # A typed surface's square needs no formula: the start's boxes are drawn even for a bad one.
    shape = surface or typed_surfaces.square(float(cfg.get("width") or 3.0))
    (xa, xb), (ya, yb) = shape.domain
    urlstate.init("sx", float(shape.start[0]), urlstate.float_range(xa, xb))
    urlstate.init("sy", float(shape.start[1]), urlstate.float_range(ya, yb))
    urlstate.init("step", cfg["steps"], urlstate.int_range(0, 1000))
    st.session_state["step"] = min(st.session_state["step"], cfg["steps"])
    start = controls.start_inputs(shape.domain)
    if surface is None:
        st.stop()  # the error is on screen; every setting is kept for the corrected formula
    st.latex(surface.latex if cfg["surface"] != "custom" else typed_surfaces.latex(cfg["expr"]))
    return surface_id, surface, start


def every_path(cfg: dict, same: bool, hps: dict, surface_id: tuple, surface: Surface, start: tuple) -> Paths:
    """Every path of every optimizer shown, computed once (cached), with their labels."""
    steps = cfg["steps"]
    paths, rates, runs, cells = controls.every_path(surface_id, controls.settings_key(hps), hps, start, steps,
                                                    narrow_screen())
    labels = {name: controls.opt_label(name) for name in optimizers.OPTIMIZERS}
    paths, rates = paths.assign(label=paths.optimizer.map(labels)), rates.assign(label=rates.optimizer.map(labels))
    if not hps:
        st.info(t("opt_none"))
    return Paths(surface_id, surface, start, steps, hps, list(hps), same, paths, rates, runs, cells, labels)


def _chart(builder, data: dict, p: Paths, **options) -> dict:
    return present(vega_spec(builder, data, names=p.names, same=p.same, labels=p.labels, opt_title=t("legend_opt"),
                             **options))


def surface_chart(where, p: Paths) -> None:
    """The surface as a heatmap with every path on it; a click moves the start."""
    minima = pd.DataFrame(p.surface.minima or [], columns=["x", "y"])
    data = {"cells": p.cells, "paths": charts.paths_for(p.paths, charts.CONTOUR_COLUMNS), "minima": minima}
    where.vega_lite_chart(_chart(charts.contour_chart, data, p,
                                 domain=p.surface.domain, colours=path_frames.colour_range(p.cells, p.surface.domain),
                                 x_title=t("axis_x"), y_title=t("axis_y"),
                                 loss_title=t("axis_log_gap")),
                          key="contour", on_select=functools.partial(controls.on_click, p.surface.domain),
                          selection_mode="start", width="stretch")


def divergence(p: Paths) -> None:
    """A warning for each optimizer that diverged as set, under the chart: above the sliders it
    pushed them down as the finger let go of one."""
    for name, r in p.runs.items():
        if r.diverged_at is not None:
            st.warning(t("diverged_msg", name=controls.opt_label(name), k=r.diverged_at))


def loss(p: Paths) -> None:
    st.subheader(t("loss_header"))
    st.caption(t("loss_gap_explain", fstar=f"{path_frames.lowest_value(p.surface):.6g}"))
    data = {"paths": charts.paths_for(p.paths, charts.LOSS_COLUMNS)}
    st.vega_lite_chart(_chart(charts.loss_chart, data, p, x_title=t("axis_step"), y_title=t("axis_gap")),
                       width="stretch", key="opt_chart_loss")


def _step_or_never(v) -> str:
    return t("never") if v is None or pd.isna(v) else str(int(v))


def table(p: Paths) -> None:
    """Each optimizer's final loss, steps to the minimum, divergence; the schedule; the CSV."""
    frame = path_frames.summary_frame(p.surface, p.runs)
    st.dataframe(pd.DataFrame({
        t("col_opt"): frame["optimizer"].map(controls.opt_label),
        t("col_final"): frame["final_loss"].map(lambda v: f"{v:.4g}"),
        t("col_reach"): frame["steps_to_min"].map(_step_or_never),
        t("col_diverged"): frame["diverged_at"].map(_step_or_never),
    }), hide_index=True)
    if any(hp.get("schedule") for hp in p.hps.values()):
        st.subheader(t("lr_header"))
        st.vega_lite_chart(_chart(charts.lr_chart, {"rates": p.rates}, p, x_title=t("axis_step"),
                                  y_title=t("axis_lr")), width="stretch", key="opt_chart_lr")
    st.download_button(t("download_paths"), lambda: path_frames.export_frame(p.surface, p.runs).to_csv(index=False),
                       file_name="bnviz_trajectories.csv", mime="text/csv", icon=":material/download:")


def formulas(p: Paths) -> None:
    st.subheader(t("formulas_opt"))
    for name in p.hps:
        st.markdown(f"**{controls.opt_label(name)}**")
        st.latex(optimizers.get(name).latex)


def torch_form(p: Paths) -> None:
    """On request: each optimizer as the ``torch.optim`` call a student can paste, and how far
    that run strays from the course form's."""
    urlstate.init("torch", False, urlstate.choice((True, False)))
    if not st.toggle(t("torch_form"), key="torch"):
        return
    with guarded():
        st.subheader(t("torch_header"))
        st.caption(t("torch_text"))
        for name, hp in p.hps.items():
            try:
                code = optimizers.torch_call(name, **hp)
            except ValueError:
                st.info(f"{controls.opt_label(name)}: {t('torch_none')}")
                continue
            ref = controls.torch_path(p.surface_id, controls.settings_key(hp), name, hp, p.start, p.steps)
            st.code(code, language="python")
            st.caption(t("torch_dev", dev=descent.max_deviation(ref, p.runs[name].path)))
