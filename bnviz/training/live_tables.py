"""The BatchNorm page's live charts as append-only tables (:class:`bnviz.server.feeds.Table`).

A viewer's browser keeps every row it has received and is sent only the rows after them, so each
table here only ever grows while its ``source`` stays the same: rows are ordered by what they
belong to — a capture's position in the history, a step of the loss, an epoch — which is their
version, and a row is added only once it is final. Whatever would change rows already sent starts
a new source: another run (a Reset makes a new history), layer or kind, or the history thinned
(``Snapshot.thinned``: every other capture dropped). Histograms of *every* capture are kept, so
the browser can show any capture (the page's step scrubber) without asking the server;
``capture`` numbers them from 0 within a source.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from bnviz.batchnorm.models import HIDDEN_LAYERS, LABELS, MODELS, WEIGHTED, WIDTHS
from bnviz.server.feeds import Table, whole
from bnviz.training import bn_frames
from bnviz.training.captures import KINDS
from bnviz.training.history import Snapshot

MODEL_LABELS = [LABELS[m] for m in MODELS]
LOSS_POINTS = 1000  # at most this many steps of the loss curve (every k-th step, k fixed per run)
RIDGE_ROWS = 24  # about this many ridges over a whole run


def _captured(run: str, snap: Snapshot, table: str, *view) -> str:
    """The source of a table of captures: the run, how often its history was thinned, which table
    and view (every table its own: the page's Arrow cache is keyed by source)."""
    return "/".join([run, f"t{snap.thinned}", table, *view])


def _labels(values, order) -> pd.Categorical:
    return pd.Categorical(values, categories=list(order))


@functools.lru_cache(maxsize=64)
def _categories(order: tuple) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(order))  # its labels checked once, not on every poll


def _coded(codes, order) -> pd.Categorical:
    """The labels ``order[code]`` for ``codes`` (−1: missing), as :func:`_labels` gives them,
    without comparing text (a hundredth of its time on a few thousand rows: pandas' strings are Arrow's)."""
    order = tuple(order)  # codes as small as the order allows: an int8 would wrap past 127 labels
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int8 if len(order) < 128 else np.int32),
                                     dtype=_categories(order))


def _positions(snap: Snapshot) -> np.ndarray:
    """Each capture's position, the version of its rows: within one source the list of captures
    only grows, and a capture's step is no version (a Step pressed at a capture step captures it
    again)."""
    return np.arange(1, len(snap.captures) + 1, dtype=np.int64)


def captures(snap: Snapshot, run: str) -> Table:
    """capture, step: what the scrubber's positions are."""
    frame = pd.DataFrame({"capture": np.arange(len(snap.captures), dtype=np.int32),
                          "step": np.array([c.step for c in snap.captures], dtype=np.int64)})
    return Table(_captured(run, snap, "captures"), frame, _positions(snap))


def loss(snap: Snapshot, run: str) -> Table:
    """step, model, loss: every k-th step (k = ⌈total steps / LOSS_POINTS⌉, fixed for the run) up
    to the last step the trainer has handed over; a diverged model's NaN rows left out."""
    every = max(1, math.ceil(snap.total_steps / LOSS_POINTS))
    finite = np.flatnonzero(np.isfinite(snap.loss).any(axis=1))
    ready = int(finite[-1]) + 1 if finite.size else 0  # later rows are not drained yet
    steps = np.arange(every, ready + 1, every)
    values = snap.loss[steps - 1].astype(np.float32)  # (steps, model)
    frame = pd.DataFrame({"step": np.repeat(steps, 2),
                          "model": _coded(np.tile(np.arange(len(MODEL_LABELS)), len(steps)), MODEL_LABELS),
                          "loss": values.ravel()})
    keep = np.isfinite(frame.loss.to_numpy())
    return Table(f"{run}/loss", frame[keep].reset_index(drop=True), frame.step.to_numpy()[keep])


def epochs(snap: Snapshot, run: str, metrics: dict[str, str]) -> Table:
    """epoch, model, metric, value of ``metrics`` (name → the label shown): each epoch's rows
    together (the epoch is their version), its metrics in :data:`bn_frames.EPOCH_METRICS`' order,
    each metric's models in order; built from arrays (every poll of the loss panel builds it)."""
    names = [m for m in bn_frames.EPOCH_METRICS if m in metrics]
    epoch = np.asarray(snap.epochs["epoch"], dtype=np.int64)
    n_models = len(MODEL_LABELS)
    values = np.stack([np.asarray(snap.epochs[m], dtype=np.float64).reshape(len(epoch), n_models) for m in names],
                      axis=1) if names else np.zeros((len(epoch), 0, n_models))  # (epoch, metric, model)
    per_epoch = len(names) * n_models
    frame = pd.DataFrame({
        "epoch": np.repeat(epoch, per_epoch),
        "model": _coded(np.tile(np.arange(n_models), len(epoch) * len(names)), MODEL_LABELS),
        "metric": _coded(np.tile(np.repeat([list(metrics).index(m) for m in names], n_models), len(epoch)),
                         metrics.values()),
        "value": values.reshape(-1)})
    return Table("/".join([run, "epochs", *metrics.values()]), frame, frame.epoch.to_numpy())


