"""Tidy frames for the BatchNorm page's charts and exports, built from a training Snapshot.

Charts only ever receive these small frames of binned counts and summary numbers, never raw
activations. Model labels are language-neutral ("LeNet", "LeNet-BN").
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bnviz.batchnorm.models import HIDDEN_LAYERS, LABELS, MODELS, WEIGHTED
from bnviz.training.captures import BN_FIELDS, KINDS
from bnviz.training.history import Snapshot

MODEL_LABELS = [LABELS[m] for m in MODELS]


def _thin(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spread indices of range(n), always keeping the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def shares(counts: np.ndarray) -> np.ndarray:
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


EPOCH_METRICS = ("train_loss", "train_acc", "test_acc")  # what a run records per epoch


def epoch_frame(snap: Snapshot) -> pd.DataFrame:
    """epoch, model, metric (train_loss / train_acc / test_acc), value."""
    rows = []
    for metric in EPOCH_METRICS:
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
    li = HIDDEN_LAYERS.index(layer)
    parts = []
    for k, label in enumerate(MODEL_LABELS):
        for ki, kind in enumerate(KINDS):
            edges = snap.edges[kind]
            parts.append(pd.DataFrame({"model": label, "kind": kind, "lo": edges[:-1],
                                       "hi": edges[1:],
                                       "share": shares(c.hist[k, li, ki])}))
    return pd.concat(parts, ignore_index=True)


def layers_frame(snap: Snapshot, kind: str, capture: int = -1) -> pd.DataFrame:
    """One capture's histograms of every hidden layer of ``kind``: model, layer, lo, hi, share."""
    if not snap.captures:
        return pd.DataFrame(columns=["model", "layer", "lo", "hi", "share"])
    c = snap.captures[capture]
    ki = KINDS.index(kind)
    edges = snap.edges[kind]
    # (model, layer, bin) in one array: rows ordered by model, then layer, then bin.
    share = np.stack([[shares(c.hist[k, li, ki]) for li in range(len(HIDDEN_LAYERS))]
                      for k in range(len(MODEL_LABELS))])
    n_models, n_layers, n_bins = share.shape
    return pd.DataFrame({"model": np.repeat(MODEL_LABELS, n_layers * n_bins),
                         "layer": np.tile(np.repeat(HIDDEN_LAYERS, n_bins), n_models),
                         "lo": np.tile(edges[:-1], n_models * n_layers), "hi": np.tile(edges[1:], n_models * n_layers),
                         "share": share.ravel()})


def ridge_frame(snap: Snapshot, layer: str, kind: str = "pre", rows: int = 24, gain: float = 6.0) -> pd.DataFrame:
    """Histograms over time (TensorBoard's offset view): step, model, x (bin centre), share, and
    where each ridge sits: ``base`` (later captures lower) and ``top`` = base + gain·share."""
    if not snap.captures:
        return pd.DataFrame(columns=["step", "model", "x", "share", "base", "top"])
    li, ki = HIDDEN_LAYERS.index(layer), KINDS.index(kind)
    edges = snap.edges[kind]
    centres = (edges[:-1] + edges[1:]) / 2
    kept = [snap.captures[i] for i in _thin(len(snap.captures), rows)]
    # (capture, model, bin) in one array: rows ordered by capture, then model, then bin.
    share = np.stack([[shares(c.hist[k, li, ki]) for k in range(len(MODEL_LABELS))] for c in kept])
    n_rows, n_models, n_bins = share.shape
    steps = np.array([c.step for c in kept])
    rank = np.unique(steps, return_inverse=True)[1]  # 0 for the earliest capture
    per_row = n_models * n_bins
    base = -np.repeat(rank, per_row).astype(float)
    return pd.DataFrame({"step": np.repeat(steps, per_row),
                         "model": np.tile(np.repeat(MODEL_LABELS, n_bins), n_rows),
                         "x": np.tile(centres, n_rows * n_models), "share": share.ravel(),
                         "base": base, "top": base + gain * share.ravel()})


