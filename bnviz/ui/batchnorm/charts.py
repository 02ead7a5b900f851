"""Altair builders for the BatchNorm page. Each reads named datasets (frames from
``bnviz.training.bn_frames``, handed in by :func:`bnviz.ui.vega.vega_spec`), so a chart is built once
per set of titles and only its data changes from one live tick to the next. Titles arrive
translated. Every axis has a fixed domain where the data allow, so live updates never jump."""

from __future__ import annotations

import altair as alt

from bnviz.batchnorm.models import HIDDEN_LAYERS, LABELS, MODELS
from bnviz.ui.vega import CANVAS, DIVERGED_SHAPE, PALETTE

MODEL_ORDER = [LABELS[m] for m in MODELS]
MODEL_COLOR = alt.Scale(domain=MODEL_ORDER, range=[PALETTE[1], PALETTE[0]])
RIDGE_GAIN = 6.0  # height of a ridge whose bin holds the whole sample, in rows


def _model(title: str | None, legend=True):
    return alt.Color("model:N", title=title, scale=MODEL_COLOR,
                     legend=alt.Legend(orient="bottom") if legend else None)


def _data(name: str = "data"):
    return alt.Chart(alt.NamedData(name))


def loss_chart(*, x_title: str, y_title: str, model_title: str, lr_title: str, total_steps: int,
               height: int = 280) -> alt.LayerChart:
    """Per-step loss ("loss"), log scale, x fixed to the whole run; a dashed rule where a model's
    learning rate was changed and a cross where a model diverged ("marks": step, model, what, text)."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    line = _data("loss").mark_line(strokeWidth=1.4).encode(
        x, alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")), _model(model_title),
        tooltip=["step:Q", "model:N", alt.Tooltip("loss:Q", format=".4f")])
    rules = _data("marks").transform_filter("datum.what == 'lr'").mark_rule(strokeDash=[5, 3]).encode(
        x, _model(model_title), tooltip=["step:Q", "model:N", alt.Tooltip("text:N", title=lr_title)])
    crosses = _data("marks").transform_filter("datum.what == 'diverged'").mark_point(
        shape=DIVERGED_SHAPE, size=160, filled=False, strokeWidth=2.5).encode(
        x, _model(model_title), tooltip=["step:Q", "model:N"])
    return alt.layer(line, rules, crosses).properties(height=height, usermeta=CANVAS)


def accuracy_chart(*, x_title: str, y_title: str, model_title: str, metric_title: str,
                   metric_order: list[str], epochs_total: int, height: int = 280) -> alt.Chart:
    """Train (solid, dots) and test (dashed, squares) accuracy per epoch ("data": epoch, model,
    metric, value); the legend draws each as its line, so the two are told apart there too."""
    return _data().mark_line(point=True).encode(
        alt.X("epoch:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, epochs_total)])),
        alt.Y("value:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        _model(model_title),
        alt.StrokeDash("metric:N", title=metric_title, scale=alt.Scale(domain=metric_order, range=[[1, 0], [5, 3]]),
                       legend=alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeWidth=2.5,
                                         symbolSize=400)),
        alt.Shape("metric:N", scale=alt.Scale(domain=metric_order, range=["circle", "square"]), legend=None),
        tooltip=["epoch:Q", "model:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)


# Side by side, two cells' x axes meet: their end labels kept inside each cell, and a gap between
# the columns, so "10" of one and "−10" of the next do not run into each other.
FLUSH = alt.Axis(labelFlush=True)
COLUMN_GAP = {"column": 32, "row": 10}


def _bars(x_title: str, y_title: str, domain):
    return _data().mark_rect(opacity=0.85).encode(
        alt.X("lo:Q", title=x_title, scale=alt.Scale(domain=list(domain), nice=False), axis=FLUSH),
        alt.X2("hi:Q"),
        alt.Y("share:Q", title=y_title, scale=alt.Scale(type="sqrt", domain=[0, 1], clamp=True),
              axis=alt.Axis(format="%", tickCount=3)),
        _model(None, legend=False),
        tooltip=["model:N", alt.Tooltip("lo:Q", format=".2f"), alt.Tooltip("hi:Q", format=".2f"),
                 alt.Tooltip("share:Q", format=".2%")])


def hist_grid(*, x_title: str, y_title: str, domain, cell_width: int = 250, cell_height: int = 88) -> alt.FacetChart:
    """Every hidden layer at once ("data": model, layer, lo, hi, share): rows conv1 … fc2,
    columns LeNet | LeNet-BN, the same axes in every cell of a row."""
    return _bars(x_title, y_title, domain).properties(width=cell_width, height=cell_height).facet(
        row=alt.Row("layer:N", title=None, sort=list(HIDDEN_LAYERS),
                    header=alt.Header(labelAngle=0, labelAlign="left")),
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER), spacing=COLUMN_GAP).properties(usermeta=CANVAS)


def hist_chart(*, x_title: str, y_title: str, domain, cell_width: int = 330, height: int = 200) -> alt.FacetChart:
    """One layer's histogram, large, BN and no-BN side by side ("data": model, lo, hi, share)."""
    return _bars(x_title, y_title, domain).properties(height=height, width=cell_width).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER), spacing=COLUMN_GAP).properties(usermeta=CANVAS)