def marks(snap: Snapshot, run: str) -> Table:
    """The loss chart's marks (learning-rate changes, divergences), sent whole when one is added."""
    return whole(f"{run}/marks/{len(snap.lr_changes)}/{len(snap.diverged)}", bn_frames.marks_frame(snap))


def bins(snap: Snapshot, run: str, kind: str) -> Table:
    """bin (0, 1, …), lo, hi: the histogram's bins of ``kind`` (the same for the run)."""
    edges = snap.edges[kind]
    return whole(f"{run}/bins/{kind}", pd.DataFrame({"bin": np.arange(len(edges) - 1, dtype=np.int32),
                                                     "lo": edges[:-1], "hi": edges[1:]}))


def histograms(snap: Snapshot, run: str, kind: str, layers=HIDDEN_LAYERS) -> Table:
    """key, capture, model, layer, the share of the capture's sample in each bin (``shares``:
    one float32 array per row, bin 0 first) and the values its bins counted (``sample``: each
    share is a count of them over it, which the feed sends as counts, a half of the bytes or
    less: :func:`bnviz.server.live_feed.rows_json`), for every capture and each of ``layers``: one row
    per histogram, so that the browser finds the capture it shows among a few thousand rows, not
    a few hundred thousand — and keeps each row's shares as one array: fifty numbers a row as
    fifty fields were most of what its garbage collector went through on every refresh. ``key``
    = capture · cells + model · len(layers) + layer (cells = 2 · len(layers)): the chart looks a
    capture's histograms up by it instead of going through every row for them. Built anew from
    every capture (~3 ms at 280 captures), not kept between calls as the tables of captures below
    are: a float32 array a row is a Python object a row, and a server keeps those tables after
    their run has ended (tens of thousands of objects a run)."""
    ki = KINDS.index(kind)
    picked = [HIDDEN_LAYERS.index(name) for name in layers]
    n_bins = len(snap.edges[kind]) - 1
    if not snap.captures:
        share, totals = np.zeros((0, len(MODEL_LABELS), len(picked), n_bins)), np.zeros((0, 1))
    else:
        counts = np.stack([c.hist for c in snap.captures])[:, :, picked, ki].astype(float)  # capture, model, layer, bin
        totals = counts.sum(axis=-1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n_cap, n_models, n_layers, _ = share.shape
    index = np.indices((n_cap, n_models, n_layers)).reshape(3, -1)
    frame = pd.DataFrame({"key": np.arange(n_cap * n_models * n_layers, dtype=np.int32),
                          "capture": index[0].astype(np.int32),
                          "model": _coded(index[1], MODEL_LABELS),
                          "layer": _coded(index[2], layers),
                          "shares": pd.Series(list(share.reshape(-1, n_bins).astype(np.float32)), dtype=object),
                          "sample": np.rint(totals).astype(np.int32).reshape(-1)})
    return Table(_captured(run, snap, "hist", kind, *layers), frame, index[0] + 1)


# source → (items so far, their rows): a table of captures (or probes) grows by its new items'
# rows only, instead of every item's rows built anew for each new one (~0.4 ms a capture: 200 ms
# a refresh at 500 captures, holding the lock the training thread needs; ~3 ms a probe).
_GROWN: OrderedDict = OrderedDict()
_GROWN_LOCK = threading.Lock()
GROWN_TABLES = 256


def _stacked(parts: list[dict]) -> dict[str, np.ndarray]:
    """The parts' rows, one after another, as columns. A part maps each column to its values, or
    to one value for all its rows (a part of single values only has no rows); one frame is then
    built from these arrays, not one per part (pandas' ~0.4 ms a frame, ten captures a second)."""
    sizes = [max((len(v) for v in part.values() if np.ndim(v)), default=0) for part in parts]
    return {name: np.concatenate([np.asarray(part[name]) if np.ndim(part[name]) else np.full(size, part[name])
                                  for part, size in zip(parts, sizes)])
            for name in parts[0]}


def _appended(source: str, items, rows, finish=pd.DataFrame) -> pd.DataFrame | None:
    """``rows(i, item)`` (columns, as :func:`_stacked` takes them) of every item of ``items``, one
    after another, as a frame (None for no item); ``finish(columns)`` makes the new items' columns
    a typed frame. Within one ``source`` items are only appended: the rows of those seen before
    are kept and only the new ones' are built. The frame is kept for the next call: never change it."""
    with _GROWN_LOCK:
        done, before = _GROWN.get(source, (0, None))
    if done > len(items):  # never within a source; anew, to be safe
        done, before = 0, None
    parts = [rows(i, item) for i, item in enumerate(items[done:], start=done)]
    new = finish(_stacked(parts)) if parts else None
    frame = before if new is None else new if before is None else pd.concat([before, new], ignore_index=True)
    with _GROWN_LOCK:
        _GROWN[source] = (len(items), frame)
        _GROWN.move_to_end(source)
        while len(_GROWN) > GROWN_TABLES:
            _GROWN.popitem(last=False)
    return frame


def _each_capture(snap: Snapshot, rows, columns: list[str], source: str,
                  labels: dict | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows(i, capture)`` (columns: :func:`_stacked`) of every capture, with its position
    ``capture`` and ``step`` first; and each row's version (built once per capture:
    :func:`_appended`). ``model`` and the columns of ``labels`` (name → their order) are
    categorical."""
    ordered = {"model": MODEL_LABELS, **(labels or {})}

    def finish(found: dict) -> pd.DataFrame:  # from arrays: a few rows a capture, pandas' calls the most of it
        typed = {"capture": np.int32, "step": np.int64}
        frame = {name: np.asarray(found.get(name, ()), dtype=typed.get(name)) for name in ["capture", "step", *columns]}
        for name, order in ordered.items():
            if name in frame:
                code = {label: i for i, label in enumerate(order)}
                frame[name] = _coded([code.get(v, -1) for v in frame[name].tolist()], order)
        return pd.DataFrame(frame)

    frame = _appended(source, snap.captures, lambda i, c: {**rows(i, c), "capture": i, "step": c.step}, finish)
    if frame is None:
        frame = finish({})
    return frame, frame.capture.to_numpy(np.int64) + 1


def percentiles(snap: Snapshot, run: str, layer: str, kind: str) -> Table:
    """The BN paper's Figure 1 over every capture: capture, step, model, p15, p50, p85."""
    li, ki = HIDDEN_LAYERS.index(layer), KINDS.index(kind)
    source = _captured(run, snap, "pct", layer, kind)
    frame, versions = _each_capture(snap, lambda i, c: {
        "model": MODEL_LABELS, **dict(zip(("p15", "p50", "p85"), c.pct[:, li, ki].astype(float).T))},
        ["model", "p15", "p50", "p85"], source)
    return Table(source, frame, versions)


def start(snap: Snapshot, run: str, layer: str, kind: str) -> Table:
    """Each model's median at the first capture (model, p50); the same once there is one."""
    frame = bn_frames.percentile_frame(snap, layer, kind)
    table = bn_frames.start_medians(frame) if len(frame) else pd.DataFrame(columns=["model", "p50"])
    return whole(_captured(run, snap, "start", layer, kind, str(len(table))), table)


def ridges(snap: Snapshot, run: str, layer: str, kind: str, gain: float) -> Table:
    """Histograms over time, offset like TensorBoard's: every k-th capture (k fixed for the run,
    about ``RIDGE_ROWS`` ridges at its end) as step, model, x (bin centre), share, base, top =
    base + gain·share, each ridge one row lower than the one before."""
    expected = max(1, snap.total_steps // max(1, snap.config.hist_every))
    every = max(1, math.ceil(expected / RIDGE_ROWS))
    li, ki = HIDDEN_LAYERS.index(layer), KINDS.index(kind)
    edges = snap.edges[kind]
    centres = (edges[:-1] + edges[1:]) / 2

    def ridge(i, c):
        if i % every:  # not a ridge: no rows
            return {"model": np.zeros(0, str), "x": np.zeros(0), "share": np.zeros(0)}
        share = np.concatenate([bn_frames.shares(c.hist[k, li, ki]) for k in range(len(MODEL_LABELS))])
        return {"model": np.repeat(MODEL_LABELS, len(centres)), "x": np.tile(centres, len(MODEL_LABELS)),
                "share": share}

    source = _captured(run, snap, "ridge", layer, kind, str(every))
    frame, versions = _each_capture(snap, ridge, ["model", "x", "share"], source)
    base = -(frame.capture.to_numpy() // every).astype(float)
    frame = frame.drop(columns="capture").assign(base=base, top=base + gain * frame.share.to_numpy())
    return Table(source, frame, versions)


def gamma_beta(snap: Snapshot, run: str, layer: str) -> Table:
    """key, capture, step, channel, parameter (γ / β), value of the BN model's ``layer`` at every
    capture; ``key`` = capture · 2n + channel, + n for β (n: the layer's channels), by which the
    chart looks the capture it shows up."""
    source = _captured(run, snap, "gb", layer)
    n = WIDTHS[layer]

    def rows(i, c):
        found = bn_frames.gamma_beta_columns(c, layer)
        beta = found["parameter"] == "β"
        return {**found, "key": (i * 2 * n + found["channel"] + n * beta).astype(np.int32)}

    frame, versions = _each_capture(snap, rows, ["channel", "parameter", "value", "key"], source,
                                    {"parameter": ["γ", "β"]})
    return Table(source, frame, versions)


def bn_stats(snap: Snapshot, run: str, layer: str, sources: dict[str, str], channels=(0, 1, 2, 3)) -> Table:
    """capture, step, channel, statistic, source, value: running vs batch statistics over training
    (``sources``: running / batch → the label shown)."""
    def rows(i, c):
        rec = c.bn.get(layer)
        found = [(ch, symbol, label, float(rec[f"{source}_{stat}"][ch]))
                 for ch in channels if rec is not None and ch < len(rec["gamma"])
                 for stat, symbol in (("mean", "μ"), ("var", "σ²")) for source, label in sources.items()]
        channel, statistic, source, value = zip(*found) if found else ((), (), (), ())
        return {"channel": np.array(channel, np.int64), "statistic": np.array(statistic, str),
                "source": np.array(source, str), "value": np.array(value, float)}

    source = _captured(run, snap, "stats", layer, *sources.values())
    frame, versions = _each_capture(snap, rows, ["channel", "statistic", "source", "value"], source,
                                    {"statistic": ["μ", "σ²"], "source": list(sources.values())})
    return Table(source, frame, versions)


def grads(snap: Snapshot, run: str) -> Table:
    """capture, step, model, layer, norm: ‖∇W‖₂ per weighted layer over training."""
    def rows(i, c):
        return {"model": np.repeat(MODEL_LABELS, len(WEIGHTED)), "layer": np.tile(WEIGHTED, len(MODEL_LABELS)),
                "norm": c.grad_norm.astype(float).ravel()}

    source = _captured(run, snap, "grads")
    frame, versions = _each_capture(snap, rows, ["model", "layer", "norm"], source)
    return Table(source, frame, versions)


def probes(snap: Snapshot, run: str) -> Table:
    """step, model, variation, predictiveness: the loss landscape along the steps probed (a probe's
    position among them is its rows' version)."""
    source = _captured(run, snap, "probes")

    def finish(found) -> pd.DataFrame:  # labelled once, as its probe's rows are built
        frame = pd.DataFrame(found)
        return frame.assign(model=_labels(frame.model, MODEL_LABELS))

    frame = _appended(source, snap.probes, lambda i, p: {
        **bn_frames.probe_frame(dataclasses.replace(snap, probes=(p,))), "probe": i + 1}, finish)
    if frame is None:
        frame = finish(bn_frames.probe_frame(snap).assign(probe=0))
    return Table(source, frame.drop(columns="probe"), frame.probe.to_numpy(np.int64))


# ---- the learning-rate sweep (the tuning page) --------------------------------------------------

def sweep_accuracy(snap, run: str) -> Table:
    """lr, model, accuracy, diverged: the last finished epoch's test accuracy of every run of the
    sweep (a :class:`bnviz.training.sweep_job.SweepSnapshot`), sent whole after each epoch."""
    from bnviz.training import sweep_job

    acc, _ = sweep_job.frames(snap)
    epochs = len(snap.accuracy[MODELS[0]])
    diverged = sum(at is not None for runs in snap.diverged_at.values() for at in runs)
    return whole(f"{run}/acc/{epochs}/{diverged}", acc)


def sweep_loss(snap, run: str, chosen=()) -> Table:
    """step, model, lr, loss of every run of the sweep (of the rates ``chosen``, all if none),
    ordered by step: each step's losses are its rows' version."""
    from bnviz.training import sweep_job

    _, loss = sweep_job.frames(snap)
    if chosen:
        loss = loss[loss.lr.isin(list(chosen))]
    loss = loss.sort_values("step", kind="stable").reset_index(drop=True)
    loss["model"] = _labels(loss.model, MODEL_LABELS)
    return Table("/".join([run, "loss", *chosen]), loss, loss.step.to_numpy(np.int64))
