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


def _tip(field: str, title: str, fmt: str | None = None) -> alt.Tooltip:
    """A tooltip line titled in the page's language (Vega formats the value)."""
    return alt.Tooltip(field, title=title, **({"format": fmt} if fmt else {}))


def _model(title: str | None, legend=True):
    return alt.Color("model:N", title=title, scale=MODEL_COLOR,
                     legend=alt.Legend(orient="bottom") if legend else None)


def _data(name: str = "data"):
    return alt.Chart(alt.NamedData(name))


# The step scrubber (an input of the page's live panel, bnviz.ui.browser_controls): charts of one
# capture show the capture it is on, charts over time mark its step; the browser follows it.
SCRUB_ID = "bn-scrub"


def scrub() -> alt.Parameter:
    return alt.param(name="scrub", value=0, bind=alt.BindDirect(element=f"#{SCRUB_ID}"))


def _shown(cells: int, fields: list[str], bins: int = 1) -> alt.Chart:
    """The ``cells`` rows of the capture the scrubber is on, looked up by key in "data" (``key`` =
    capture · cells + the row's place among its capture's), with their ``fields``; with ``bins``,
    each of them ``bins`` times, told apart by ``bin`` (a histogram's bars). Always the same rows,
    given new values when the scrubber moves or rows come, so Vega keeps and changes what it drew
    from them (a filter went through every row of the history each time the scrubber moved; bars
    unfolded anew at each draw were new rows and new marks at every refresh, each kept until the
    next: work for the garbage collector, half of a watcher's main thread in a trace). Rows not
    received yet are left out."""
    each = alt.SequenceGenerator(sequence=alt.SequenceParams(start=0, stop=cells * bins, **{"as": "i"}))
    place = {"key": f"scrub * {cells} + datum.i"} if bins == 1 else \
        {"key": f"scrub * {cells} + floor(datum.i / {bins})", "bin": f"datum.i % {bins}"}
    return alt.Chart(each).transform_calculate(**place).transform_lookup(
        lookup="key", from_=alt.LookupData(alt.NamedData("data"), key="key", fields=fields)
    ).transform_filter(f"isValid(datum.{fields[0]})")


def _scrub_rule(chart: alt.Chart, x: alt.X) -> alt.Chart:
    """A grey rule at the step the scrubber is on (``chart``'s rows have capture and step)."""
    return chart.transform_filter("datum.capture == scrub").mark_rule(
        color="#888", strokeDash=[3, 3], strokeWidth=1.5).encode(x)


