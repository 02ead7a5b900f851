"""The BatchNorm page's panels and exports (the run controls and status: bnviz.ui.batchnorm.controls).

Every panel draws from a :class:`View` — the run, its snapshot, and whether this page owns it.
Chart data is computed once per run, snapshot version and view (:meth:`bnviz.training.watching.WatchedRun.shared`)
as append-only tables (:mod:`bnviz.training.live_tables`); the charts that follow training are
live charts (:mod:`bnviz.ui.live_chart`): mounted once, each refresh sends them only the rows a
viewer has not seen, and a step scrubber moves them through the history in the browser. Thirty
watchers share one computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from bnviz import training
from bnviz.batchnorm import population, probe, scratch
from bnviz.batchnorm.models import HIDDEN_LAYERS, LABELS, MODELS, WIDTHS
from bnviz.training import bn_frames, histograms, live_tables
from bnviz.ui import browser_controls, live_chart, page_feed
from bnviz.ui.batchnorm import charts
from bnviz.ui.batchnorm.session import VIEW, control
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import current_language, listing, t, text
from bnviz.ui.page import as_text
from bnviz.ui.vega import vega_spec


@dataclass
class View:
    run: object  # bnviz.training.watching.WatchedRun
    snap: training.Snapshot
    owner: bool

    @property
    def job(self) -> training.Job:
        return self.run.job

    @property
    def source(self) -> str:
        """What this run's live tables are of (:mod:`bnviz.training.live_tables`): its history, named
        uniquely in this server (a history's serial is its process's: a Ray worker's may repeat)."""
        return f"{self.run.code}/history{self.snap.history}"

    def table(self, key, make, captures: bool = False):
        """A live table, ``make(snapshot, source)``, shared by every viewer of this snapshot."""
        return self.value(("table", key), lambda: make(self.snap, self.source), captures)

    def value(self, key, make, captures: bool = False, form: str = ""):
        """``make()``, shared by every viewer of this snapshot (with ``captures``: of these captures)."""
        if captures:
            return self.run.shared(("captures", form, key), self.snap.capture_version, make)
        return self.run.shared((form, key), self.snap.version, make)


def chart(builder, data: dict, key: str, **options) -> None:
    st.vega_lite_chart(present(vega_spec(builder, data, **options)), width="stretch", key=key)


# ---- the panels -------------------------------------------------------------------------------

def layer_picker() -> str:
    # The picker lives in several tabs; a copy outside widget state keeps the choice between them.
    if st.session_state.get("bn_layer") not in VIEW["layer"].options:
        st.session_state["bn_layer"] = st.session_state.get("_bn_layer", VIEW["layer"].default)
    layer = st.segmented_control(t("bn_layer"), VIEW["layer"].options, key="bn_layer", required=True)
    st.session_state["_bn_layer"] = layer
    return layer


def panel_loss(v: View) -> None:
    st.caption(t("bn_explain_loss"))
    snap = v.snap
    c1, c2 = st.columns(2)
    with c1:
        live_chart.live(charts.loss_chart, v, "bn_chart_loss",
                        lambda w: {"loss": w.table("loss", live_tables.loss),
                                   "marks": w.table("marks", live_tables.marks)},
                        x_title=t("axis_step"), y_title=t("bn_axis_loss"), model_title=t("bn_model"),
                        lr_title=t("bn_lr_changed"), total_steps=snap.total_steps)
    metrics = {"train_acc": t("bn_train_acc"), "test_acc": t("bn_test_acc")}
    with c2:
        key = ("acc", *metrics.values())
        live_chart.live(charts.accuracy_chart, v, "bn_chart_acc",
                        lambda w: {"data": w.table(key, lambda s, run: live_tables.epochs(s, run, metrics))},
                        x_title=t("bn_axis_epoch"), y_title=t("bn_axis_acc"), model_title=t("bn_model"),
                        metric_title=t("bn_metric"), metric_order=list(metrics.values()),
                        epochs_total=snap.config.epochs)
    st.latex(training.LATEX["loss"])


def live_text(key: str, kind: str, make, v: View, draw) -> None:
    """A text that changes as the run trains, ``make(view)`` (see :func:`live_chart.text`): fed,
    or drawn now by ``draw``."""
    if page_feed.fed():
        live_chart.text(key, kind, make, v)
    else:
        draw(make(v))


def _captions(lines: list[str]) -> None:
    for line in lines:
        st.caption(line)


def _paragraphs(lines: list[str]) -> None:
    for line in lines:  # plain text: a number's sign or an underscore is not markdown
        st.markdown(as_text(line))


def _metrics(pairs: list) -> None:
    for col, (label, figure) in zip(st.columns(len(pairs)), pairs):
        col.metric(label, figure)


def panel_hist(v: View) -> None:
    st.caption(t("bn_explain_hist"))
    snap = v.snap
    rng = histograms.ranges(snap.config.activation)
    grid = VIEW["grid"].show()
    layer = None if grid else layer_picker()
    scrubber(v)
    layers = HIDDEN_LAYERS if grid else (layer,)
    for kind in training.KINDS:  # one under the other: each grid keeps its full width
        with st.container():
            st.markdown(f"**{t(f'bn_kind_{kind}', layer=t('bn_every_layer') if grid else layer)}**")
            titles = {"x": t(f"bn_axis_{kind}"), "y": t("bn_axis_share"), "layer": t("bn_layer"),
                      "step": t("axis_step"), "model": t("bn_model"), "lo": t("bn_bin_lo"), "hi": t("bn_bin_hi")}
            live_chart.live(charts.hist_grid if grid else charts.hist_chart, v,
                            f"bn_chart_{'grid' if grid else 'hist'}_{kind}",
                            lambda w, k=kind: {
                                "data": w.table(("hist", k, layers), lambda s, run: live_tables.histograms(
                                    s, run, k, layers), captures=True),
                                "bins": w.table(("bins", k), lambda s, run: live_tables.bins(s, run, k)),
                                "captures": w.table("captures", live_tables.captures, captures=True)},
                            tail=("data",), titles=titles, domain=rng[kind], bins=snap.config.bins)
    lang = current_language()
    live_text("bn_outside", "lines", lambda w: [
        text(lang, "bn_outside", **{**row, "kind": text(lang, f"bn_kind_{row['kind']}", layer=name)})
        for name in layers
        for row in w.value(("outside", name), lambda n=name: bn_frames.outside_rows(w.snap, n), captures=True)],
        v, _captions)
    st.latex(training.LATEX[snap.config.activation])


SCRUB_PLAY = "bn-scrub-play"
SCRUBBER = (browser_controls.Control(charts.SCRUB_ID, "range", key="bn_scrub", wide=True),
            browser_controls.Control(SCRUB_PLAY, "play", target=charts.SCRUB_ID, seconds=8.0))


def scrubber(v: View) -> None:
    """The step scrubber: every chart of one capture shows the capture it is on, every chart over
    time marks its step, all in the browser. It follows the newest capture until it is moved
    (kept as −1), and again once it is moved back to the end."""
    steps = _capture_steps(v).frame.step.tolist()
    last = len(steps) - 1
    kept = st.session_state.setdefault("bn_scrub", -1)
    at = last if kept is None or kept < 0 else min(int(kept), last)
    texts = {charts.SCRUB_ID: {"label": t("bn_scrub"), "template": t("bn_scrub_at"), "labels": steps,
                               "max": last, "follow": True},
             SCRUB_PLAY: {"play": t("bn_scrub_play"), "pause": t("bn_scrub_pause")}}
    browser_controls.panel("bn_scrubber", SCRUBBER, texts, key="bn_scrub_panel", values={charts.SCRUB_ID: at})
    # Fed: its range grows with the captures, each poll sending the steps of the new ones.
    page_feed.chart(f"grow:{charts.SCRUB_ID}", lambda w: {"steps": _capture_steps(w)})
    st.caption(t("bn_scrub_help"))


def _capture_steps(v: View):
    """capture, step of every capture so far (the scrubber's positions), shared by every viewer."""
    return v.table("captures", live_tables.captures, captures=True)


def _grown(kept: dict, key, found) -> tuple[float, float]:
    """A range that only grows (kept in ``kept`` per run and view: this session's), padded by 5 %."""
    before = kept.get(key)
    lo, hi = found if before is None else (min(before[0], found[0]), max(before[1], found[1]))
    kept[key] = (lo, hi)
    pad = 0.05 * (hi - lo) or 0.5
    return lo - pad, hi + pad


def panel_time(v: View) -> None:
    st.caption(t("bn_explain_time"))
    snap = v.snap
    layer = layer_picker()
    kind = VIEW["kind"].show(format_func=lambda k: t(f"bn_kind_{k}", layer=layer))
    scrubber(v)
    activation = snap.config.activation
    kept = st.session_state.setdefault("_bn_ranges", {})

    def percentiles(w):
        return w.table(("pct", layer, kind), lambda s, run: live_tables.percentiles(s, run, layer, kind), captures=True)

    def y_range(w):
        frame = percentiles(w).frame
        found = w.value(("extent", layer, kind), lambda: bn_frames.extent(frame), captures=True) \
            or histograms.ranges(activation)[kind]
        lo, hi = _grown(kept, (w.job.id, layer, kind), found)
        return {"y_lo": lo, "y_hi": hi}

    live_chart.live(charts.percentile_chart, v, "bn_chart_pct",
                    lambda w: {"data": percentiles(w),
                               "start": w.table(("start", layer, kind),
                                                lambda s, run: live_tables.start(s, run, layer, kind), captures=True)},
                    params=y_range, x_title=t("axis_step"), y_title=t(f"bn_axis_{kind}"), model_title=t("bn_model"),
                    start_title=t("bn_start_median"), total_steps=snap.total_steps)
    lang = current_language()

    def drift(w):
        found = w.value(("drift", layer, kind), lambda: bn_frames.drift(w.snap, layer, kind, percentiles(w).frame),
                        captures=True)
        return [[text(lang, "bn_drift", model=label), f"{found[label]:.3f}"] for label in LABELS.values()]

    live_text("bn_drift", "metrics", drift, v, _metrics)
    st.markdown(f"**{t('bn_ridge')}**")
    live_chart.live(charts.ridge_chart, v, "bn_chart_ridge",
                    lambda w: {"data": w.table(("ridge", layer, kind), lambda s, run: live_tables.ridges(
                        s, run, layer, kind, charts.RIDGE_GAIN), captures=True)},
                    x_title=t(f"bn_axis_{kind}"), y_title=t("axis_step"), model_title=t("bn_model"),
                    share_title=t("bn_axis_share"), domain=histograms.ranges(activation)[kind])


def panel_bn(v: View) -> None:
    st.caption(t("bn_explain_internals"))
    snap = v.snap
    layer = layer_picker()
    scrubber(v)
    for key in ("mean", "var", "normalise", "scale", "running"):
        st.latex(scratch.LATEX[key])
    st.markdown(f"**{t('bn_gamma_beta', layer=layer)}**")
    live_chart.live(charts.gamma_beta_chart, v, "bn_chart_gb",
                    lambda w: {"data": w.table(("gb", layer), lambda s, run: live_tables.gamma_beta(s, run, layer),
                                               captures=True)}, tail=("data",),
                    x_title=t("bn_channel"), y_title=t("bn_value"), param_title=t("bn_parameter"),
                    channels=WIDTHS[layer])
    st.markdown(f"**{t('bn_running_vs_batch', layer=layer)}**")
    sources = {"running": t("bn_running"), "batch": t("bn_batch")}  # in the page's language, for the feed too
    live_chart.live(charts.bn_stats_chart, v, "bn_chart_stats",
                    lambda w: {"data": w.table(("stats", layer, *sources.values()),
                                               lambda s, run: live_tables.bn_stats(s, run, layer, sources),
                                               captures=True)},
                    x_title=t("axis_step"), channel_title=t("bn_channel"), source_title=t("bn_source"),
                    value_title=t("bn_value"), source_order=list(sources.values()), total_steps=snap.total_steps)
    st.page_link("pages/ewma.py", label=t("bn_link_ewma"), icon=":material/show_chart:")
    st.caption(t(f"bn_unbiased_{snap.config.bn_impl}"))
    st.latex(scratch.LATEX["unbiased"])


def panel_grad(v: View) -> None:
    st.caption(t("bn_explain_grad"))
    scrubber(v)
    live_chart.live(charts.grad_chart, v, "bn_chart_grad",
                    lambda w: {"data": w.table("grad", live_tables.grads, captures=True)},
                    x_title=t("axis_step"), y_title=t("bn_axis_grad"), layer_title=t("bn_layer"),
                    model_title=t("bn_model"), total_steps=v.snap.total_steps)


MEASURES = {"test_time": lambda job, progress: job.readouts().test_time_now(),
            "population": lambda job, progress: job.readouts().population(progress)}


def _ask(name: str) -> None:
    """Button callback: measure ``name`` on this run (done by the page, with a progress bar)."""
    st.session_state["bn_measure_next"] = name


def _measure_if_asked(v: View) -> None:
    """A reading the owner asked for, kept on the run for every viewer."""
    name = st.session_state.pop("bn_measure_next", None)
    job = v.job
    if name not in MEASURES or not v.owner or job.state == "running":
        return
    bar = st.progress(0.0, text=t("bn_measuring"))
    try:
        value = MEASURES[name](job, lambda done, total: bar.progress(min(1.0, done / max(1, total)),
                                                                     text=t("bn_measuring")))
        v.run.results[name] = (job.id, job.steps_done, value)
    except training.ConfigError as err:
        st.warning(t(f"err_{err.key}", **err.params))
    bar.empty()


def readings_shown(v: View) -> tuple:
    """What the test panel shows: the test-time demonstration (eval vs train mode: the finished
    run's, or one the owner measured since the last step) and the population statistics' reading,
    each ``(job id, step, value)`` or None."""
    kept = v.run.result("test_time")
    if not kept or v.snap.test_time is not None and kept[1] < v.snap.step:
        kept = (v.job.id, v.snap.step, v.snap.test_time) if v.snap.test_time is not None else None
    return kept, v.run.result("population")


def panel_test(v: View) -> None:
    st.caption(t("bn_explain_test", batches=listing(v.snap.config.test_time_batches)))
    st.latex(scratch.LATEX["eval"])
    snap = v.snap
    _measure_if_asked(v)
    kept, pop = readings_shown(v)
    result = kept and kept[2]
    if snap.measuring:  # the run's end is on the page already; its demonstration follows
        st.info(t("bn_test_measuring"), icon=":material/hourglass_top:")
    elif v.owner and snap.state != "running":
        c1, c2 = st.columns(2)
        c1.button(t("bn_measure_now"), on_click=_ask, args=("test_time",), key="bn_measure",
                  icon=":material/science:")
        c2.button(t("bn_population_now"), on_click=_ask, args=("population",), key="bn_population",
                  icon=":material/functions:", help=t("bn_population_help"))
    elif v.owner:
        st.caption(t("bn_test_pause"))
    if result is None and pop is None:
        if not snap.measuring:
            st.info(t("bn_test_when"))
        return
    modes = {"eval": t("bn_mode_kept"), "train": t("bn_mode_batch")}
    rows = []
    if result is not None:
        rows += [(t("bn_what_running"), modes["eval"], result["rows"][0]["eval"])]
        rows += [(t("bn_what_batch", b=r["batch"]), modes["train"], r["train"]) for r in result["rows"]]
    if pop is not None:
        acc = pop[2]["accuracy"]
        rows += [(t("bn_what_population"), modes["eval"], acc["population"]),
                 (t("bn_what_population_unbiased"), modes["eval"], acc["population_unbiased"])]
    frame = pd.DataFrame(rows, columns=["what", "mode", "accuracy"])
    chart(charts.accuracy_bars, {"data": frame}, "bn_chart_test", x_title="", y_title=t("bn_axis_acc"),
          mode_title=t("bn_mode"), mode_order=list(modes.values()))
    if result is not None:
        st.caption(t("bn_test_n", n=result["n"]))
    if pop is not None:
        population_table(pop[1], pop[2])


def population_table(step: int, pop: dict) -> None:
    st.markdown(f"**{t('bn_population_header', step=step, n=pop['n_train'])}**")
    st.latex(population.LATEX["population"] + r",\qquad " + population.LATEX["unbiased"])
    momenta = [pop["momentum"], *pop["alt_momenta"]]
    rows = []
    for layer, entry in pop["layers"].items():
        row = {t("bn_layer"): layer}
        for m in momenta:
            gap = entry["gap"]["running" if m == pop["momentum"] else m]
            row[t("bn_gap_mean", m=m)] = round(gap["mean"], 4)
            row[t("bn_gap_var", m=m)] = round(gap["var"], 4)
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(t("bn_gap_explain", m=pop["momentum"]))
    st.caption(t("bn_why_ewma"))


def panel_hand(v: View) -> None:
    """One batch worked through one BN layer and channel: the numbers beside the formulas, fed
    while the run trains (each step a new batch)."""
    st.caption(t("bn_explain_hand"))
    layer = layer_picker()
    VIEW["channel"].init()
    st.session_state["bn_channel"] = min(int(st.session_state["bn_channel"]), WIDTHS[layer] - 1)
    channel = int(st.number_input(t("bn_channel"), 0, WIDTHS[layer] - 1, key="bn_channel"))
    lang = current_language()

    def worked(w: View) -> dict:
        return w.value(("hand", layer, channel), lambda: w.job.readouts().by_hand(layer, channel))

    def row(values) -> str:
        return ", ".join(f"{x:.4f}" for x in values) + ", …"

    live_text("bn_hand_batch", "lines", lambda w: [text(lang, "bn_hand_batch", step=worked(w)["step"],
                                                        m=worked(w)["m"])], v, _captions)
    st.latex(scratch.LATEX["mean"])
    st.latex(scratch.LATEX["var"])
    live_text("bn_hand_stats", "paragraphs", lambda w: [
        f"μ_B = {worked(w)['mean']:.5f},  σ²_B = {worked(w)['var']:.5f}", f"x = {row(worked(w)['x'])}"], v, _paragraphs)
    st.latex(scratch.LATEX["normalise"])
    live_text("bn_hand_normalised", "paragraphs", lambda w: [f"x̂ = {row(worked(w)['x_hat'])}"], v, _paragraphs)
    st.latex(scratch.LATEX["scale"])
    live_text("bn_hand_scaled", "paragraphs", lambda w: [
        f"γ = {worked(w)['gamma']:.4f},  β = {worked(w)['beta']:.4f}", f"y = {row(worked(w)['y'])}"], v, _paragraphs)
    st.latex(scratch.LATEX["running"])

    def running(w: View) -> list[str]:
        done = worked(w)
        return [text(lang, "bn_hand_running", m=done["momentum"], mean0=f"{done['running_mean']:.5f}",
                     mean1=f"{done['new_running_mean']:.5f}", var0=f"{done['running_var']:.5f}",
                     var1=f"{done['new_running_var']:.5f}", batch_var=f"{done['batch_var_to_running']:.5f}",
                     factor="m/(m−1)·σ²_B" if done["unbiased"] else "σ²_B")]

    live_text("bn_hand_running", "paragraphs", running, v, _paragraphs)
    if v.owner and v.snap.state != "running":
        st.button(t("bn_step"), on_click=control, args=("step",), key="bn_hand_step", icon=":material/skip_next:",
                  help=t("bn_hand_step_help"))


def _probes(v: View) -> live_tables.Table:
    return v.table("probe", live_tables.probes, captures=True)


def panel_smooth(v: View) -> None:
    """Santurkar et al. (2018): how much the loss and its gradient change along each step."""
    st.caption(t("bn_explain_smooth"))
    snap = v.snap
    st.latex(probe.LATEX["variation"])
    st.latex(probe.LATEX["predictiveness"])
    step = snap.config.probe_step
    st.caption(t("bn_probe_fair", s=f"{step:g}") if step > 0 else t("bn_probe_own"))
    if _probes(v).frame.empty:
        st.info(t("bn_no_probe"))
        return
    c1, c2 = st.columns(2)
    for col, field in zip((c1, c2), ("variation", "predictiveness")):
        with col:
            st.markdown(f"**{t(f'bn_probe_{field}')}**")
            live_chart.live(charts.probe_chart, v, f"bn_chart_probe_{field}", lambda w: {"data": _probes(w)},
                            field=field, x_title=t("axis_step"), y_title=t(f"bn_probe_{field}"),
                            model_title=t("bn_model"), total_steps=snap.total_steps)
    lang = current_language()

    def verdict(w: View) -> list[str]:
        medians = w.value("probe_medians", lambda: bn_frames.probe_summary(_probes(w).frame), captures=True)
        if len(medians) != 2:
            return []
        plain, normed = (medians[LABELS[m]] for m in MODELS)
        smoother = all(normed[k] < plain[k] for k in ("variation", "predictiveness"))
        return [text(lang, "bn_probe_verdict_yes" if smoother else "bn_probe_verdict_no",
                     v0=f"{plain['variation']:.3g}", v1=f"{normed['variation']:.3g}",
                     p0=f"{plain['predictiveness']:.3g}", p1=f"{normed['predictiveness']:.3g}")]

    live_text("bn_probe_verdict", "paragraphs", verdict, v, _paragraphs)


PANELS = {"loss": panel_loss, "hist": panel_hist, "time": panel_time, "bn": panel_bn, "grad": panel_grad,
          "test": panel_test, "hand": panel_hand, "smooth": panel_smooth}
NEEDS_CAPTURE = ("hist", "time", "bn", "grad")


def shape(name: str, v: View):
    """What of panel ``name`` the feed does not compute: while it stays the same the panel is fed,
    a change draws it anew (a fragment run). The test panel's readings (taken when the owner asks,
    or when the run ends); whether the smoothness probe has measured yet."""
    if name == "test":
        return tuple(reading[:2] if reading else None for reading in readings_shown(v))
    if name == "smooth":
        return _probes(v).frame.empty
    return None


def panel(name: str, v: View) -> None:
    """One tab's content."""
    if name in NEEDS_CAPTURE and not v.snap.captures:
        st.info(t("bn_no_capture"))
        return
    PANELS[name](v)


def exports(job: training.Job) -> None:
    """The run's history (CSV, JSON) and weights, read when clicked: they need no refresh."""
    c1, c2, c3 = st.columns(3)
    c1.download_button(t("bn_dl_csv"), lambda: bn_frames.history_csv(job.snapshot()),
                       file_name="bnviz_history.csv", mime="text/csv", icon=":material/download:",
                       key="bn_dl_csv")
    c2.download_button(t("bn_dl_json"), lambda: bn_frames.history_json(job.snapshot()),
                       file_name="bnviz_history.json", mime="application/json",
                       icon=":material/download:", key="bn_dl_json")
    c3.download_button(t("bn_dl_weights"), job.readouts().export_weights, file_name="bnviz_lenet_weights.pt",
                       mime="application/octet-stream", icon=":material/download:", key="bn_dl_w",
                       disabled=getattr(job, "lost", False))  # its machine died with the weights

