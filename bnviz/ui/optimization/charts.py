"""Altair charts of the optimizer page that follow the live controls in the browser.

The tables carry a ``label`` column (the optimizer's name in the reader's language): Streamlit
evaluates Vega expressions with an interpreter, so nothing per row is computed in the browser.

Parameters, each bound to a control of the page's live panel: ``lr`` (the shared α position) or
``lr_<name>`` (each optimizer's), ``b_<name>`` (the β or β₁ position of an optimizer that has
one) and ``step``. The paths table holds every path the sliders can reach; a chart only picks
rows (:func:`picked`) and cuts them at the step. Axes have equal units, so gradients meet the
contours at right angles as they do on paper.
"""

from __future__ import annotations

import altair as alt

from bnviz.optimization.optimizers import get as optimizer
from bnviz.ui import browser_controls
from bnviz.ui.vega import CANVAS, PALETTE, text_as_categories

STEP_ID = "opt-step"

# The paths' columns each chart reads (encodings, filters, tooltips). The page sent both charts the
# whole table, ~6,000 rows, its names as text on every row: 398 KB each. Each now gets its own
# columns, the names as categories (an Arrow dictionary: each name once): 136 and 111 KB.
CONTOUR_COLUMNS = ("optimizer", "label", "li", "bi", "step", "x", "y", "loss")
LOSS_COLUMNS = ("optimizer", "label", "li", "bi", "step", "gap", "loss")


def paths_for(paths, columns: tuple[str, ...]):
    """The rows of ``paths`` with only ``columns``, the optimizers' names as categories."""
    return text_as_categories(paths[list(columns)])


def lr_id(name: str | None) -> str:
    """The α control of ``name``, or the shared one (None)."""
    return "opt-lr" if name is None else f"opt-lr-{name}"


def beta_id(name: str) -> str:
    return f"opt-b-{name}"


def param_names(names: list[str], same: bool) -> dict[str, str]:
    """Parameter name → control id, for these optimizers."""
    out = {"step": STEP_ID}
    if same:
        out["lr"] = lr_id(None)
    for name in names:
        if not same:
            out[f"lr_{name}"] = lr_id(name)
        if optimizer(name).slider:
            out[f"b_{name}"] = beta_id(name)
    return out


def picked(names: list[str], same: bool) -> str:
    """Expression: this row belongs to the path each optimizer's sliders select now (the
    positions are signals, see :func:`_params`, so a row costs three comparisons)."""
    return " || ".join(f"(datum.optimizer == '{n}' && datum.li == li_{n} && datum.bi == bi_{n})"
                       for n in names) or "false"


def _params(names, same, *only):
    """The bound parameters (all, or ``only`` these), then the positions they give as numbers:
    ``at`` (the step), ``li_<name>``, ``bi_<name>`` (−1 without a β slider)."""
    bound = [browser_controls.param(p, element) for p, element in param_names(names, same).items()
             if not only or p in only]
    have = {p.name for p in bound}
    numbers = [alt.param(name="at", expr="toNumber(step)")] if "step" in have else []
    for n in names:
        lr = "lr" if same else f"lr_{n}"
        if lr in have:
            numbers.append(alt.param(name=f"li_{n}", expr=f"toNumber({lr})"))
        if not only:
            numbers.append(alt.param(name=f"bi_{n}", expr=f"toNumber(b_{n})" if optimizer(n).slider else "-1"))
    return bound + numbers


def _equal_units(domain) -> tuple[alt.ExprRef, alt.ExprRef]:
    """x and y domains with the same units per pixel, wide enough for the whole ``domain``."""
    (xa, xb), (ya, yb) = domain
    xc, yc = (xa + xb) / 2, (ya + yb) / 2
    unit = f"max({xb - xa} / width, {yb - ya} / height)"
    return (alt.ExprRef(f"[{xc} - {unit} * width / 2, {xc} + {unit} * width / 2]"),
            alt.ExprRef(f"[{yc} - {unit} * height / 2, {yc} + {unit} * height / 2]"))


def _colour(order: list[str], title: str, legend: bool = True):
    """The optimizers' colours; only one layer of a chart lists them (the lines), or the legend says
    "optimizer" twice."""
    return alt.Color("label:N", title=title, scale=alt.Scale(domain=order, range=PALETTE),
                     legend=alt.Legend(orient="bottom") if legend else None)