def loss_chart(*, x_title: str, y_title: str, model_title: str, lr_title: str, total_steps: int,
               height: int = 280) -> alt.LayerChart:
    """Per-step loss ("loss"), log scale, x fixed to the whole run; a dashed rule where a model's
    learning rate was changed and a cross where a model diverged ("marks": step, model, what, text)."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    line = _data("loss").mark_line(strokeWidth=1.4).encode(
        x, alt.Y("loss:Q", title=y_title, scale=alt.Scale(type="log")), _model(model_title),
        tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title), _tip("loss:Q", y_title, ".4f")])
    rules = _data("marks").transform_filter("datum.what == 'lr'").mark_rule(strokeDash=[5, 3]).encode(
        x, _model(model_title), tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title),
                                         _tip("text:N", lr_title)])
    crosses = _data("marks").transform_filter("datum.what == 'diverged'").mark_point(
        shape=DIVERGED_SHAPE, size=160, filled=False, strokeWidth=2.5).encode(
        x, _model(model_title), tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title)])
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
        tooltip=[_tip("epoch:Q", x_title), _tip("model:N", model_title), _tip("metric:N", metric_title),
                 _tip("value:Q", y_title, ".3f")],
    ).properties(height=height, usermeta=CANVAS)


# Side by side, two cells' x axes meet: their end labels kept inside each cell, and a gap between
# the columns, so "10" of one and "−10" of the next do not run into each other.
FLUSH = alt.Axis(labelFlush=True)
COLUMN_GAP = {"column": 32, "row": 10}


def _bars(titles: dict, domain, cells: int, bins: int):
    """The histogram of the capture the scrubber is on ("data": key, capture, model, layer and the
    shares of its ``bins`` bins as one array, one row per histogram of every capture, ``cells`` per
    capture, key = capture · cells + its place among them; "bins": bin, lo, hi; "captures":
    capture, step): one bar per bin of every cell of the capture the scrubber is on (:func:`_shown`),
    given its share. A bin with no share is a bar of no height; a capture whose rows have not come
    shows nothing. (See also bnviz.ui.live_chart._tooltips_on_hover.)"""
    return _shown(cells, ["capture", "model", "layer", "shares"], bins).transform_calculate(
        share="datum.shares[datum.bin]"
    ).transform_lookup(
        lookup="bin", from_=alt.LookupData(alt.NamedData("bins"), key="bin", fields=["lo", "hi"])
    ).transform_lookup(
        lookup="capture", from_=alt.LookupData(alt.NamedData("captures"), key="capture", fields=["step"])
    ).mark_rect(opacity=0.85).encode(
        alt.X("lo:Q", title=titles["x"], scale=alt.Scale(domain=list(domain), nice=False), axis=FLUSH),
        alt.X2("hi:Q"),
        alt.Y("share:Q", title=titles["y"], scale=alt.Scale(type="sqrt", domain=[0, 1], clamp=True),
              axis=alt.Axis(format="%", tickCount=3)),
        _model(None, legend=False),
        tooltip=[_tip("layer:N", titles["layer"]), _tip("step:Q", titles["step"]), _tip("model:N", titles["model"]),
                 _tip("lo:Q", titles["lo"], ".3f"), _tip("hi:Q", titles["hi"], ".3f"),
                 _tip("share:Q", titles["y"], ".2%")])


# Rows, columns and colours in their names' order, which is the layers' and the models' own
# (tests/pages/test_batchnorm_page.py checks it). A sort given as a list is computed before the
# histograms' cells are looked up, where it finds no name; and it is a formula on every row, which
# makes Vega count the facet's rows anew from all of them at each refresh (work and garbage that
# grew with the history: the gradients' tab made ~0.7 MB a refresh at 2 epochs).
BY_NAME = "ascending"


def hist_grid(*, titles: dict, domain, bins: int, cell_width: int = 250, cell_height: int = 88) -> alt.FacetChart:
    """Every hidden layer at once: rows conv1 … fc2, columns LeNet | LeNet-BN, the same axes in
    every cell of a row (``titles``: x, y, layer, step, model, lo, hi; ``bins``: the run's)."""
    cells = len(MODEL_ORDER) * len(HIDDEN_LAYERS)
    return _bars(titles, domain, cells, bins).properties(width=cell_width, height=cell_height).facet(
        row=alt.Row("layer:N", title=None, sort=BY_NAME, header=alt.Header(labelAngle=0, labelAlign="left")),
        column=alt.Column("model:N", title=None, sort=BY_NAME), spacing=COLUMN_GAP
    ).add_params(scrub()).properties(usermeta=CANVAS)


def hist_chart(*, titles: dict, domain, bins: int, cell_width: int = 330, height: int = 200) -> alt.FacetChart:
    """One layer's histogram, large, BN and no-BN side by side."""
    return _bars(titles, domain, len(MODEL_ORDER), bins).properties(height=height, width=cell_width).facet(
        column=alt.Column("model:N", title=None, sort=BY_NAME), spacing=COLUMN_GAP
    ).add_params(scrub()).properties(usermeta=CANVAS)


def ridge_chart(*, x_title: str, y_title: str, model_title: str, share_title: str, domain,
                height: int = 320) -> alt.FacetChart:
    """Histograms over time, offset like TensorBoard's ("data": step, model, x, base, top):
    one ridge per capture, later ones lower."""
    return _data().mark_area(opacity=0.55, strokeWidth=0.8, interpolate="monotone").encode(
        alt.X("x:Q", title=x_title, scale=alt.Scale(domain=list(domain), nice=False), axis=FLUSH),
        alt.Y("top:Q", title=y_title, axis=None),
        alt.Y2("base:Q"),
        _model(model_title, legend=False),
        detail="step:Q",
        tooltip=[_tip("step:Q", y_title), _tip("model:N", model_title), _tip("x:Q", x_title, ".2f"),
                 _tip("share:Q", share_title, ".2%")],
    ).properties(height=height, width=300).facet(
        column=alt.Column("model:N", title=None, sort=BY_NAME), spacing=COLUMN_GAP).properties(usermeta=CANVAS)


def percentile_chart(*, x_title: str, y_title: str, model_title: str, start_title: str, total_steps: int,
                     height: int = 300) -> alt.LayerChart:
    """The BN paper's Figure 1 ("data": capture, step, model, p15, p50, p85): the 15–85th percentile
    band and the median of both models over steps, on a range that only grows (parameters ``y_lo``,
    ``y_hi``: they change as the run goes, the spec does not), with each model's starting median
    as a dotted rule ("start": model, p50) and the scrubber's step as a grey one."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    y_scale = alt.Scale(domain=alt.ExprRef(expr="[y_lo, y_hi]"), clamp=True, nice=False)
    band = _data().mark_area(opacity=0.25).encode(
        x, alt.Y("p15:Q", title=y_title, scale=y_scale), alt.Y2("p85:Q"), _model(model_title))
    median = _data().mark_line(strokeWidth=2).encode(
        x, alt.Y("p50:Q"), _model(model_title),
        tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title), _tip("p15:Q", "p15", ".3f"),
                 _tip("p50:Q", "p50", ".3f"), _tip("p85:Q", "p85", ".3f")])
    start = _data("start").mark_rule(strokeDash=[2, 3], strokeWidth=1.5).encode(
        alt.Y("p50:Q"), _model(model_title),
        tooltip=[_tip("model:N", model_title), _tip("p50:Q", start_title, ".3f")])
    return alt.layer(band, median, start, _scrub_rule(_data(), x)).add_params(
        alt.param(name="y_lo", value=0), alt.param(name="y_hi", value=1), scrub()
    ).properties(height=height, usermeta=CANVAS)


def gamma_beta_chart(*, x_title: str, y_title: str, param_title: str, channels: int,
                     height: int = 220) -> alt.Chart:
    """γ and β of every channel at the scrubber's capture ("data": key, capture, step, channel,
    parameter, value of every capture, 2 · ``channels`` rows a capture), side by side per channel;
    the chart fits its width whatever the number of channels (fc1 has 120)."""
    return _shown(2 * channels, ["channel", "parameter", "value"]).mark_bar().encode(
        alt.X("channel:O", title=x_title,
              axis=alt.Axis(labelExpr="datum.value % 10 == 0 ? datum.label : ''", labelAngle=0)),
        alt.XOffset("parameter:N"),
        alt.Y("value:Q", title=y_title),
        alt.Color("parameter:N", title=param_title, scale=alt.Scale(range=PALETTE[2:4]),
                  legend=alt.Legend(orient="bottom")),
        tooltip=[_tip("channel:O", x_title), _tip("parameter:N", param_title), _tip("value:Q", y_title, ".4f")],
    ).add_params(scrub()).properties(height=height, usermeta=CANVAS)


def bn_stats_chart(*, x_title: str, channel_title: str, source_title: str, value_title: str, source_order: list[str],
                   total_steps: int, height: int = 200) -> alt.FacetChart:
    """Running (EWMA, solid) vs batch (dots) mean μ and variance σ² of a few channels over steps
    ("data": capture, step, channel, statistic, source, value), x fixed to the whole run, the
    scrubber's step a grey rule."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    base = alt.Chart().encode(
        x, alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        alt.Color("channel:N", title=channel_title, scale=alt.Scale(range=PALETTE), legend=alt.Legend(orient="bottom")),
        tooltip=[_tip("step:Q", x_title), _tip("channel:N", channel_title), _tip("statistic:N", value_title),
                 _tip("source:N", source_title), _tip("value:Q", value_title, ".4f")])
    running = base.mark_line(strokeWidth=2).transform_filter(alt.datum.source == source_order[0])
    batch = base.mark_point(size=14, opacity=0.6).transform_filter(alt.datum.source == source_order[1])
    return alt.layer(batch, running, _scrub_rule(alt.Chart(), x), data=alt.NamedData("data")).properties(
        height=height, width=300).facet(
        column=alt.Column("statistic:N", title=None)).resolve_scale(y="independent").add_params(
        scrub()).properties(usermeta=CANVAS)


