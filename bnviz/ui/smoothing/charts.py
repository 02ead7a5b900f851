"""Altair charts of the EWMA page that follow the live controls in the browser.

Every chart carries the same parameters, each bound to one control of the page's live panel:
``b1``–``b3`` (the β positions of the three curves), ``nc`` (how many curves), ``vz``/``vc``/``vf``
(which variants are shown, 1 or 0) and, for the zoom, ``zoom`` (how many values). Expressions
only pick: a column by position, a row by ``i``, a label from a list the server made.

Streamlit evaluates Vega expressions with an interpreter, slowly, so per-row work is kept to one
lookup: what depends only on the controls (a column's name, a curve's label and colour, which
positions are on screen) is a parameter computed once per change (``s1``–``s3``, ``y…``).
"""

from __future__ import annotations

import json

import altair as alt

from bnviz.ui import browser_controls
from bnviz.ui.vega import CANVAS, DASHES

SLOTS = ("b1", "b2", "b3")
# One colour per β of the grid, from β = 0.5 (navy) to 0.999 (plum): smoother is warmer, and the
# same β keeps its colour whichever curve shows it. Dark enough for white and a projector.
BETA_COLOURS = ("#1b3a8c", "#2456b8", "#2b74d6", "#1f8fc4", "#16a2a0", "#128a5c", "#3e9a2a", "#6f9a16",
                "#9a8c0c", "#c27a0a", "#d9630f", "#e04a1a", "#d12f2a", "#b81d3b", "#96164d", "#74145c",
                "#4f1163")
VARIANT_PARAMS = {"zero": "vz", "corrected": "vc", "first": "vf"}
IDS = {"b1": "ewma-b1", "b2": "ewma-b2", "b3": "ewma-b3", "nc": "ewma-nc", "vz": "ewma-vz",
       "vc": "ewma-vc", "vf": "ewma-vf", "zoom": "ewma-zoom"}


def params(*names: str) -> list:
    return [browser_controls.param(name, IDS[name]) for name in names]


def _js(value) -> str:
    """A Python list or string as a literal inside a Vega expression."""
    return json.dumps(value, ensure_ascii=False)


def slot_params() -> list:
    """``s1``–``s3``: the β position of each curve on screen, −1 for a hidden one."""
    return [alt.param(name=f"s{slot}", expr=f"{shown(slot)} ? toNumber({p}) : -1")
            for slot, p in enumerate(SLOTS, 1)]


def shown(slot: int) -> str:
    """Expression: curve ``slot`` (1-based) is on screen."""
    return "true" if slot == 1 else f"toNumber(nc) >= {slot}"


def picked(field: str = "datum.i") -> str:
    """Expression: the β position in ``field`` is one of the curves on screen (see slot_params)."""
    return " || ".join(f"{field} == s{slot}" for slot in (1, 2, 3))


def beta_swatches(n: int) -> tuple[str, ...]:
    """The colour of each of the ``n`` β positions (the grid's own when it has 17)."""
    if n == len(BETA_COLOURS):
        return BETA_COLOURS
    return tuple(BETA_COLOURS[round(i * (len(BETA_COLOURS) - 1) / max(1, n - 1))] for i in range(n))


def shown_variants(variants: dict[str, str]) -> str:
    """Expression: the labels of the variants switched on (one list per on/off pattern)."""
    keys = list(variants)
    subsets = [[variants[k] for j, k in enumerate(keys) if mask >> j & 1] for mask in range(2 ** len(keys))]
    mask = " + ".join(f"{2 ** j} * toNumber({VARIANT_PARAMS[k]})" for j, k in enumerate(keys))
    return f"{_js(subsets)}[{mask}]"


