"""Altair chart builders. Inputs are tidy pandas frames; labels arrive already translated."""

from __future__ import annotations

import altair as alt
import pandas as pd

# vega-embed reads this from the spec: canvas draws thousands of points far faster than SVG.
CANVAS = {"embedOptions": {"renderer": "canvas"}}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
DASHES = [[1, 0], [6, 3], [2, 2]]


def _x(temporal: bool, title: str):
    return alt.X("x:T" if temporal else "x:Q", title=title)


def smoothing_chart(raw: pd.DataFrame, curves: pd.DataFrame, *, temporal: bool, x_title: str,
                    y_title: str, curve_title: str, variant_title: str, raw_label: str,
                    variant_order: list[str], curve_order: list[str], height: int = 380) -> alt.LayerChart:
    """Raw points (grey) with one line per (β, variant): colour = β, dash = variant.

    ``raw``: columns x, value. ``curves``: columns x, curve, variant, value.
    """
    x = _x(temporal, x_title)
    points = alt.Chart(raw).mark_circle(size=12, opacity=0.45, color="#888").encode(
        x, alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("x:T" if temporal else "x:Q", title=x_title),
                 alt.Tooltip("value:Q", title=raw_label, format=".4g")],
    )
    lines = alt.Chart(curves).mark_line(strokeWidth=2.2).encode(
        x, y=alt.Y("value:Q"),
        color=alt.Color("curve:N", title=curve_title, scale=alt.Scale(domain=curve_order, range=PALETTE)),
        strokeDash=alt.StrokeDash("variant:N", title=variant_title,
                                  scale=alt.Scale(domain=variant_order, range=DASHES[:len(variant_order)])),
        detail="series:N",
        tooltip=[alt.Tooltip("x:T" if temporal else "x:Q", title=x_title),
                 alt.Tooltip("curve:N", title=curve_title), alt.Tooltip("variant:N", title=variant_title),
                 alt.Tooltip("value:Q", format=".4g")],
    )
    return alt.layer(points, lines).properties(height=height, usermeta=CANVAS).interactive(bind_y=False)


def weights_chart(weights: pd.DataFrame, marks: pd.DataFrame, *, x_title: str, y_title: str,
                  curve_title: str, mark_label: str, curve_order: list[str], height: int = 260) -> alt.LayerChart:
    """Weight (1−β)βᵏ against k for each β; ``marks`` holds the 1/e point per β (columns k, weight, curve)."""
    color = alt.Color("curve:N", title=curve_title, scale=alt.Scale(domain=curve_order, range=PALETTE))
    area = alt.Chart(weights).mark_area(opacity=0.25, interpolate="step-after").encode(
        alt.X("k:Q", title=x_title), alt.Y("weight:Q", title=y_title, stack=None), color=color)
    line = alt.Chart(weights).mark_line(interpolate="step-after").encode(
        x="k:Q", y="weight:Q", color=color,
        tooltip=[alt.Tooltip("curve:N", title=curve_title), "k:Q", alt.Tooltip("weight:Q", format=".4f")])
    pts = alt.Chart(marks).mark_point(size=90, filled=True, shape="diamond").encode(
        x="k:Q", y="weight:Q", color=color,
        tooltip=[alt.Tooltip("curve:N", title=curve_title), alt.Tooltip("k:Q", title=mark_label, format=".1f"),
                 alt.Tooltip("weight:Q", format=".4f")])
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3]).encode(x="k:Q", color=color)
    return alt.layer(area, line, rules, pts).properties(height=height, usermeta=CANVAS)