def grad_chart(*, x_title: str, y_title: str, layer_title: str, model_title: str, total_steps: int,
               height: int = 220) -> alt.FacetChart:
    """‖∇W‖ per layer over steps, log y ("data": step, model, layer, norm); sigmoid LeNet's early
    layers sit far below the last; the scrubber's step a grey rule."""
    x = alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)]))
    lines = alt.Chart().mark_line(strokeWidth=1.5).encode(
        x, alt.Y("norm:Q", title=y_title, scale=alt.Scale(type="log")),
        alt.Color("layer:N", title=layer_title, scale=alt.Scale(range=PALETTE),
                  sort=BY_NAME, legend=alt.Legend(orient="bottom")),
        tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title), _tip("layer:N", layer_title),
                 _tip("norm:Q", y_title, ".3e")])
    return alt.layer(lines, _scrub_rule(alt.Chart(), x), data=alt.NamedData("data")).properties(
        height=height, width=300).facet(
        column=alt.Column("model:N", title=None, sort=BY_NAME)).add_params(scrub()).properties(usermeta=CANVAS)


def accuracy_bars(*, x_title: str, y_title: str, mode_title: str, mode_order: list[str],
                  height: int = 240) -> alt.Chart:
    """Test accuracy per way of normalising at test time ("data": what, mode, accuracy)."""
    return _data().mark_bar().encode(
        alt.X("what:N", title=x_title, sort=None, axis=alt.Axis(labelAngle=0, labelLimit=160)),
        alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        alt.Color("mode:N", title=mode_title, scale=alt.Scale(domain=mode_order, range=PALETTE[:len(mode_order)]),
                  legend=alt.Legend(orient="bottom")),
        tooltip=[_tip("what:N", ""), _tip("mode:N", mode_title), _tip("accuracy:Q", y_title, ".3f")],
    ).properties(height=height, usermeta=CANVAS)


