"""Tidy frames for the BatchNorm page's charts and exports, built from a training Snapshot.

Charts only ever receive these small frames of binned counts and summary numbers, never raw
activations. Model labels are language-neutral ("LeNet", "LeNet-BN").
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .history import BN_FIELDS, KINDS, Snapshot
from .models import HIDDEN as LAYERS
from .models import LABELS, MODELS, WEIGHTED

MODEL_LABELS = [LABELS[m] for m in MODELS]


def _thin(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spread indices of range(n), always keeping the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _shares(counts: np.ndarray) -> np.ndarray:
    """Histogram counts as shares of their total (all zeros stay zeros)."""
    counts = counts.astype(float)
    total = counts.sum()
    return counts / total if total else counts


def loss_frame(snap: Snapshot, limit: int = 1000) -> pd.DataFrame:
    """Per-step loss of both models (evenly thinned to ``limit`` steps); NaN rows dropped."""
    idx = _thin(len(snap.loss), limit)
    frame = pd.DataFrame({"step": np.tile(idx + 1, 2),
                          "model": np.repeat(MODEL_LABELS, len(idx)),
                          "loss": np.concatenate([snap.loss[idx, 0], snap.loss[idx, 1]])})
    return frame.dropna()


def epoch_frame(snap: Snapshot) -> pd.DataFrame:
    """epoch, model, metric (train_loss / train_acc / test_acc), value."""
    rows = []
    for metric in ("train_loss", "train_acc", "test_acc"):
        values = snap.epochs[metric]
        for e, epoch in enumerate(snap.epochs["epoch"]):
            for k, label in enumerate(MODEL_LABELS):
                rows.append((int(epoch), label, metric, float(values[e, k])))
    return pd.DataFrame(rows, columns=["epoch", "model", "metric", "value"])


def hist_frame(snap: Snapshot, layer: str, capture: int = -1) -> pd.DataFrame:
    """One capture's histograms of ``layer``: model, kind, lo, hi, share (counts / total)."""
    if not snap.captures:
        return pd.DataFrame(columns=["model", "kind", "lo", "hi", "share"])
    c = snap.captures[capture]
    li = LAYERS.index(layer)
    parts = []
    for k, label in enumerate(MODEL_LABELS):
        for ki, kind in enumerate(KINDS):
            edges = snap.edges[kind]
            parts.append(pd.DataFrame({"model": label, "kind": kind, "lo": edges[:-1],
                                       "hi": edges[1:],
                                       "share": _shares(c.hist[k, li, ki])}))
    return pd.concat(parts, ignore_index=True)


def ridge_frame(snap: Snapshot, layer: str, kind: str = "pre", rows: int = 24) -> pd.DataFrame:
    """Histograms over time (TensorBoard's offset view): step, model, x (bin centre), share."""
    if not snap.captures:
        return pd.DataFrame(columns=["step", "model", "x", "share"])
    li, ki = LAYERS.index(layer), KINDS.index(kind)
    edges = snap.edges[kind]
    centres = (edges[:-1] + edges[1:]) / 2
    parts = []
    for i in _thin(len(snap.captures), rows):
        c = snap.captures[i]
        for k, label in enumerate(MODEL_LABELS):
            parts.append(pd.DataFrame({"step": c.step, "model": label, "x": centres,
                                       "share": _shares(c.hist[k, li, ki])}))
    return pd.concat(parts, ignore_index=True)


def percentile_frame(snap: Snapshot, layer: str, kind: str = "pre") -> pd.DataFrame:
    """The BN paper's Figure 1 data: step, model, p15, p50, p85 of ``layer``'s ``kind``."""
    li, ki = LAYERS.index(layer), KINDS.index(kind)
    rows = [(c.step, label, *map(float, c.pct[k, li, ki]))
            for c in snap.captures for k, label in enumerate(MODEL_LABELS)]
    return pd.DataFrame(rows, columns=["step", "model", "p15", "p50", "p85"])


def drift(snap: Snapshot, layer: str = "fc2", kind: str = "pre") -> dict[str, float]:
    """How far the median of ``layer``'s ``kind`` moves from its first capture: max |p50(t) − p50(0)|."""
    frame = percentile_frame(snap, layer, kind)
    out = {}
    for label in MODEL_LABELS:
        p50 = frame.loc[frame.model == label, "p50"].to_numpy()
        out[label] = float(np.nanmax(np.abs(p50 - p50[0]))) if len(p50) else float("nan")
    return out


def outside_frame(snap: Snapshot, layer: str, capture: int = -1) -> pd.DataFrame:
    """Counts under/over the histogram range and non-finite counts of one capture."""
    from .histograms import OUTSIDE

    if not snap.captures:
        return pd.DataFrame(columns=["model", "kind", *OUTSIDE])
    c = snap.captures[capture]
    li = LAYERS.index(layer)
    rows = [(label, kind, *map(int, c.outside[k, li, ki]))
            for k, label in enumerate(MODEL_LABELS) for ki, kind in enumerate(KINDS)]
    return pd.DataFrame(rows, columns=["model", "kind", *OUTSIDE])


