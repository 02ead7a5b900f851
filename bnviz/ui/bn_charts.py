"""Altair builders for the BatchNorm page. Frames come from ``bnviz.bn_frames``; titles arrive
translated. Every axis has a fixed domain where the data allow, so live updates never jump."""

from __future__ import annotations

import copy
import functools
import json

import altair as alt
import pandas as pd

from bnviz.models import LABELS, MODELS

from .charts import CANVAS, PALETTE

MODEL_ORDER = [LABELS[m] for m in MODELS]
MODEL_COLOR = alt.Scale(domain=MODEL_ORDER, range=[PALETTE[1], PALETTE[0]])
RIDGE_GAIN = 6.0  # height of a ridge whose bin holds the whole sample, in rows


def _model(title: str):
    return alt.Color("model:N", title=title, scale=MODEL_COLOR)


def loss_chart(loss: pd.DataFrame, *, x_title: str, y_title: str, model_title: str,
               total_steps: int, height: int = 260) -> alt.Chart:
    """Per-step loss, log scale, x fixed to the whole run."""
    return alt.Chart(loss).mark_line(strokeWidth=1.4).encode(
        alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)])),
        alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")),
        _model(model_title),
        tooltip=["step:Q", "model:N", alt.Tooltip("loss:Q", format=".4f")],
    ).properties(height=height, usermeta=CANVAS)


def accuracy_chart(epochs: pd.DataFrame, *, x_title: str, y_title: str, model_title: str,
                   metric_title: str, metric_labels: dict[str, str], epochs_total: int,
                   height: int = 260) -> alt.Chart:
    """Train (solid) and test (dashed) accuracy per epoch, y on [0, 1]."""
    acc = epochs[epochs.metric.isin(["train_acc", "test_acc"])].copy()
    acc["metric"] = acc.metric.map(metric_labels)
    order = [metric_labels["train_acc"], metric_labels["test_acc"]]
    return alt.Chart(acc).mark_line(point=True).encode(
        alt.X("epoch:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, epochs_total)])),
        alt.Y("value:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        _model(model_title),
        alt.StrokeDash("metric:N", title=metric_title, scale=alt.Scale(domain=order, range=[[1, 0], [5, 3]])),
        tooltip=["epoch:Q", "model:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)


def hist_chart(hist: pd.DataFrame, *, x_title: str, y_title: str, model_title: str,
               domain: tuple[float, float], height: int = 170) -> alt.FacetChart:
    """Bars of one capture (one kind), BN and no-BN side by side; square-root y on [0, 1]."""
    return alt.Chart(hist).mark_rect(opacity=0.85).encode(
        alt.X("lo:Q", title=x_title, scale=alt.Scale(domain=list(domain), nice=False)),
        alt.X2("hi:Q"),
        alt.Y("share:Q", title=y_title, scale=alt.Scale(type="sqrt", domain=[0, 1], clamp=True),
              axis=alt.Axis(format="%")),
        _model(model_title),
        tooltip=[alt.Tooltip("lo:Q", format=".2f"), alt.Tooltip("hi:Q", format=".2f"),
                 alt.Tooltip("share:Q", format=".2%")],
    ).properties(height=height, width=260).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER)).properties(usermeta=CANVAS)


def ridge_chart(ridge: pd.DataFrame, *, x_title: str, y_title: str, model_title: str,
                domain: tuple[float, float], total_steps: int, height: int = 320) -> alt.FacetChart:
    """Histograms over time, offset like TensorBoard's: one ridge per capture, later ones lower."""
    data = ridge.copy()
    steps = sorted(data.step.unique())
    rank = {s: i for i, s in enumerate(steps)}
    data["base"] = -data.step.map(rank).astype(float)
    data["top"] = data.base + RIDGE_GAIN * data.share
    return alt.Chart(data).mark_area(opacity=0.55, strokeWidth=0.8, interpolate="monotone").encode(
        alt.X("x:Q", title=x_title, scale=alt.Scale(domain=list(domain), nice=False)),
        alt.Y("top:Q", title=y_title, axis=None),
        alt.Y2("base:Q"),
        _model(model_title),
        detail="step:Q",
        tooltip=["step:Q", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("share:Q", format=".2%")],
    ).properties(height=height, width=260).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER)).properties(usermeta=CANVAS)