def ridge_chart(*, x_title: str, y_title: str, model_title: str, domain, height: int = 320) -> alt.FacetChart:
    """Histograms over time, offset like TensorBoard's ("data": step, model, x, base, top):
    one ridge per capture, later ones lower."""
    return _data().mark_area(opacity=0.55, strokeWidth=0.8, interpolate="monotone").encode(
        alt.X("x:Q", title=x_title, scale=alt.Scale(domain=list(domain), nice=False), axis=FLUSH),
        alt.Y("top:Q", title=y_title, axis=None),
        alt.Y2("base:Q"),
        _model(model_title, legend=False),
        detail="step:Q",
        tooltip=["step:Q", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("share:Q", format=".2%")],
    ).properties(height=height, width=300).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER), spacing=COLUMN_GAP).properties(usermeta=CANVAS)


def percentile_chart(*, x_title: str, y_title: str, model_title: str, start_title: str, total_steps: int,
                     height: int = 300) -> alt.LayerChart:
    """The BN paper's Figure 1 ("data": step, model, p15, p50, p85): the 15–85th percentile band
    and the median of both models over steps, on a range that only grows (parameters ``y_lo``,
    ``y_hi``: they change as the run goes, the spec does not), with each model's starting median
    as a dotted rule ("start": model, p50)."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    y_scale = alt.Scale(domain=alt.ExprRef(expr="[y_lo, y_hi]"), clamp=True, nice=False)
    band = _data().mark_area(opacity=0.25).encode(
        x, alt.Y("p15:Q", title=y_title, scale=y_scale), alt.Y2("p85:Q"), _model(model_title))
    median = _data().mark_line(strokeWidth=2).encode(
        x, alt.Y("p50:Q"), _model(model_title),
        tooltip=["step:Q", "model:N", alt.Tooltip("p15:Q", format=".3f"),
                 alt.Tooltip("p50:Q", format=".3f"), alt.Tooltip("p85:Q", format=".3f")])
    start = _data("start").mark_rule(strokeDash=[2, 3], strokeWidth=1.5).encode(
        alt.Y("p50:Q"), _model(model_title), tooltip=["model:N", alt.Tooltip("p50:Q", title=start_title, format=".3f")])
    return alt.layer(band, median, start).add_params(alt.param(name="y_lo", value=0), alt.param(name="y_hi", value=1)
                                                     ).properties(height=height, usermeta=CANVAS)


def gamma_beta_chart(*, x_title: str, y_title: str, param_title: str, height: int = 220) -> alt.Chart:
    """γ and β of every channel ("data": channel, parameter, value), side by side per channel;
    the chart fits its width whatever the number of channels (fc1 has 120)."""
    return _data().mark_bar().encode(
        alt.X("channel:O", title=x_title,
              axis=alt.Axis(labelExpr="datum.value % 10 == 0 ? datum.label : ''", labelAngle=0)),
        alt.XOffset("parameter:N"),
        alt.Y("value:Q", title=y_title),
        alt.Color("parameter:N", title=param_title, scale=alt.Scale(range=PALETTE[2:4]),
                  legend=alt.Legend(orient="bottom")),
        tooltip=["channel:O", "parameter:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=height, usermeta=CANVAS)


def bn_stats_chart(*, x_title: str, channel_title: str, source_title: str, source_order: list[str],
                   height: int = 200) -> alt.FacetChart:
    """Running (EWMA, solid) vs batch (dots) mean μ and variance σ² of a few channels over steps
    ("data": step, channel, statistic, source, value)."""
    base = _data().encode(
        alt.X("step:Q", title=x_title), alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        alt.Color("channel:N", title=channel_title, scale=alt.Scale(range=PALETTE), legend=alt.Legend(orient="bottom")),
        tooltip=["step:Q", "channel:N", "source:N", alt.Tooltip("value:Q", format=".4f")])
    running = base.mark_line(strokeWidth=2).transform_filter(alt.datum.source == source_order[0])
    batch = base.mark_point(size=14, opacity=0.6).transform_filter(alt.datum.source == source_order[1])
    return alt.layer(batch, running).properties(height=height, width=300).facet(
        column=alt.Column("statistic:N", title=None)).resolve_scale(y="independent").properties(
        usermeta=CANVAS)


def grad_chart(*, x_title: str, y_title: str, layer_title: str, total_steps: int,
               height: int = 220) -> alt.FacetChart:
    """‖∇W‖ per layer over steps, log y ("data": step, model, layer, norm); sigmoid LeNet's early
    layers sit far below the last."""
    return _data().mark_line(strokeWidth=1.5).encode(
        alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)])),
        alt.Y("norm:Q", title=y_title, scale=alt.Scale(type="log")),
        alt.Color("layer:N", title=layer_title, scale=alt.Scale(range=PALETTE),
                  sort=["conv1", "conv2", "fc1", "fc2", "fc3"], legend=alt.Legend(orient="bottom")),
        tooltip=["step:Q", "layer:N", alt.Tooltip("norm:Q", format=".3e")],
    ).properties(height=height, width=300).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER)).properties(usermeta=CANVAS)


def accuracy_bars(*, x_title: str, y_title: str, mode_title: str, mode_order: list[str],
                  height: int = 240) -> alt.Chart:
    """Test accuracy per way of normalising at test time ("data": what, mode, accuracy)."""
    return _data().mark_bar().encode(
        alt.X("what:N", title=x_title, sort=None, axis=alt.Axis(labelAngle=0, labelLimit=160)),
        alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        alt.Color("mode:N", title=mode_title, scale=alt.Scale(domain=mode_order, range=PALETTE[:len(mode_order)]),
                  legend=alt.Legend(orient="bottom")),
        tooltip=["what:N", "mode:N", alt.Tooltip("accuracy:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)


def probe_chart(*, field: str, x_title: str, y_title: str, model_title: str, total_steps: int,
                height: int = 240) -> alt.Chart:
    """One landscape measure of both models over training ("data": step, model, variation,
    predictiveness), log y."""
    return _data().mark_line(point=True, strokeWidth=1.5).encode(
        alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)])),
        alt.Y(f"{field}:Q", title=y_title, scale=alt.Scale(type="log")),
        _model(model_title),
        tooltip=["step:Q", "model:N", alt.Tooltip(f"{field}:Q", format=".3e")],
    ).properties(height=height, usermeta=CANVAS)


def sweep_accuracy_chart(*, x_title: str, y_title: str, model_title: str, diverged_label: str,
                         height: int = 300) -> alt.LayerChart:
    """The learning-rate sweep: test accuracy against α (log axis) for both models ("acc": lr,
    model, accuracy, diverged); a diverged run is an ✕ at the bottom."""
    x = alt.X("lr:Q", title=x_title, scale=alt.Scale(type="log"))
    tips = ["model:N", alt.Tooltip("lr:Q", format=".3g")]
    line = _data("acc").transform_filter("!datum.diverged").mark_line(point=True).encode(
        x, alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])), _model(model_title),
        tooltip=[*tips, alt.Tooltip("accuracy:Q", format=".3f")])
    crosses = _data("acc").transform_filter("datum.diverged") \
        .transform_calculate(y="0.02", what=f"'{diverged_label}'") \
        .mark_point(shape=DIVERGED_SHAPE, size=140, filled=False, strokeWidth=2.5).encode(
            x, alt.Y("y:Q"), _model(model_title), tooltip=[*tips, alt.Tooltip("what:N", title="")])
    return alt.layer(line, crosses).properties(height=height, usermeta=CANVAS)


def sweep_loss_chart(*, x_title: str, y_title: str, model_title: str, lr_title: str, height: int = 260) -> alt.Chart:
    """The learning-rate sweep: every run's training loss per step ("loss": step, model, lr,
    loss), log scale, one line per run."""
    return _data("loss").mark_line(strokeWidth=1.2, opacity=0.8).encode(
        alt.X("step:Q", title=x_title), alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")),
        _model(model_title), alt.Detail("lr:N"),
        tooltip=["model:N", alt.Tooltip("lr:N", title=lr_title), "step:Q", alt.Tooltip("loss:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)

