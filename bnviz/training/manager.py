"""The process-wide policy on training jobs: a cap, so that a classroom of 30 does not start 60
trainings, and a lower CPU priority for their threads, so that people come first.

A job holds a slot from Start until its thread ends (running or paused). Over the cap, Start is
refused with :class:`JobRefused`, whose key and parameters the page words in the user's language.

A training thread runs :data:`NICE_DEFAULT` steps nicer than the server (``$BNVIZ_TRAIN_NICE``,
0 to 19; 0: the same priority). Training is background work: when the cores are all busy, a page
load, a watcher's refresh or a browser on the same machine gets the CPU first, and the training
takes what is left (on a 2-core machine, 30 Chromium watchers' p95 refresh went from 3.0 s to
0.6–1.2 s: ``python -m bench load``). Idle cores still go to the training in full.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from bnviz.errors import KeyedError
from bnviz.training.config import pick_device

NICE_DEFAULT = 10
log = logging.getLogger("bnviz")


def train_nice() -> int:
    """How much nicer than the server a training thread runs: ``$BNVIZ_TRAIN_NICE`` (0 to 19)."""
    env = os.environ.get("BNVIZ_TRAIN_NICE", "").strip()
    return int(env) if env.isdigit() and int(env) <= 19 else NICE_DEFAULT


def as_training_thread(name: str, nicer: bool = True) -> None:
    """Called first thing in a training thread: give its OS thread ``name`` (``top -H`` and /proc
    show it) and lower its priority by :func:`train_nice` (Linux; both per thread, and inherited
    by the threads it starts, such as its OpenMP team; ``nicer=False`` for such a thread, which is
    nice enough already). Elsewhere this does nothing."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME, at most 15 bytes
    except (OSError, AttributeError):
        pass
    if not nicer:
        return
    tid = threading.get_native_id()
    try:  # On Linux, PRIO_PROCESS with a thread id sets that thread's nice value alone.
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + train_nice()))
    except OSError as err:  # e.g. a sandbox that forbids it: the training runs, at the same priority
        log.warning("could not lower training thread %s's priority: %s", name, err)


class JobRefused(KeyedError, RuntimeError):
    """The job manager refused a start; ``key``/``params`` say why."""


def default_cap(device: str | None = None) -> int:
    """``$BNVIZ_MAX_JOBS``, else 4 per CUDA GPU, 1 on MPS, one per two CPU cores (at least 1)."""
    env = os.environ.get("BNVIZ_MAX_JOBS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    device = device or pick_device()
    if device == "cuda":
        import torch

        return 4 * max(1, torch.cuda.device_count())
    if device == "mps":
        return 1
    return max(1, (os.cpu_count() or 2) // 2)


class JobManager:
    """Process-wide cap on jobs that hold a thread (running or paused)."""

    def __init__(self, cap: int | None = None):
        self._cap = cap
        self._lock = threading.Lock()
        self._active: dict = {}

    @property
    def cap(self) -> int:
        return self._cap if self._cap is not None else default_cap()

    @cap.setter
    def cap(self, value: int | None) -> None:
        self._cap = value

    def admit(self, job) -> None:
        with self._lock:
            self._active = {i: j for i, j in self._active.items() if j.alive or j is job}
            if job.id not in self._active and len(self._active) >= self.cap:
                raise JobRefused("job_cap", cap=self.cap, active=len(self._active))
            self._active[job.id] = job

    def forget(self, job) -> None:
        with self._lock:
            self._active.pop(job.id, None)

    def active(self) -> list:
        with self._lock:
            return [j for j in self._active.values() if j.alive]

    def release_all(self, timeout: float = 30.0) -> None:
        for job in list(self._active.values()):
            job.release()
        for job in list(self._active.values()):
            job.join(timeout)


MANAGER = JobManager()
