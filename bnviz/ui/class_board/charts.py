"""The class board's charts (Altair, built once per set of titles by bnviz.ui.vega.vega_spec; the
data are named datasets from bnviz.training.class_board)."""

from __future__ import annotations

import altair as alt

from bnviz.batchnorm.models import LABELS, MODELS
from bnviz.ui.vega import CANVAS, DIVERGED_SHAPE, PALETTE

MODEL_COLOR = alt.Scale(domain=[LABELS[m] for m in MODELS], range=PALETTE[:2])
LOG_X = alt.Scale(type="log")
# A log axis drops labels that would touch (Vega-Lite's default drops only those that overlap: a
# narrow chart or a projector's large text showed "0.010.02").
LOG_AXIS = alt.Axis(labelSeparation=8)


def _tip(field: str, title: str, fmt: str | None = None) -> alt.Tooltip:
    return alt.Tooltip(field, title=title, **({"format": fmt} if fmt else {}))


def _model(title: str):
    return alt.Color("model:N", title=title, scale=MODEL_COLOR, legend=alt.Legend(orient="bottom"))


def accuracy_chart(*, x_title: str, y_title: str, model_title: str, nick_title: str, diverged_label: str,
                   pending_label: str, height: int = 320) -> alt.LayerChart:
    """Every student's latest test accuracy against their rate ("points"), BN or not in two
    colours; a diverged model is an ✕ at the bottom; a model not yet measured (submitted, or
    training before its first test) a hollow circle on the axis, so the board shows the class's
    choices from the first submission on."""
    data = alt.Chart(alt.NamedData("points"))
    x = alt.X("lr:Q", title=x_title, scale=LOG_X, axis=LOG_AXIS)
    tips = [_tip("nickname:N", nick_title), _tip("model:N", model_title), _tip("lr:Q", x_title, ".3g")]
    dots = data.transform_filter("!datum.diverged && isValid(datum.accuracy)").mark_circle(size=90, opacity=0.85) \
        .encode(x, alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])), _model(model_title),
                tooltip=[*tips, _tip("accuracy:Q", y_title, ".3f")])
    crosses = data.transform_filter("datum.diverged").transform_calculate(y="0.02", what=f"'{diverged_label}'") \
        .mark_point(shape=DIVERGED_SHAPE, size=140, filled=False, strokeWidth=2.5) \
        .encode(x, alt.Y("y:Q"), _model(model_title), tooltip=[*tips, alt.Tooltip("what:N", title="")])
    pending = data.transform_filter("!datum.diverged && !isValid(datum.accuracy)") \
        .transform_calculate(y="0", what=f"'{pending_label}'") \
        .mark_point(shape="circle", size=70, opacity=0.9, filled=False, strokeWidth=1.5) \
        .encode(x, alt.Y("y:Q"), _model(model_title), tooltip=[*tips, alt.Tooltip("what:N", title="")])
    return alt.layer(dots, crosses, pending).properties(height=height, usermeta=CANVAS)


def loss_chart(*, x_title: str, y_title: str, model_title: str, nick_title: str, height: int = 260) -> alt.Chart:
    """Every student's training loss per step ("loss"), log scale, one line each."""
    return alt.Chart(alt.NamedData("loss")).mark_line(strokeWidth=1.1, opacity=0.7).encode(
        alt.X("step:Q", title=x_title), alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")),
        _model(model_title), alt.Detail("nickname:N"),
        tooltip=[_tip("nickname:N", nick_title), _tip("model:N", model_title), _tip("step:Q", x_title),
                 _tip("loss:Q", y_title, ".3f")],
    ).properties(height=height, usermeta=CANVAS)


def search_chart(*, x_title: str, who_title: str, labels: dict, lo: float, hi: float,
                 height: int = 140) -> alt.Chart:
    """The class's rates against as many drawn uniformly in log ("search": who, lr), one row each."""
    order = list(labels.values())
    return alt.Chart(alt.NamedData("search")).transform_calculate(
        label=f"datum.who === 'class' ? '{labels['class']}' : '{labels['uniform']}'"
    ).mark_tick(thickness=2, size=22).encode(
        alt.X("lr:Q", title=x_title, scale=alt.Scale(type="log", domain=[lo, hi], nice=False), axis=LOG_AXIS),
        alt.Y("label:N", title=None, sort=order),
        alt.Color("label:N", title=who_title, scale=alt.Scale(domain=order, range=["#ff7f0e", "#7f7f7f"]),
                  legend=None),
        tooltip=[_tip("label:N", who_title), _tip("lr:Q", x_title, ".3g")],
    ).properties(height=height, usermeta=CANVAS)


def own_chart(*, x_title: str, y_title: str, height: int = 220) -> alt.Chart:
    """One student's loss per step ("loss")."""
    return alt.Chart(alt.NamedData("loss")).mark_line(color=PALETTE[4]).encode(
        alt.X("step:Q", title=x_title), alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")),
        tooltip=[_tip("step:Q", x_title), _tip("loss:Q", y_title, ".3f")],
    ).properties(height=height, usermeta=CANVAS)