def probe_chart(*, field: str, x_title: str, y_title: str, model_title: str, total_steps: int,
                height: int = 240) -> alt.Chart:
    """One landscape measure of both models over training ("data": step, model, variation,
    predictiveness), log y."""
    return _data().mark_line(point=True, strokeWidth=1.5).encode(
        alt.X("step:Q", title=x_title, scale=alt.Scale(domain=[0, max(1, total_steps)])),
        alt.Y(f"{field}:Q", title=y_title, scale=alt.Scale(type="log")),
        _model(model_title),
        tooltip=[_tip("step:Q", x_title), _tip("model:N", model_title), _tip(f"{field}:Q", y_title, ".3e")],
    ).properties(height=height, usermeta=CANVAS)


def sweep_accuracy_chart(*, x_title: str, y_title: str, model_title: str, diverged_label: str,
                         height: int = 300) -> alt.LayerChart:
    """The learning-rate sweep: test accuracy against α (log axis) for both models ("acc": lr,
    model, accuracy, diverged); a diverged run is an ✕ at the bottom."""
    x = alt.X("lr:Q", title=x_title, scale=alt.Scale(type="log"))
    tips = [_tip("model:N", model_title), _tip("lr:Q", x_title, ".3g")]
    line = _data("acc").transform_filter("!datum.diverged").mark_line(point=True).encode(
        x, alt.Y("accuracy:Q", title=y_title, scale=alt.Scale(domain=[0, 1])), _model(model_title),
        tooltip=[*tips, _tip("accuracy:Q", y_title, ".3f")])
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
        tooltip=[_tip("model:N", model_title), _tip("lr:N", lr_title), _tip("step:Q", x_title),
                 _tip("loss:Q", y_title, ".3f")],
    ).properties(height=height, usermeta=CANVAS)

