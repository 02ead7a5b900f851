"""A training in a thread of its own, under the process-wide cap (:data:`MANAGER`): the part the
learning-rate sweep (:mod:`bnviz.training.sweep_job`) and the class board
(:mod:`bnviz.training.class_job`) share — start, stop, the thread, its state and elapsed time.

A subclass sets ``total`` (its steps), trains in :meth:`train` (calling ``self.stopping()``
between steps and counting ``self._step`` under ``self._lock``), and reads its own progress.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass

from bnviz.training.manager import MANAGER, as_training_thread

log = logging.getLogger("bnviz")


@dataclass(frozen=True)
class Progress:
    """What every background job's snapshot starts with (the sweep's and the class's add their data)."""

    state: str  # "running", "stopped", "finished", "failed"; "waiting": not placed on the cluster yet
    step: int
    total: int
    elapsed: float
    eta: float | None  # seconds left, from the pace so far


class Background:
    kind = "job"  # the id's prefix, in the thread's name
    _ids = itertools.count(1)

    def __init__(self, total: int):
        self.id = f"{self.kind}-{next(self._ids)}"
        self.total = total
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._step, self._state, self._started, self._elapsed = 0, "running", time.perf_counter(), 0.0
        self._thread = threading.Thread(target=self._run, name=f"bnviz-train-{self.id}", daemon=True)

    def train(self) -> None:
        raise NotImplementedError

    def start(self):
        """Take a slot under the cap (:class:`JobRefused` when none is free), then train."""
        MANAGER.admit(self)
        self._thread.start()
        return self

    def _advance(self, step: int) -> None:
        """Called by :meth:`train` under ``self._lock``: ``step`` steps are done."""
        self._step = step
        self._elapsed = time.perf_counter() - self._started

    def _run(self) -> None:
        as_training_thread(f"bnviz-train-{self.id}")
        try:
            self.train()
            state = "stopped" if self._stop.is_set() and self._step < self.total else "finished"
        except Exception:
            log.exception("%s failed", self.id)
            state = "failed"
        with self._lock:
            self._state = state
            self._elapsed = time.perf_counter() - self._started
        MANAGER.forget(self)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    release = stop  # what the manager calls to end every job

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _eta(self) -> float | None:
        """Seconds left at the pace so far (under ``self._lock``), None once it is not running."""
        step = self._step
        return self._elapsed / step * (self.total - step) if step and self._state == "running" else None