def percentile_frame(snap: Snapshot, layer: str, kind: str = "pre") -> pd.DataFrame:
    """The BN paper's Figure 1 data: step, model, p15, p50, p85 of ``layer``'s ``kind``."""
    li, ki = HIDDEN_LAYERS.index(layer), KINDS.index(kind)
    if not snap.captures:
        return pd.DataFrame(columns=["step", "model", "p15", "p50", "p85"])
    # (capture, model, percentile) in one array: rows ordered by capture, then model.
    pct = np.stack([c.pct[:, li, ki] for c in snap.captures]).astype(float)
    n_models = pct.shape[1]
    return pd.DataFrame({"step": np.repeat([c.step for c in snap.captures], n_models),
                         "model": np.tile(MODEL_LABELS, len(snap.captures)),
                         "p15": pct[..., 0].ravel(), "p50": pct[..., 1].ravel(), "p85": pct[..., 2].ravel()})


def start_medians(frame: pd.DataFrame) -> pd.DataFrame:
    """Each model's median at its first capture (model, p50), from a :func:`percentile_frame`."""
    steps, models, p50 = frame.step.to_numpy(), frame.model.to_numpy(), frame.p50.to_numpy(float)
    labels = sorted(set(models))
    first = [np.flatnonzero(models == m)[np.argmin(steps[models == m])] for m in labels]
    return pd.DataFrame({"model": labels, "p50": p50[first]})


def extent(frame: pd.DataFrame, low: str = "p15", high: str = "p85") -> tuple[float, float] | None:
    """The smallest and largest finite value of two columns (None when there is none)."""
    values = np.concatenate([frame[low].to_numpy(dtype=float), frame[high].to_numpy(dtype=float)])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else None


def drift(snap: Snapshot, layer: str = "fc2", kind: str = "pre", frame: pd.DataFrame | None = None) -> dict[str, float]:
    """How far the median of ``layer``'s ``kind`` moves from its first capture: max |p50(t) − p50(0)|
    (from ``frame``, its :func:`percentile_frame`, when given)."""
    frame = percentile_frame(snap, layer, kind) if frame is None else frame
    out = {}
    for label in MODEL_LABELS:
        p50 = frame.loc[frame.model == label, "p50"].to_numpy()
        out[label] = float(np.nanmax(np.abs(p50 - p50[0]))) if len(p50) else float("nan")
    return out


def outside_rows(snap: Snapshot, layer: str, capture: int = -1) -> list[dict]:
    """``layer``'s values outside the histogram range in one capture, per model and kind, where
    there are any: model, kind, and the counts under, over, NaN and ±inf."""
    from bnviz.training.histograms import OUTSIDE

    if not snap.captures:
        return []
    counts = snap.captures[capture].outside[:, HIDDEN_LAYERS.index(layer)]  # (model, kind, OUTSIDE)
    return [{"model": label, "kind": kind, **dict(zip(OUTSIDE, map(int, counts[k, ki])))}
            for k, label in enumerate(MODEL_LABELS) for ki, kind in enumerate(KINDS) if counts[k, ki].any()]


def gamma_beta_columns(capture, layer: str) -> dict[str, np.ndarray]:
    """channel, parameter (γ / β), value of the BN model's ``layer`` at one capture (a
    :class:`bnviz.training.captures.Capture`), as columns (empty without that layer)."""
    rec = capture.bn.get(layer)
    if rec is None:
        return {"channel": np.zeros(0, np.int64), "parameter": np.zeros(0, "<U1"), "value": np.zeros(0)}
    n = len(rec["gamma"])
    return {"channel": np.tile(np.arange(n), 2), "parameter": np.repeat(["γ", "β"], n),
            "value": np.concatenate([rec["gamma"], rec["beta"]]).astype(float)}


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
            for stat, symbol in (("mean", "μ"), ("var", "σ²")):
                for source in ("running", "batch"):
                    rows.append((c.step, ch, symbol, source, float(rec[f"{source}_{stat}"][ch])))
    return pd.DataFrame(rows, columns=["step", "channel", "statistic", "source", "value"])