def contour_chart(*, names: list[str],
                  same: bool, labels: dict[str, str], domain, x_title: str, y_title: str, loss_title: str,
                  opt_title: str, colours: tuple[float, float], height: int = 460) -> alt.LayerChart:
    """Filled-contour heatmap of log₁₀(f − f*) (dataset "cells": centres and half sizes; click:
    selection "start"), every path up to the step and each optimizer's current point ("paths"),
    the minima on top ("minima")."""
    xd, yd = _equal_units(domain)
    xs, ys = alt.Scale(domain=xd, nice=False, zero=False), alt.Scale(domain=yd, nice=False, zero=False)
    pick = alt.selection_point(name="start", on="click", fields=["cx", "cy"], clear=False)
    # Filled contour bands over ``colours`` (path_frames.colour_range); values beyond take the end bands.
    bands = alt.Scale(type="quantize", domain=list(colours), scheme={"name": "viridis", "count": 14})
    heat = alt.Chart(alt.NamedData("cells")).transform_calculate(
        x0="datum.cx - datum.hx", x1="datum.cx + datum.hx", y0="datum.cy - datum.hy", y1="datum.cy + datum.hy",
    ).mark_rect(clip=True).encode(
        x=alt.X("x0:Q", title=x_title, scale=xs), x2="x1:Q",
        y=alt.Y("y0:Q", title=y_title, scale=ys), y2="y1:Q",
        color=alt.Color("z:Q", title=loss_title, scale=bands, legend=alt.Legend(format=".1f")),
        stroke=alt.Color("z:Q", scale=bands, legend=None),  # stroke = fill hides the seams between cells
        tooltip=[alt.Tooltip("cx:Q", title=x_title, format=".3g"), alt.Tooltip("cy:Q", title=y_title, format=".3g"),
                 alt.Tooltip("f:Q", title="f", format=".4g")],
    ).add_params(pick)
    # The minima's crosses are drawn last, as outlines: a path that ends on one leaves it visible.
    mins = alt.Chart(alt.NamedData("minima")).mark_point(
        shape="cross", size=320, filled=False, color="white", strokeWidth=2.5,
    ).encode(x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys))
    order = [labels[n] for n in names]
    mine = alt.Chart(alt.NamedData("paths")).transform_filter(picked(names, same)).transform_filter("datum.step <= at")
    lines = mine.mark_line(strokeWidth=2.5, clip=True, point=alt.OverlayMarkDef(size=14, clip=True)).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys), color=_colour(order, opt_title), order="step:Q",
        detail="optimizer:N",
        tooltip=[alt.Tooltip("label:N", title=opt_title), "step:Q", alt.Tooltip("x:Q", format=".4g"),
                 alt.Tooltip("y:Q", format=".4g"), alt.Tooltip("loss:Q", format=".4g")])
    heads = mine.transform_joinaggregate(now="max(step)", groupby=["optimizer"]).transform_filter(
        "datum.step == datum.now").mark_point(size=140, filled=True, stroke="white", strokeWidth=1.5, clip=True).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys), color=_colour(order, opt_title, legend=False))
    return alt.layer(heat, lines, heads, mins).add_params(*_params(names, same)).properties(
        height=height, usermeta=CANVAS)


def loss_chart(*, names: list[str], same: bool, labels: dict[str, str], x_title: str,
               y_title: str, opt_title: str, height: int = 300) -> alt.LayerChart:
    """f − f* per step (log) of the paths the sliders pick (dataset "paths"), with the step marked. Pointing at a
    step moves the step everywhere (the selection is bound to the step control)."""
    order = [labels[n] for n in names]
    mine = alt.Chart(alt.NamedData("paths")).transform_filter(picked(names, same))
    hover = alt.selection_point(name="hover", fields=["step"], on="pointerover", nearest=True, clear=False,
                                bind=alt.BindDirect(element=f"#{STEP_ID}"))
    x, y = alt.X("step:Q", title=x_title), alt.Y("gap:Q", title=y_title, scale=alt.Scale(type="log"))
    lines = mine.mark_line().encode(x, y, color=_colour(order, opt_title), detail="optimizer:N")
    pointer = mine.mark_point(opacity=0, size=60).encode(
        x, y, tooltip=[alt.Tooltip("label:N", title=opt_title), "step:Q", alt.Tooltip("gap:Q", format=".3e"),
                       alt.Tooltip("loss:Q", format=".4g")]).add_params(hover)
    now = alt.Chart(alt.Data(values=[{"one": 1}])).transform_calculate(s="at").mark_rule(
        strokeDash=[4, 3], color="#555").encode(x="s:Q")
    dots = mine.transform_filter("datum.step <= at").transform_joinaggregate(
        now="max(step)", groupby=["optimizer"]).transform_filter("datum.step == datum.now").mark_point(
        size=70, filled=True).encode(x="step:Q", y="gap:Q", color=_colour(order, opt_title, legend=False))
    return alt.layer(lines, pointer, now, dots).add_params(*_params(names, same)).properties(
        height=height, usermeta=CANVAS)


def lr_chart(*, names: list[str], same: bool, labels: dict[str, str], x_title: str,
             y_title: str, opt_title: str, height: int = 220) -> alt.LayerChart:
    """The learning rate of each step under the decay schedule, for the α each slider picks
    (dataset "rates")."""
    order = [labels[n] for n in names]
    pick = " || ".join(f"(datum.optimizer == '{n}' && datum.li == li_{n})" for n in names) or "false"
    line = alt.Chart(alt.NamedData("rates")).transform_filter(pick).mark_line().encode(
        x=alt.X("step:Q", title=x_title), y=alt.Y("lr:Q", title=y_title), color=_colour(order, opt_title),
        tooltip=[alt.Tooltip("label:N", title=opt_title), "step:Q", alt.Tooltip("lr:Q", format=".4g")])
    return alt.layer(line).add_params(*_params(names, same, "lr", *[f"lr_{n}" for n in names])).properties(
        height=height, usermeta=CANVAS)