def beta_colour(labels: list[str], title: str):
    """Colour by the field ``beta``, the same β keeping its colour in every slot and chart; the
    legend lists the β of the curves on screen."""
    visible = ", ".join(f"{_js(labels)}[toNumber({p})]" for p in SLOTS)
    return alt.Color("beta:N", title=title, scale=alt.Scale(domain=labels, range=list(beta_swatches(len(labels)))),
                     legend=alt.Legend(values=alt.ExprRef(f"slice([{visible}], 0, toNumber(nc))"),
                                       orient="bottom"))


# The options of smoothing_chart that it only shows (vega_spec's ``texts``): its spec is built once
# for every title a series brings (an uploaded column's name).
TEXTS = ("tick_format", "x_title", "y_title", "curve_title", "variant_title", "raw_label")


def smoothing_chart(*, labels: list[str], variants: dict[str, str], ticks: list[float], tick_format: str, few: bool,
                    x_title: str, y_title: str, curve_title: str, variant_title: str, raw_label: str,
                    zoom: bool = False, height: int = 380) -> alt.LayerChart:
    """Raw points (dataset "raw") and, per curve on screen and variant shown, the average its β
    position picks from the wide table "curves" (columns ``b{i}_{variant}``). ``variants``:
    variant key → label; ``few``: a short series, drawn with larger points.
    ``ticks``: for a dated series, the axis ticks (epoch ms), labelled as dates in ``tick_format``;
    x is then a number axis (a time axis costs twice as much to redraw)."""
    axis = alt.Axis(values=ticks, labelExpr=f"timeFormat(datum.value, {_js(tick_format)})", labelOverlap="greedy") \
        if ticks else alt.Axis(tickMinStep=1, format="d")  # positions 1, 2, 3 …, never 1.1
    x = alt.X("x:Q", title=x_title, axis=axis, scale=alt.Scale(zero=False, nice=not ticks))
    when = alt.Tooltip("date:N", title=x_title)
    points = alt.Chart(alt.NamedData("raw")).mark_circle(
        size=45 if few else 12, opacity=0.7 if few else 0.45, color="#777").encode(
        x, alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
        tooltip=[when, alt.Tooltip("value:Q", title=raw_label, format=".4g")])
    dash_scale = alt.Scale(domain=list(variants.values()), range=DASHES[:len(variants)])
    dash_legend = alt.Legend(orient="bottom", values=alt.ExprRef(shown_variants(variants)))
    lines, signals = [], []
    for slot, p in enumerate(SLOTS, 1):
        signals.append(alt.param(name=f"label{slot}", expr=f"{_js(labels)}[toNumber({p})]"))
        for variant, text in variants.items():
            column = f"y{slot}{variant}"  # the column this curve reads now: one signal, not one per row
            signals.append(alt.param(name=column, expr=f"'b' + toNumber({p}) + '_{variant}'"))
            lines.append(alt.Chart().mark_line(strokeWidth=2.2).transform_filter(
                f"{shown(slot)} && toNumber({VARIANT_PARAMS[variant]}) == 1").transform_calculate(
                y=f"datum[{column}]", beta=f"label{slot}", variant=_js(text)).encode(
                x, alt.Y("y:Q"), beta_colour(labels, curve_title),
                alt.StrokeDash("variant:N", title=variant_title, scale=dash_scale, legend=dash_legend),
                tooltip=[when, alt.Tooltip("beta:N", title=curve_title), alt.Tooltip("variant:N", title=variant_title),
                         alt.Tooltip("y:Q", title=y_title, format=".4g")]))
    chart = alt.layer(points, alt.layer(*lines, data=alt.NamedData("curves")))
    if zoom:
        chart = chart.transform_filter("datum.t <= toNumber(zoom)")
    pan = alt.selection_interval(name="pan_zoom" if zoom else "pan", bind="scales", encodings=["x"])
    names = [*SLOTS, "nc", *VARIANT_PARAMS.values(), *(["zoom"] if zoom else [])]
    return chart.add_params(*params(*names), *signals, pan).properties(height=height, usermeta=CANVAS)


