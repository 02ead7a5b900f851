"""A class's models trained together: every submitted model in one batched job
(:class:`bnviz.training.wide.Ensemble`), in a background thread under the same cap as every
training (:data:`bnviz.training.manager.MANAGER`), with Stop, progress and an ETA.

Every model sees the same mini-batches in the same order (one permutation per epoch from the
setup's seed, as in the learning-rate sweep: :func:`bnviz.training.sweep.batches`); each starts
from its own seed's weights and keeps its own rate, optimizer, BatchNorm statistics and
divergence. The test accuracy of every model is measured
:data:`EVALUATIONS` times through the run, so the board grows while the class trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnviz.training import wide
from bnviz.training.background import Background, Progress
from bnviz.training.sweep import batches, tensors

EVALUATIONS = 8


@dataclass(frozen=True)
class Setup:
    """What the teacher fixes for the whole class."""

    epochs: int = 1
    train_limit: int = 6_000
    test_limit: int = 1_000
    batch_size: int = 64
    activation: str = "relu"
    seed: int = 0  # the order of the images (each model's weights have a seed of their own)
    device: str = "cpu"

    @property
    def steps_per_epoch(self) -> int:
        return self.train_limit // self.batch_size  # full batches only

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def evaluated_at(self) -> set[int]:
        """The steps after which every model's test accuracy is measured (the last one included)."""
        total = self.total_steps
        return {max(1, round(total * (i + 1) / EVALUATIONS)) for i in range(EVALUATIONS)}


@dataclass(frozen=True)
class ClassSnapshot(Progress):
    losses: np.ndarray  # (steps, N): each model's loss per step, NaN once it diverged
    accuracy: np.ndarray  # (evaluations, N): test accuracy, NaN where diverged
    accuracy_steps: tuple  # the step of each evaluation
    diverged_at: tuple  # per model: step or None
    device: str


def train(members, data, setup: Setup, progress=None, stop=None) -> wide.Ensemble:
    """Train ``members`` together through the setup's steps. ``progress(step, losses, accuracy)``
    after every step (accuracy: the N test accuracies after an evaluation step, else None);
    ``stop()`` returning True ends early."""
    (x, y), (xt, yt) = tensors(data, setup)
    net = wide.Ensemble(members, activation=setup.activation, device=setup.device, batch_size=setup.batch_size)
    evaluate = setup.evaluated_at()
    for step, idx in enumerate(batches(setup, len(y)), 1):
        losses = net.step(x[idx], y[idx], step)
        acc = net.accuracy(xt, yt) if step in evaluate else None
        if progress:
            progress(step, losses, acc, list(net.diverged_at))
        if stop and stop():
            break
    return net


class ClassJob(Background):
    """The class's batched training in a thread of its own."""

    kind = "class"

    def __init__(self, members, data, setup: Setup):
        super().__init__(setup.total_steps)
        self.members, self.setup, self._data = tuple(members), setup, data
        self._losses: list = []
        self._accuracy: list = []
        self._accuracy_steps: list = []
        self._diverged: list = [None] * len(self.members)

    def _progress(self, step, losses, accuracy, diverged) -> None:
        with self._lock:
            self._advance(step)
            self._losses.append(np.array(losses, dtype=np.float32))
            if accuracy is not None:
                self._accuracy.append(np.array(accuracy, dtype=np.float64))
                self._accuracy_steps.append(step)
            self._diverged = list(diverged)

    def train(self) -> None:
        train(self.members, self._data, self.setup, progress=self._progress, stop=self.stopping)

    def snapshot(self) -> ClassSnapshot:
        with self._lock:
            n = len(self.members)
            return ClassSnapshot(self._state, self._step, self.total, self._elapsed, self._eta(),
                                 np.array(self._losses).reshape(-1, n), np.array(self._accuracy).reshape(-1, n),
                                 tuple(self._accuracy_steps), tuple(self._diverged), self.setup.device)


def waiting(n: int, setup: Setup) -> ClassSnapshot:
    """The snapshot of a class's job of ``n`` models that has not begun (on a Ray cluster: waiting
    for a place)."""
    return ClassSnapshot("waiting", 0, setup.total_steps, 0.0, None, np.zeros((0, n), dtype=np.float32),
                         np.zeros((0, n)), (), (None,) * n, setup.device)