def grad_frame(snap: Snapshot) -> pd.DataFrame:
    """step, model, layer, norm: ‖∇W‖₂ per weighted layer over training."""
    rows = [(c.step, label, layer, float(c.grad_norm[k, j]))
            for c in snap.captures for k, label in enumerate(MODEL_LABELS)
            for j, layer in enumerate(WEIGHTED)]
    return pd.DataFrame(rows, columns=["step", "model", "layer", "norm"])


def marks_frame(snap: Snapshot) -> pd.DataFrame:
    """What the loss chart marks: step, model, what ("lr": a learning-rate change, "diverged"),
    text (the new rate)."""
    rows = [(step, LABELS[model], "lr", f"{lr:g}") for step, model, lr in snap.lr_changes]
    rows += [(step, LABELS[model], "diverged", "") for model, step in snap.diverged.items()]
    return pd.DataFrame(rows, columns=["step", "model", "what", "text"])


def probe_frame(snap: Snapshot) -> pd.DataFrame:
    """The loss landscape along each gradient step (:mod:`bnviz.batchnorm.probe`): step, model, variation,
    predictiveness — non-finite values (a diverged model) left out."""
    from bnviz.batchnorm.probe import summary

    rows = []
    for step, arr in snap.probes:
        for k, label in enumerate(MODEL_LABELS):
            read = summary(arr[k])
            rows.append((step, label, read["variation"], read["predictiveness"]))
    frame = pd.DataFrame(rows, columns=["step", "model", "variation", "predictiveness"])
    frame = frame.astype({"step": np.int64, "variation": np.float64, "predictiveness": np.float64})  # none yet too
    return frame[np.isfinite(frame[["variation", "predictiveness"]]).all(axis=1)]


def probe_summary(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The median of each measure per model over the run (what the page compares)."""
    return {label: {m: float(frame.loc[frame.model == label, m].median()) for m in ("variation", "predictiveness")}
            for label in MODEL_LABELS if (frame.model == label).any()}


def lr_per_step(snap: Snapshot) -> np.ndarray:
    """(steps, 2): the learning rate each model trained with at each step (changes included)."""
    rates = np.tile([snap.config.lr, snap.config.lr_bn], (len(snap.loss), 1)).astype(float)
    for step, model, lr in sorted(snap.lr_changes):
        rates[step:, MODELS.index(model)] = lr
    return rates


def test_time_frame(test_time) -> pd.DataFrame:
    """batch, mode (eval / train), accuracy of the BN model on the test set, from a
    ``Snapshot.test_time`` (or ``Readouts.test_time_now()``) result."""
    if not test_time:
        return pd.DataFrame(columns=["batch", "mode", "accuracy"])
    rows = [(r["batch"], mode, r[mode]) for r in test_time["rows"] for mode in ("eval", "train")]
    return pd.DataFrame(rows, columns=["batch", "mode", "accuracy"])


def history_csv(snap: Snapshot) -> str:
    """Per-step losses joined with per-epoch metrics (at each epoch's last step), as CSV."""
    steps = np.arange(1, len(snap.loss) + 1)
    rates = lr_per_step(snap)
    frame = pd.DataFrame({"step": steps, "loss_lenet": snap.loss[:, 0], "loss_lenet_bn": snap.loss[:, 1],
                          "lr_lenet": rates[:, 0], "lr_lenet_bn": rates[:, 1]})
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
        "models": list(MODELS), "layers": list(HIDDEN_LAYERS), "weighted_layers": list(WEIGHTED),
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
        "lr_changes": [{"step": step, "model": model, "lr": lr} for step, model, lr in snap.lr_changes],
        "diverged": dict(snap.diverged),
        "probes": [{"step": step, "losses_along_step": [clean(row[:-2]) for row in arr],
                    "gradient_change": clean(arr[:, -2]), "gradient_norm": clean(arr[:, -1])}
                   for step, arr in snap.probes],
    }
    return json.dumps(doc, separators=(",", ":"))
