"""What a training run records, and the immutable snapshots a page reads while it trains.

:class:`History` keeps everything recorded behind one lock — per-step losses, per-epoch metrics,
a bounded and evenly thinned list of captures (:mod:`bnviz.training.captures`), the learning-rate
changes, the run's state — and hands out a :class:`Snapshot`, cached per version, so a page never
waits for the trainer.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from bnviz.batchnorm.models import MODELS
from bnviz.training import histograms
from bnviz.training.captures import Capture, Outbox, frozen, unpack

STATES = ("idle", "running", "paused", "finished", "diverged", "failed")
ACTIVE = ("running", "paused")
ENDED = ("finished", "diverged", "failed")
DIVERGED_LOSS = 100.0  # cross-entropy above this (ln 10 ≈ 2.3 is chance) or non-finite: diverged


@dataclass(frozen=True)
class Snapshot:
    """A consistent, immutable view of a job. Fields:

    state, reason_key, reason_params — see :data:`STATES`; reason for finished/diverged/failed.
    version — increases whenever anything below changes (cheap change detection for pages);
    capture_version — only when ``captures`` or ``probes`` change (what the histogram views use).
    thinned — how many times the captures or probes were thinned (halved) so far.
    history — which history this is of (a number of this process's own; a Reset starts a new one).
    config, device, dataset_source, synthetic, n_train, n_test.
    step, total_steps, steps_per_epoch, epoch (completed), images_per_s, eta_s, elapsed_s.
    loss — (steps, 2) per-step training loss of (LeNet, LeNet-BN); NaN where non-finite.
    epochs — per completed epoch: ``epoch``, ``train_loss``/``train_acc``/``test_acc`` as (E, 2).
    captures — tuple of :class:`Capture`, at most ``config.max_captures`` (evenly thinned).
    edges — {"pre": bin edges, "act": bin edges}.
    test_time — None, or {"n", "rows": ({"batch", "eval", "train"}, ...)} for the BN model.
    measuring — whether a finished run's test-time demonstration is still being measured (the
    run's end is said at once; ``test_time`` follows).
    diverged — model name → the step it diverged at (that model stopped; the other trains on).
    diverged_at, diverged_model — the first of them (None, None when none diverged).
    lrs — each model's learning rate now; lr_changes — ((step, model name, lr), ...), each change
    taking effect at that step.
    probes — ((step, (2, len(probe.KS) + 2) array), ...): the loss landscape along the gradient
    step (:mod:`bnviz.batchnorm.probe`) of (LeNet, LeNet-BN) at capture steps.
    """

    state: str
    reason_key: str
    reason_params: Mapping
    version: int
    config: object
    device: str
    dataset_source: str
    synthetic: bool
    n_train: int
    n_test: int
    step: int
    total_steps: int
    steps_per_epoch: int
    epoch: int
    images_per_s: float
    eta_s: float | None
    elapsed_s: float
    loss: np.ndarray
    epochs: Mapping[str, np.ndarray]
    captures: tuple
    edges: Mapping[str, np.ndarray]
    test_time: Mapping | None
    diverged: Mapping[str, int]
    lrs: tuple
    lr_changes: tuple
    probes: tuple
    capture_version: int = 0
    thinned: int = 0
    history: int = 0
    measuring: bool = False

    @property
    def diverged_at(self) -> int | None:
        return min(self.diverged.values()) if self.diverged else None

    @property
    def diverged_model(self) -> str | None:
        return min(self.diverged, key=self.diverged.get) if self.diverged else None

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def begun(self) -> bool:
        """Whether there is anything to draw yet: a step taken or a capture made."""
        return self.step > 0 or bool(self.captures)

    def nbytes(self) -> int:
        """Bytes held by the arrays of this snapshot (history size)."""
        total = self.loss.nbytes + sum(a.nbytes for a in self.epochs.values())
        for c in self.captures:
            total += c.hist.nbytes + c.outside.nbytes + c.pct.nbytes + c.grad_norm.nbytes
            total += sum(a.nbytes for d in c.bn.values() for a in d.values())
        return total


_SERIALS = itertools.count(1)


class History:
    """Everything a run has recorded, behind one lock: state, losses, epochs, captures.

    The trainer thread writes (:meth:`drain`, :meth:`add_epoch`, :meth:`set_state`); pages read
    through :meth:`snapshot`. ``version`` increases with every change.
    """

    def __init__(self, config, total_steps: int):
        self.config = config
        self.lock = threading.Lock()
        self.version = 0
        self.capture_version = 0  # increases with each new capture or probe only
        self.state, self.reason = "idle", ("", {})
        self.loss = np.full((total_steps, 2), np.nan, dtype=np.float32)
        self.epochs: list[tuple] = []
        self.captures: list[Capture] = []
        self.stride = 1  # capture every hist_every·stride steps (doubles when history thins)
        self.thinned = 0  # how many times captures or probes were halved
        self.serial = next(_SERIALS)
        self.test_time = None
        self.measuring = False
        self.diverged: dict[str, int] = {}
        self.lr_changes: list[tuple] = []
        self.probes: list[tuple] = []
        self.edges = MappingProxyType({kind: frozen(histograms.edges(*rng, config.bins))
                                       for kind, rng in histograms.ranges(config.activation).items()})
        self._snap: Snapshot | None = None

    def capturing(self, step: int) -> bool:
        return step % (self.config.hist_every * self.stride) == 0

    def set_state(self, state: str, key: str = "", *, measuring: bool = False, **params) -> None:
        """The run's state and its reason; ``measuring``: the test-time demonstration follows
        (:meth:`set_test_time`)."""
        with self.lock:
            self.state, self.reason, self.measuring = state, (key, params), measuring
            self.version += 1

    def drain(self, outbox: Outbox, wait: bool = False) -> dict[str, int]:
        """Move finished copies into the history; the models that diverged in them (name → the
        first step whose loss was non-finite or above ``DIVERGED_LOSS``), new ones only."""
        found: dict[str, int] = {}
        with self.lock:
            arrived = False
            for tag, arr in outbox.ready(wait):
                arrived = True
                if tag[0] == "loss":
                    lo, hi = tag[1], tag[2]
                    self.loss[lo:hi] = arr[:hi - lo]
                    with np.errstate(invalid="ignore"):
                        bad = ~(arr[:hi - lo] <= DIVERGED_LOSS)  # NaN compares False
                    for row, col in np.argwhere(bad):
                        name = MODELS[int(col)]
                        if name not in self.diverged and name not in found:
                            found[name] = lo + int(row)
                elif tag[0] == "probe":
                    self.probes.append((tag[1], frozen(arr.reshape(2, -1).copy())))
                    if len(self.probes) >= self.config.max_captures:
                        self.probes = self.probes[::2]
                        self.thinned += 1
                    self.capture_version += 1
                else:
                    self.captures.append(unpack(tag[1], tag[2], arr, self.config.bins))
                    if len(self.captures) >= self.config.max_captures:
                        self.captures = self.captures[::2]  # keep an even cover of the run
                        self.stride *= 2
                        self.thinned += 1
                    self.capture_version += 1
            self.diverged.update(found)
            if arrived:  # a drain that found nothing changes nothing: pages keep their cached data
                self.version += 1
        return found

    def add_lr_change(self, step: int, model: str, lr: float) -> None:
        with self.lock:
            self.lr_changes.append((step, model, lr))
            self.version += 1

    def add_epoch(self, epoch: int, train_loss, train_acc, test_acc) -> None:
        with self.lock:
            self.epochs.append((epoch, train_loss, train_acc, test_acc))
            self.version += 1

    def set_test_time(self, result: dict | None) -> None:
        """The test-time demonstration's result (None: the test subset is too small for one); the
        run is no longer measuring."""
        with self.lock:
            self.test_time = None if result is None else MappingProxyType(result)
            self.measuring = False
            self.version += 1

    def last_capture_step(self) -> int | None:
        with self.lock:
            return self.captures[-1].step if self.captures else None

    def snapshot(self, step: int, **run) -> Snapshot:
        """An immutable copy at ``step``; ``run`` holds the fields the job knows (device, rate…).
        Cached: the same object while neither the version nor the step has changed."""
        with self.lock:
            snap = self._snap
            if snap is not None and snap.version == self.version and snap.step == step:
                return snap
            loss = self.loss[:step].copy()
            loss[~np.isfinite(loss)] = np.nan
            rows = self.epochs
            epochs = MappingProxyType({
                "epoch": frozen(np.array([r[0] for r in rows], dtype=np.float32)),
                **{name: frozen(np.array([r[i] for r in rows], np.float32).reshape(-1, 2))
                   for i, name in enumerate(("train_loss", "train_acc", "test_acc"), 1)},
            })
            self._snap = Snapshot(
                state=self.state, reason_key=self.reason[0],
                reason_params=MappingProxyType(dict(self.reason[1])), version=self.version,
                capture_version=self.capture_version, thinned=self.thinned, history=self.serial,
                config=self.config, step=step, loss=frozen(loss), epochs=epochs,
                captures=tuple(self.captures), edges=self.edges, test_time=self.test_time,
                diverged=MappingProxyType(dict(self.diverged)), lr_changes=tuple(self.lr_changes),
                probes=tuple(self.probes), measuring=self.measuring, **run)
            return self._snap
