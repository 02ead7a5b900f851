"""Altair charts of the tuning page that follow the live controls in the browser.

The server computes the whole landscape and every point of every strategy for every seed the
page offers (bnviz.tuning.search); the charts only pick rows by the parameters ``seed`` and ``rounds``,
each bound to a control of the page's live panel. Axes are in decades: x = log₁₀ α,
y = log₁₀(1 − β), labelled with α and β themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt

from bnviz.ui import browser_controls
from bnviz.ui.vega import CANVAS

IDS = {"seed": "tune-seed", "rounds": "tune-rounds"}
STRATEGY_SHAPES = {"grid": "square", "random": "circle", "fine": "triangle-up"}
STRATEGY_FILLS = ("#ffffff", "#ffb000")  # the grid's squares, the random circles
ROUND_COLOURS = ("#9e9e9e", "#ffb000", "#ff3d7f")  # rounds 1–3, seen over the viridis heatmap and on white


@dataclass(frozen=True)
class Axes:
    """A landscape's two axes in decades: x = log₁₀ α, y the second hyper-parameter's field."""

    x_scale: alt.Scale
    x_axis: alt.Axis
    y_scale: alt.Scale
    y_axis: alt.Axis
    y: str  # the field of y in decades: "ld" = log₁₀(1 − β), "ly" = log₁₀ ε
    tips: tuple


# x = log₁₀ α from 10⁻⁴ to 10; y = log₁₀(1 − β) from −3 (β = 0.999, top) to log₁₀ 0.5 (β = 0.5).
BETA_AXES = Axes(alt.Scale(domain=[-4, 1], nice=False),
                 alt.Axis(values=[-4, -3, -2, -1, 0, 1], labelExpr="format(pow(10, datum.value), '~g')"),
                 alt.Scale(domain=[-3, -0.30103], nice=False, reverse=True),
                 alt.Axis(values=[-3, -2, -1, -0.30103], labelExpr="format(1 - pow(10, datum.value), '~g')"),
                 "ld", (alt.Tooltip("alpha:Q", title="α", format=".3g"),
                        alt.Tooltip("beta:Q", title="β", format=".4g")))
# The notes' α against Adam's ε (search.EPS_BOX): x from 10⁻² to 10, y = log₁₀ ε from 10⁻⁸ to 10⁻⁴.
EPS_AXES = Axes(alt.Scale(domain=[-2, 1], nice=False),
                alt.Axis(values=[-2, -1, 0, 1], labelExpr="format(pow(10, datum.value), '~g')"),
                alt.Scale(domain=[-8, -4], nice=False),
                alt.Axis(values=[-8, -7, -6, -5, -4], labelExpr="'1e' + datum.value"),
                "ly", (alt.Tooltip("alpha:Q", title="α", format=".3g"), alt.Tooltip("y:Q", title="ε", format=".1e")))


def _heatmap(x_title: str, y_title: str, score_title: str, axes: Axes = BETA_AXES) -> alt.LayerChart:
    """The score of every cell ("cells"); cells whose run diverged in grey (``score`` null)."""
    cells = alt.Chart(alt.NamedData("cells"))
    x = alt.X("la0:Q", title=x_title, scale=axes.x_scale, axis=axes.x_axis)
    y = alt.Y(f"{axes.y}0:Q", title=y_title, scale=axes.y_scale, axis=axes.y_axis)
    good = cells.transform_filter("isValid(datum.score)").mark_rect().encode(
        x, alt.X2("la1:Q"), y, alt.Y2(f"{axes.y}1:Q"),
        alt.Color("score:Q", title=score_title, scale=alt.Scale(scheme="viridis")),
        tooltip=[*axes.tips, alt.Tooltip("score:Q", title=score_title, format=".2f")])
    bad = cells.transform_filter("!isValid(datum.score)").mark_rect(color="#d9d9d9").encode(
        x, alt.X2("la1:Q"), y, alt.Y2(f"{axes.y}1:Q"), tooltip=[*axes.tips, alt.Tooltip("what:N", title=score_title)])
    return alt.layer(good, bad)


def _points(strategies: list[str], labels: dict[str, str], legend_title: str, score_title: str,
            axes: Axes = BETA_AXES, chosen: str = "datum.seed == toNumber(seed)"):
    """The points the ``strategies`` tried that the test ``chosen`` picks, by default those of the
    seed on the slider ("points"; ``label`` is the strategy's name in the reader's language)."""
    names = [labels[s] for s in strategies]
    test = " || ".join(f"datum.strategy == '{s}'" for s in strategies)
    return alt.Chart(alt.NamedData("points")).transform_filter(f"({test}) && ({chosen})") \
        .mark_point(size=110, filled=True, stroke="#000", strokeWidth=1.2, opacity=0.95).encode(
            alt.X("la:Q"), alt.Y(f"{axes.y}:Q"),
            alt.Shape("label:N", title=legend_title, legend=alt.Legend(orient="bottom"),
                      scale=alt.Scale(domain=names, range=[STRATEGY_SHAPES[s] for s in strategies])),
            alt.Fill("label:N", legend=None, scale=alt.Scale(domain=names, range=list(STRATEGY_FILLS[:len(names)]))),
            tooltip=[alt.Tooltip("label:N", title=legend_title), *axes.tips,
                     alt.Tooltip("score:Q", title=score_title, format=".2f")])


def _best():
    """The true best: the lowest score on the landscape or among every point tried ("best")."""
    return alt.Chart(alt.NamedData("best")).mark_point(
        shape="cross", size=260, filled=True, color="#e41a1c", stroke="#fff", strokeWidth=1).encode(
        alt.X("la:Q"), alt.Y("ld:Q"),
        tooltip=[alt.Tooltip("what:N", title=""), *BETA_AXES.tips, alt.Tooltip("score:Q", format=".2f")])


def search_chart(*, labels: dict[str, str], x_title: str, y_title: str, score_title: str, legend_title: str,
                 height: int = 380) -> alt.LayerChart:
    """The score over log α × log(1 − β) ("cells"), the notes' grid and the random points of the
    seed on the slider ("points"), and the true best ("best")."""
    chart = alt.layer(_heatmap(x_title, y_title, score_title),
                      _points(["grid", "random"], labels, legend_title, score_title), _best())
    return chart.add_params(browser_controls.param("seed", IDS["seed"])).properties(height=height, usermeta=CANVAS)


def regime_chart(*, labels: dict[str, str], x_title: str, y_title: str, score_title: str, legend_title: str,
                 height: int = 300) -> alt.LayerChart:
    """α against Adam's ε (search.EPS_BOX): the score ("cells"), the 3 × 3 grid (seed −1) and the
    9 random points of the seed on the slider ("points")."""
    chosen = "datum.seed == -1 || datum.seed == toNumber(seed)"
    chart = alt.layer(_heatmap(x_title, y_title, score_title, EPS_AXES),
                      _points(["grid", "random"], labels, legend_title, score_title, EPS_AXES, chosen))
    return chart.add_params(browser_controls.param("seed", IDS["seed"])).properties(height=height, usermeta=CANVAS)


def fine_chart(*, round_title: str, x_title: str, y_title: str, score_title: str, height: int = 380) -> alt.LayerChart:
    """Coarse to fine: each round's box (dashed) and points, up to the round on the slider."""
    upto = "datum.round <= toNumber(rounds)"
    seed = "datum.seed == toNumber(seed)"
    pts = alt.Chart(alt.NamedData("points")).transform_filter(f"datum.strategy == 'fine' && {seed} && {upto}")
    rounds = alt.Scale(domain=[1, 2, 3], range=list(ROUND_COLOURS))
    dots = pts.mark_point(size=110, filled=True, stroke="#000", strokeWidth=1.2, shape="triangle-up").encode(
        alt.X("la:Q"), alt.Y("ld:Q"), alt.Color("round:O", title=round_title, scale=rounds, legend=None),
        tooltip=[alt.Tooltip("round:O", title=round_title), *BETA_AXES.tips,
                 alt.Tooltip("score:Q", title=score_title, format=".2f")])
    boxes = pts.transform_aggregate(a0="min(box_a0)", a1="min(box_a1)", d0="min(box_d0)", d1="min(box_d1)",
                                    groupby=["round"]) \
        .mark_rect(filled=False, strokeDash=[6, 3], strokeWidth=2).encode(
            alt.X("a0:Q"), alt.X2("a1:Q"), alt.Y("d0:Q"), alt.Y2("d1:Q"),
            alt.Color("round:O", title=round_title, scale=rounds, legend=alt.Legend(orient="bottom")))
    chart = alt.layer(_heatmap(x_title, y_title, score_title), boxes, dots, _best())
    seed_param = browser_controls.param("seed", IDS["seed"])
    rounds_param = browser_controls.param("rounds", IDS["rounds"])
    return chart.add_params(seed_param, rounds_param).properties(height=height, usermeta=CANVAS)


