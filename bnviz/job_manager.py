"""The process-wide cap on training jobs: a classroom of 30 must not start 60 trainings.

A job holds a slot from Start until its thread ends (running or paused). Over the cap, Start is
refused with :class:`JobRefused`, whose key and parameters the page words in the user's language.
"""

from __future__ import annotations

import os
import threading

from .errors import KeyedError
from .run_config import pick_device


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