def lag_chart(curves: pd.DataFrame, *, x_title: str, y_title: str, curve_title: str, input_label: str,
              curve_order: list[str], height: int = 260) -> alt.Chart:
    """Step input (grey, labelled ``input_label``) and its EWMAs: columns x, value, curve."""
    return alt.Chart(curves).mark_line(interpolate="linear").encode(
        alt.X("x:Q", title=x_title), alt.Y("value:Q", title=y_title),
        color=alt.Color("curve:N", title=curve_title, scale=alt.Scale(domain=[input_label] + curve_order,
                                                                  range=["#888"] + PALETTE)),
        tooltip=[alt.Tooltip("curve:N", title=curve_title), "x:Q", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)


def contour_chart(cells: pd.DataFrame, paths: pd.DataFrame, minima: pd.DataFrame, *, x_title: str,
                  y_title: str, loss_title: str, opt_title: str, opt_order: list[str], domain,
                  height: int = 460) -> alt.LayerChart:
    """Filled-contour heatmap of log-loss (clickable: selection "start"), minima, paths, current points.

    ``cells``: cx, cy, x0, x1, y0, y1, f, z. ``paths``: optimizer, step, x, y, loss (up to the current step).
    """
    (xa, xb), (ya, yb) = domain
    xs, ys = alt.Scale(domain=[xa, xb], nice=False), alt.Scale(domain=[ya, yb], nice=False)
    pick = alt.selection_point(name="start", on="click", fields=["cx", "cy"], clear=False)
    bands = alt.Scale(type="quantize", scheme={"name": "viridis", "count": 14})  # filled contour bands
    heat = alt.Chart(cells).mark_rect().encode(
        x=alt.X("x0:Q", title=x_title, scale=xs), x2="x1:Q",
        y=alt.Y("y0:Q", title=y_title, scale=ys), y2="y1:Q",
        color=alt.Color("z:Q", title=loss_title, scale=bands, legend=alt.Legend(format=".1f")),
        stroke=alt.Color("z:Q", scale=bands, legend=None),  # stroke = fill hides the seams between cells
        tooltip=[alt.Tooltip("cx:Q", title=x_title, format=".3g"), alt.Tooltip("cy:Q", title=y_title, format=".3g"),
                 alt.Tooltip("f:Q", title="f", format=".4g")],
    ).add_params(pick)
    colour = alt.Color("optimizer:N", title=opt_title, scale=alt.Scale(domain=opt_order, range=PALETTE))
    lines = alt.Chart(paths).mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=14)).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys), color=colour, order="step:Q",
        tooltip=["optimizer:N", "step:Q", alt.Tooltip("x:Q", format=".4g"), alt.Tooltip("y:Q", format=".4g"),
                 alt.Tooltip("loss:Q", format=".4g")])
    last = paths.sort_values("step").groupby("optimizer", as_index=False).tail(1)
    heads = alt.Chart(last).mark_point(size=140, filled=True, stroke="white", strokeWidth=1.5).encode(
        x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys),
        color=alt.Color("optimizer:N", scale=alt.Scale(domain=opt_order, range=PALETTE), legend=None))
    mins = alt.Chart(minima).mark_point(shape="cross", size=220, color="white", filled=True, stroke="black",
                                        strokeWidth=0.8).encode(x=alt.X("x:Q", scale=xs), y=alt.Y("y:Q", scale=ys))
    return alt.layer(heat, mins, lines, heads).properties(height=height, usermeta=CANVAS)


def step_chart(df: pd.DataFrame, field: str, *, y_title: str, x_title: str, opt_title: str,
               opt_order: list[str], log: bool, height: int = 240) -> alt.Chart:
    """One line per optimizer of ``field`` against step (loss with log y, or the learning rate)."""
    y = alt.Y(f"{field}:Q", title=y_title, scale=alt.Scale(type="log") if log else alt.Scale(zero=False))
    return alt.Chart(df).mark_line().encode(
        x=alt.X("step:Q", title=x_title), y=y,
        color=alt.Color("optimizer:N", title=opt_title, scale=alt.Scale(domain=opt_order, range=PALETTE)),
        tooltip=["optimizer:N", "step:Q", alt.Tooltip(f"{field}:Q", format=".4g")],
    ).properties(height=height, usermeta=CANVAS)
