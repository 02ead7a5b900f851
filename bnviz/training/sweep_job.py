"""The learning-rate sweep as a background job: one thread, under the same process-wide cap as the
BatchNorm trainings (:data:`bnviz.training.manager.MANAGER`), with Stop, progress and an ETA.

The page reads :meth:`SweepJob.snapshot` (a copy, safe from any thread) on each live refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bnviz.batchnorm import models
from bnviz.training import sweep, sweep_rates
from bnviz.training.background import Background, Progress


@dataclass(frozen=True)
class SweepSnapshot(Progress):
    lrs: tuple
    losses: dict  # model → (steps, K) array
    accuracy: dict  # model → (epochs done, K) array, NaN where diverged
    diverged_at: dict  # model → list of step or None
    device: str


class SweepJob(Background):
    kind = "sweep"

    def __init__(self, config: sweep.SweepConfig, data):
        super().__init__(config.total_steps)
        self.config, self._data = config, data
        self._losses = {m: [] for m in models.MODELS}
        self._accuracy = {m: [] for m in models.MODELS}
        self._diverged = {m: [None] * len(config.lrs) for m in models.MODELS}

    def _progress(self, step, total, losses, accuracy, diverged) -> None:
        with self._lock:
            self._advance(step)
            for m in models.MODELS:
                self._losses[m].append(losses[m])
                if accuracy is not None:
                    self._accuracy[m].append(accuracy[m])
                self._diverged[m] = list(diverged[m])

    def train(self) -> None:
        sweep.run(self._data, self.config, progress=self._progress, stop=self.stopping)

    def snapshot(self) -> SweepSnapshot:
        with self._lock:
            k = len(self.config.lrs)
            return SweepSnapshot(
                self._state, self._step, self.total, self._elapsed, self._eta(), tuple(self.config.lrs),
                {m: np.array(v).reshape(-1, k) for m, v in self._losses.items()},
                {m: np.array(v).reshape(-1, k) for m, v in self._accuracy.items()},
                {m: list(v) for m, v in self._diverged.items()}, self.config.device)


def waiting(config: sweep.SweepConfig) -> SweepSnapshot:
    """The snapshot of a sweep that has not begun (on a Ray cluster: waiting for a place)."""
    k = len(config.lrs)
    return SweepSnapshot("waiting", 0, config.total_steps, 0.0, None, tuple(config.lrs),
                         {m: np.zeros((0, k)) for m in models.MODELS}, {m: np.zeros((0, k)) for m in models.MODELS},
                         {m: [None] * k for m in models.MODELS}, config.device)


def frames(snap: SweepSnapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(acc, loss) tables of a snapshot for the page's charts: the last finished epoch's test
    accuracy per (model, lr) with whether the run diverged, and every step's loss up to where the
    run diverged (a loss of 10¹¹ would squash every other curve)."""
    acc, loss = [], []
    for model in models.MODELS:
        label = models.LABELS[model]
        last = snap.accuracy[model][-1] if len(snap.accuracy[model]) else np.full(len(snap.lrs), np.nan)
        steps = snap.losses[model]
        for k, lr in enumerate(snap.lrs):
            acc.append({"model": label, "lr": lr, "accuracy": None if np.isnan(last[k]) else float(last[k]),
                        "diverged": snap.diverged_at[model][k] is not None})
            column = steps[:, k] if len(steps) else np.array([])
            ok = np.isfinite(column) & (column > 0) & (column <= sweep.DIVERGED_LOSS)
            loss.append(pd.DataFrame({"step": np.arange(1, len(column) + 1)[ok], "model": label,
                                      "lr": sweep_rates.label(lr), "loss": column[ok]}))
    return pd.DataFrame(acc), pd.concat(loss, ignore_index=True)