def percentile_chart(pct: pd.DataFrame, *, x_title: str, y_title: str, model_title: str,
                     total_steps: int, domain: tuple[float, float] | None = None,
                     height: int = 260) -> alt.LayerChart:
    """The BN paper's Figure 1: 15–85th percentile band and the median, both models, over steps."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    y_scale = alt.Scale(domain=list(domain), clamp=True) if domain else alt.Scale(zero=False)
    band = alt.Chart(pct).mark_area(opacity=0.25).encode(
        x, alt.Y("p15:Q", title=y_title, scale=y_scale), alt.Y2("p85:Q"), _model(model_title))
    median = alt.Chart(pct).mark_line(strokeWidth=2).encode(
        x, alt.Y("p50:Q"), _model(model_title),
        tooltip=["step:Q", "model:N", alt.Tooltip("p15:Q", format=".3f"),
                 alt.Tooltip("p50:Q", format=".3f"), alt.Tooltip("p85:Q", format=".3f")])
    return alt.layer(band, median).properties(height=height, usermeta=CANVAS)


def gamma_beta_chart(gb: pd.DataFrame, *, x_title: str, y_title: str, param_title: str,
                     height: int = 140) -> alt.Chart:
    """γ and β per channel (bars), one row each."""
    return alt.Chart(gb).mark_bar().encode(
        alt.X("channel:O", title=x_title, axis=alt.Axis(labelOverlap=True)),
        alt.Y("value:Q", title=y_title),
        alt.Color("parameter:N", title=param_title, scale=alt.Scale(range=PALETTE[2:4])),
        alt.Row("parameter:N", title=None),
        tooltip=["channel:O", "parameter:N", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=height, usermeta=CANVAS).resolve_scale(y="independent")


def bn_stats_chart(stats: pd.DataFrame, *, x_title: str, channel_title: str, source_title: str,
                   source_labels: dict[str, str], height: int = 200) -> alt.FacetChart:
    """Running (EWMA, solid) vs batch (dots) mean and variance of a few channels over steps."""
    data = stats.copy()
    data["source"] = data.source.map(source_labels)
    order = [source_labels["running"], source_labels["batch"]]
    base = alt.Chart(data).encode(
        alt.X("step:Q", title=x_title), alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        alt.Color("channel:N", title=channel_title, scale=alt.Scale(range=PALETTE)),
        tooltip=["step:Q", "channel:N", "source:N", alt.Tooltip("value:Q", format=".4f")])
    running = base.mark_line(strokeWidth=2).transform_filter(alt.datum.source == order[0])
    batch = base.mark_point(size=14, opacity=0.6).transform_filter(alt.datum.source == order[1])
    return alt.layer(batch, running).properties(height=height, width=300).facet(
        column=alt.Column("statistic:N", title=None)).resolve_scale(y="independent").properties(
        usermeta=CANVAS)


def grad_chart(grads: pd.DataFrame, *, x_title: str, y_title: str, layer_title: str,
               total_steps: int, height: int = 220) -> alt.FacetChart:
    """‖∇W‖ per layer over steps, log y; sigmoid LeNet's early layers sit far below the last."""
    return alt.Chart(grads).mark_line(strokeWidth=1.5).encode(
        alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)])),
        alt.Y("norm:Q", title=y_title, scale=alt.Scale(type="log")),
        alt.Color("layer:N", title=layer_title, scale=alt.Scale(range=PALETTE),
                  sort=["conv1", "conv2", "fc1", "fc2", "fc3"]),
        tooltip=["step:Q", "layer:N", alt.Tooltip("norm:Q", format=".3e")],
    ).properties(height=height, width=300).facet(
        column=alt.Column("model:N", title=None, sort=MODEL_ORDER)).properties(usermeta=CANVAS)


def test_time_chart(tt: pd.DataFrame, *, x_title: str, y_title: str, mode_title: str,
                    mode_labels: dict[str, str], height: int = 220) -> alt.Chart:
    """Accuracy per batch size, eval (running statistics) vs train mode (batch statistics)."""
    data = tt.copy()
    data["mode"] = data["mode"].map(mode_labels)
    order = [mode_labels["eval"], mode_labels["train"]]
    return alt.Chart(data).mark_bar().encode(
        alt.X("batch:O", title=x_title),
        alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        alt.Color("mode:N", title=mode_title, scale=alt.Scale(domain=order, range=PALETTE[:2])),
        alt.XOffset("mode:N", sort=order),
        tooltip=["batch:O", "mode:N", alt.Tooltip("accuracy:Q", format=".3f")],
    ).properties(height=height, usermeta=CANVAS)


@functools.lru_cache(maxsize=256)
def _spec_json(builder, columns: tuple, kwargs: tuple) -> str:
    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns})
    spec = builder(empty, **dict(kwargs)).to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    return json.dumps(spec)


def spec_of(builder, like: pd.DataFrame, **kwargs) -> dict:
    """The Vega-Lite spec ``builder`` makes, without its data (cached per titles and domains).

    Passing the frame separately (``st.vega_lite_chart(frame, spec)``) keeps the spec identical
    from one live tick to the next, so the browser updates the data instead of rebuilding the
    chart, and the server skips Altair's validation on every tick.
    """
    columns = tuple((c, str(t)) for c, t in like.dtypes.items())
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    return copy.deepcopy(json.loads(_spec_json(builder, columns, frozen)))
