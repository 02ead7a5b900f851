"""A training run in a background thread, and its controls.

A :class:`Job` owns both models in lockstep (:class:`bnviz.training.lockstep.Lockstep`), the run's
record (:class:`bnviz.training.history.History`) and one thread that runs the training loop
(:mod:`bnviz.training.loop`). The page controls it — Start, Pause, Step, Stop, Reset, a learning
rate changed mid-run — and reads it through :meth:`Job.snapshot`, an immutable copy, while it trains.

States: ``idle`` → ``running`` ⇄ ``paused`` → ``finished`` (also after Stop) | ``diverged`` |
``failed``. Each terminal state carries a reason (a message key and its parameters); an exception
in the thread ends up there, never lost (its traceback is kept for logs, never shown).

A process-wide :class:`bnviz.training.manager.JobManager` caps how many jobs run (or sit paused).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import traceback

from bnviz.batchnorm.models import MODELS
from bnviz.data.fashion_mnist import Dataset
from bnviz.errors import ConfigError
from bnviz.training.config import TrainConfig, pick_device, valid_lr
from bnviz.training.history import ACTIVE, ENDED, History, Snapshot
from bnviz.training.lockstep import Lockstep
from bnviz.training.loop import Loop, Progress
from bnviz.training.manager import JobManager, JobRefused, as_training_thread

log = logging.getLogger("bnviz")


class Job:
    """Both models, their record and the thread that trains them. See the module docstring."""

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig | None = None, data: Dataset | None = None, *,
                 manager: JobManager | None = None, owner: str = ""):
        config = config or TrainConfig()
        config.validate()
        self.id = next(self._ids)
        self.owner = owner
        self.config = config
        self.device = pick_device(config.device)
        if data is None:
            from bnviz.data.fashion_mnist import load_fashion_mnist

            data = load_fashion_mnist(fallback_synthetic=True)
        self.data = data
        self.manager = manager
        self.model_lock = threading.Lock()  # held by the thread while it touches the models
        self._ctl = threading.Condition()  # pause / single step / stop requests
        self._parked = threading.Event()  # set while the thread waits at the gate (paused, no step granted)
        self._thread: threading.Thread | None = None
        self._released = False
        self.traceback = ""  # of a failure, for logs (never shown on a page)
        self._reset_state()

    def _reset_state(self) -> None:
        cfg = self.config
        self.trainer = Lockstep(cfg)
        n_train, n_test = len(self.data.y_train), len(self.data.y_test)
        self.n_train = min(n_train, cfg.train_limit or n_train)
        self.n_test = min(n_test, cfg.test_limit or n_test)
        self.steps_per_epoch = math.ceil(self.n_train / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.history = History(cfg, self.total_steps)
        self.progress = Progress()
        self._paused, self._grant, self._stop_req = False, 0, False

    # ---- controls -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.history.state

    def start(self) -> None:
        """Start an idle job, or resume a paused one. Raises :class:`JobRefused` over the cap."""
        if self.state == "paused":
            return self.resume()
        if self.state != "idle":
            raise JobRefused("job_not_idle", state=self.state)
        self._launch(paused=False)

    def _launch(self, paused: bool) -> None:
        if self._released:
            raise JobRefused("job_released")
        if self.manager is not None:
            self.manager.admit(self)
        with self._ctl:
            self._paused, self._stop_req = paused, False
        self.history.set_state("paused" if paused else "running")
        self._thread = threading.Thread(target=self._run, name=f"bnviz-train-{self.id}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self.state == "running":
            with self._ctl:
                self._paused = True
            self.history.set_state("paused")

    def resume(self) -> None:
        if self.state == "paused":
            with self._ctl:
                self._paused = False
                self._ctl.notify_all()
            self.history.set_state("running")

    def step(self, n: int = 1) -> None:
        """Do ``n`` training steps, then stay paused (starts an idle job paused)."""
        if self.state == "idle":
            self._launch(paused=True)
        if self.state == "running":
            self.pause()
        if self.state == "paused":
            with self._ctl:
                self._grant += n
                self._ctl.notify_all()

    def stop(self, timeout: float | None = 30.0, settled: bool = True) -> None:
        """Ask the thread to end after its current step and wait for it (up to ``timeout``) — or,
        not ``settled``, only until the run has ended (its state set; the thread then measures
        the test-time demonstration, which the page shows when it comes)."""
        with self._ctl:
            self._stop_req = True
            self._ctl.notify_all()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        if settled:
            thread.join(timeout)
            return
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        while thread.is_alive() and self.state not in ENDED and time.monotonic() < deadline:
            thread.join(0.02)

    def reset(self) -> None:
        """Stop, then start over from the initial weights with an empty history (state idle)."""
        self.stop()
        with self.model_lock:
            self._thread = None
            self._reset_state()
        if self.manager is not None:
            self.manager.forget(self)

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        """Stop and drop everything heavy; the job cannot be started again. A running job ends
        after its current step, without the last capture and the test-time demonstration that a
        Stop gives (~1 CPU-s: nobody reads a released job; under a loaded CPU, at the training's
        low priority, they held a closed class's trainings tens of seconds)."""
        self._released = True
        self.stop()
        with self.model_lock:
            self.progress.device_data = None
        if self.manager is not None:
            self.manager.forget(self)

    def set_lr(self, model: str, lr: float) -> None:
        """Change ``model``'s learning rate ("lenet" or "lenet_bn"); it takes effect at the next
        step and is recorded in the history."""
        if model not in MODELS or not valid_lr(lr):
            raise ConfigError("config_bad", field="lr", value=lr)
        with self.model_lock:
            self.trainer.set_lr(MODELS.index(model), float(lr))
            step = self.progress.step
        self.history.add_lr_change(step, model, float(lr))

    # ---- the thread -----------------------------------------------------------------------
    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def wait_parked(self, timeout: float = 60.0) -> bool:
        """Wait until the thread is paused at the gate with every granted step done, or has ended
        (True), or ``timeout`` runs out (False). Tells "paused" apart from "asked to pause"."""
        with self._ctl:
            if self._grant:
                self._parked.clear()
        deadline = time.monotonic() + timeout
        while not self._parked.wait(0.02):
            if not self.alive:
                return True
            if time.monotonic() > deadline:
                return False
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def gate(self, on_wait=None) -> bool:
        """The loop's door before each step: wait while paused (unless a single step was
        granted); False when asked to stop.

        ``on_wait`` runs once (outside the lock) before the thread starts waiting, so a paused
        job's history is complete; if it returns True the gate closes (returns False)."""
        while True:
            with self._ctl:
                if self._stop_req:
                    return False
                if not self._paused:
                    self._parked.clear()
                    return True
                if self._grant > 0:
                    self._grant -= 1
                    self._parked.clear()
                    return True
                if on_wait is None:
                    self._parked.set()
                    self._ctl.wait(0.5)
                    continue
            if on_wait():  # True: the run has ended (diverged) while being read out
                return False
            on_wait = None

    def _run(self) -> None:
        as_training_thread(f"bnviz-train-{self.id}")
        try:
            Loop(self).run()
        except Exception as exc:
            self.traceback = traceback.format_exc()
            log.error("training job %s failed:\n%s", self.id, self.traceback)
            self.history.set_state("failed", "job_failed", error=type(exc).__name__)
        finally:
            self.progress.device_data = None
            if self.manager is not None:
                self.manager.forget(self)

    # ---- reading --------------------------------------------------------------------------
    @property
    def models(self) -> list:
        return self.trainer.models

    @property
    def steps_done(self) -> int:
        """Training steps completed so far (read without taking a snapshot)."""
        return self.progress.step

    def testing_s(self) -> float:
        """Seconds spent so far measuring test accuracy at the ends of epochs (the one under way
        included): time in which no step trains, which a benchmark of training speed leaves out."""
        return self.progress.testing()

    @property
    def next_batch(self):
        """Indices of the batch the next step trains on (None between epochs or before the start)."""
        return self.progress.next_batch

    @property
    def last_batch(self):
        """(images, labels) of the last step's batch, or None before the first step."""
        return self.progress.last_batch

    def snapshot(self) -> Snapshot:
        """An immutable, consistent copy of the job's state and history (cached per version)."""
        p, batch = self.progress, self.config.batch_size
        step = p.step
        rate = step * batch / p.active_s if p.active_s > 0 else 0.0
        eta = (self.total_steps - step) * batch / rate if rate > 0 and self.state in ACTIVE else None
        return self.history.snapshot(
            step, lrs=tuple(self.trainer.lrs), device=self.device, dataset_source=self.data.source,
            synthetic=self.data.synthetic, n_train=self.n_train, n_test=self.n_test, total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch, epoch=p.epoch, images_per_s=rate, eta_s=eta, elapsed_s=p.active_s)

    def data_on(self, dev, train: bool):
        """The run's training or test images and labels on ``dev`` (the thread's copy if loaded)."""
        import torch

        loaded = self.progress.device_data
        if loaded is not None:
            x, y = loaded[:2] if train else loaded[2:]
            if x.device == dev:
                return x, y
        d, n = self.data, (self.n_train if train else self.n_test)
        return (torch.from_numpy((d.x_train if train else d.x_test)[:n]).to(dev),
                torch.from_numpy((d.y_train if train else d.y_test)[:n]).to(dev))

    def readouts(self):
        """What a page reads from this run's models (:mod:`bnviz.training.readouts`)."""
        from bnviz.training.readouts import Readouts

        return Readouts(self)