def gamma_beta_frame(snap: Snapshot, layer: str, capture: int = -1) -> pd.DataFrame:
    """channel, parameter (gamma / beta), value, for the BN model's ``layer``."""
    if not snap.captures or layer not in snap.captures[capture].bn:
        return pd.DataFrame(columns=["channel", "parameter", "value"])
    rec = snap.captures[capture].bn[layer]
    n = len(rec["gamma"])
    return pd.DataFrame({"channel": np.tile(np.arange(n), 2),
                         "parameter": np.repeat(["gamma", "beta"], n),
                         "value": np.concatenate([rec["gamma"], rec["beta"]]).astype(float)})


def bn_stats_frame(snap: Snapshot, layer: str, channels=(0, 1, 2, 3)) -> pd.DataFrame:
    """step, channel, statistic (mean / var), source (running / batch), value — over training."""
    rows = []
    for c in snap.captures:
        rec = c.bn.get(layer)
        if rec is None:
            continue
        for ch in channels:
            if ch >= len(rec["gamma"]):
                continue
            for stat in ("mean", "var"):
                for source in ("running", "batch"):
                    rows.append((c.step, ch, stat, source, float(rec[f"{source}_{stat}"][ch])))
    return pd.DataFrame(rows, columns=["step", "channel", "statistic", "source", "value"])


def grad_frame(snap: Snapshot) -> pd.DataFrame:
    """step, model, layer, norm: ‖∇W‖₂ per weighted layer over training."""
    rows = [(c.step, label, layer, float(c.grad_norm[k, j]))
            for c in snap.captures for k, label in enumerate(MODEL_LABELS)
            for j, layer in enumerate(WEIGHTED)]
    return pd.DataFrame(rows, columns=["step", "model", "layer", "norm"])


def test_time_frame(test_time) -> pd.DataFrame:
    """batch, mode (eval / train), accuracy of the BN model on the test set, from a
    ``Snapshot.test_time`` (or ``Job.test_time_now()``) result."""
    if not test_time:
        return pd.DataFrame(columns=["batch", "mode", "accuracy"])
    rows = [(r["batch"], mode, r[mode]) for r in test_time["rows"] for mode in ("eval", "train")]
    return pd.DataFrame(rows, columns=["batch", "mode", "accuracy"])


def history_csv(snap: Snapshot) -> str:
    """Per-step losses joined with per-epoch metrics (at each epoch's last step), as CSV."""
    steps = np.arange(1, len(snap.loss) + 1)
    frame = pd.DataFrame({"step": steps, "loss_lenet": snap.loss[:, 0],
                          "loss_lenet_bn": snap.loss[:, 1]})
    for metric in ("train_loss", "train_acc", "test_acc"):
        for k, model in enumerate(MODELS):
            col = np.full(len(steps), np.nan)
            for e, epoch in enumerate(snap.epochs["epoch"]):
                end = int(epoch) * snap.steps_per_epoch
                if 0 < end <= len(steps):
                    col[end - 1] = snap.epochs[metric][e, k]
            frame[f"{metric}_{model}"] = col
    return frame.to_csv(index=False)


def history_json(snap: Snapshot) -> str:
    """The whole history (losses, epochs, every capture, test-time rows) as JSON."""
    def clean(a):
        return [None if not np.isfinite(v) else float(v) for v in np.ravel(a)]

    doc = {
        "config": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in snap.config.__dict__.items()},
        "state": snap.state, "reason": {"key": snap.reason_key, **dict(snap.reason_params)},
        "device": snap.device, "dataset": snap.dataset_source, "synthetic": snap.synthetic,
        "models": list(MODELS), "layers": list(LAYERS), "weighted_layers": list(WEIGHTED),
        "edges": {k: clean(v) for k, v in snap.edges.items()},
        "loss": [clean(row) for row in snap.loss],
        "epochs": {k: v.tolist() for k, v in snap.epochs.items()},
        "captures": [{"step": c.step, "epoch": c.epoch,
                      "hist": c.hist.tolist(), "outside": c.outside.tolist(),
                      "percentiles": [[[clean(p) for p in lay] for lay in m] for m in c.pct],
                      "grad_norm": c.grad_norm.tolist(),
                      "bn": {layer: {f: clean(rec[f]) for f in BN_FIELDS}
                             for layer, rec in c.bn.items()}}
                     for c in snap.captures],
        "test_time": None if snap.test_time is None else
        {"n": snap.test_time["n"], "rows": list(snap.test_time["rows"])},
    }
    return json.dumps(doc, separators=(",", ":"))