def sampling_chart(*, x_title: str, y_title: str, height: int = 170) -> alt.LayerChart:
    """Where 50 samples of β ∈ [0.9, 0.999] land ("betas": seed, scale, label, beta, window), on
    the axis of the effective window 1/(1 − β): drawn uniform in β (most below 0.99, a window
    under 100, the dashed rule) or uniform in log(1 − β) (spread evenly)."""
    rows = alt.Chart(alt.NamedData("betas")).transform_filter("datum.seed == toNumber(seed)")
    ticks = rows.mark_tick(thickness=2, size=26).encode(
        alt.X("window:Q", title=x_title, scale=alt.Scale(type="log", domain=[10, 1000])),
        alt.Y("label:N", title=y_title, axis=alt.Axis(labelLimit=240)),
        alt.Color("scale:N", legend=None, scale=alt.Scale(domain=["linear", "log"], range=["#d62728", "#1f77b4"])),
        tooltip=[alt.Tooltip("beta:Q", title="β", format=".4f"), alt.Tooltip("window:Q", format=".0f")])
    rule = alt.Chart(alt.NamedData("betas")).transform_aggregate(n="count()").transform_calculate(w="100") \
        .mark_rule(strokeDash=[4, 3], color="#555").encode(alt.X("w:Q"))
    return alt.layer(ticks, rule).add_params(browser_controls.param("seed", IDS["seed"])).properties(
        height=height, usermeta=CANVAS)