def weights_chart(*, labels: list[str], horizons: list[int],
                  x_title: str, y_title: str, curve_title: str, mark_label: str,
                  decay_label: str, height: int = 260) -> alt.LayerChart:
    """The weight (1−β)βᵏ of the value k steps back for each curve on screen (dataset "weights"),
    with the point k = 1/(1−β) where about 1/e of the newest weight is left ("marks")."""
    colour = beta_colour(labels, curve_title)
    reach = ", ".join(f"{shown(s)} ? {_js(horizons)}[toNumber({p})] : 0" for s, p in enumerate(SLOTS, 1))
    x = alt.X("k:Q", title=x_title, scale=alt.Scale(domain=alt.ExprRef(f"[0, max({reach})]"), nice=False))
    label = alt.Chart(alt.NamedData("weights")).transform_filter(picked())
    area = label.mark_area(opacity=0.22, interpolate="step-after", clip=True).encode(
        x, alt.Y("weight:Q", title=y_title, stack=None), colour)
    line = label.mark_line(interpolate="step-after", clip=True).encode(
        x, alt.Y("weight:Q"), colour,
        tooltip=[alt.Tooltip("beta:N", title=curve_title), "k:Q", alt.Tooltip("weight:Q", format=".4f")])
    at = alt.Chart(alt.NamedData("marks")).transform_filter(picked())
    tips = [alt.Tooltip("beta:N", title=curve_title), alt.Tooltip("k:Q", title=mark_label, format=".1f"),
            alt.Tooltip("decay:Q", title=decay_label, format=".3f")]
    rules = at.mark_rule(strokeDash=[4, 3]).encode(x, colour)
    dots = at.mark_point(size=90, filled=True, shape="diamond").encode(x, alt.Y("weight:Q"), colour, tooltip=tips)
    return alt.layer(area, line, rules, dots).add_params(*params(*SLOTS, "nc"), *slot_params()).properties(
        height=height, usermeta=CANVAS)


def lag_chart(*, labels: list[str], ends: list[int], at: int,
              x_title: str, y_title: str, curve_title: str, input_label: str, crossing_label: str,
              height: int = 260) -> alt.LayerChart:
    """A clean step (grey) and each curve's average of it (dataset "lag"); a dot where each
    covers 63 % ("lag_rows")."""
    colour = beta_colour(labels, curve_title)
    reach = ", ".join(f"{shown(s)} ? {_js(ends)}[toNumber({p})] : 0" for s, p in enumerate(SLOTS, 1))
    x = alt.X("t:Q", title=x_title, scale=alt.Scale(domain=alt.ExprRef(f"[1, max({reach})]"), nice=False))
    step = alt.Chart(alt.NamedData("lag")).transform_filter("datum.i == -1").mark_line(color="#888", clip=True).encode(
        x, alt.Y("value:Q", title=y_title), tooltip=[alt.Tooltip("t:Q"), alt.Tooltip("value:Q", title=input_label)])
    lines = alt.Chart(alt.NamedData("lag")).transform_filter(picked()).mark_line(clip=True).encode(
        x, alt.Y("value:Q"), colour,
        tooltip=[alt.Tooltip("beta:N", title=curve_title), "t:Q", alt.Tooltip("value:Q", format=".3f")])
    cross = alt.Chart(alt.NamedData("lag_rows")).transform_filter(picked()) \
        .transform_filter("isValid(datum.measured_63)") \
        .transform_calculate(t=f"{at} + datum.measured_63", value="0.63") \
        .mark_point(size=70, filled=True).encode(
            x, alt.Y("value:Q"), colour,
            tooltip=[alt.Tooltip("beta:N", title=curve_title),
                     alt.Tooltip("measured_63:Q", title=crossing_label)])
    return alt.layer(step, lines, cross).add_params(*params(*SLOTS, "nc"), *slot_params()).properties(
        height=height, usermeta=CANVAS)
