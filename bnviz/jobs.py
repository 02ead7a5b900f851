"""A training run in a background thread, with controls, and the process-wide cap on runs.

A :class:`Job` runs a :class:`bnviz.lockstep.Lockstep` in one thread. Each step slices the same
mini-batch (same shuffled order, data kept on the device, no DataLoader) and updates the plain
model, then the BN model. Nothing in the step loop waits for the device: losses, accuracy counts
and histograms are written into device tensors and copied to the host asynchronously
(:class:`bnviz.history.Outbox`). :meth:`Job.snapshot` hands out an immutable snapshot, so a page
can read it while training runs.

States: ``idle`` → ``running`` ⇄ ``paused`` → ``finished`` (also after Stop) | ``diverged`` |
``failed``. Each terminal state carries a reason (a message key and its parameters); an exception
in the thread ends up there, never lost (its traceback is kept for logs, never shown).

A process-wide :class:`bnviz.job_manager.JobManager` caps how many jobs run (or sit paused).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import traceback

import numpy as np

from .data import Dataset
from .evaluation import accuracy, test_time_accuracy
from .history import ACTIVE, History, Outbox, Snapshot
from .job_manager import JobManager, JobRefused, as_training_thread
from .lockstep import Lockstep
from .models import MODELS
from .run_config import ConfigError, TrainConfig, pick_device, valid_lr

DRAIN_EVERY = 5  # steps between host-side reads of finished copies
log = logging.getLogger("bnviz")


class Job:
    """Both models, their optimizers and the thread that trains them. See the module docstring."""

    _ids = itertools.count(1)

    def __init__(self, config: TrainConfig = TrainConfig(), data: Dataset | None = None, *,
                 manager: "JobManager | None" = None, owner: str = ""):
        config.validate()
        self.id = next(self._ids)
        self.owner = owner
        self.config = config
        self.device = pick_device(config.device)
        if data is None:
            from .data import load_fashion_mnist

            data = load_fashion_mnist(fallback_synthetic=True)
        self.data = data
        self.manager = manager
        self.model_lock = threading.Lock()  # held by the thread while it touches the models
        self._ctl = threading.Condition()  # pause / single step / stop requests
        self._parked = threading.Event()  # set while the thread waits at the gate (paused, no step granted)
        self._thread: threading.Thread | None = None
        self._released = False
        self._device_data = None
        self.traceback = ""  # of a failure, for logs (never shown on a page)
        self._reset_state()

    # ---- set-up ---------------------------------------------------------------------------
    def _reset_state(self) -> None:
        cfg = self.config
        self.trainer = Lockstep(cfg)
        n_train, n_test = len(self.data.y_train), len(self.data.y_test)
        self.n_train = min(n_train, cfg.train_limit or n_train)
        self.n_test = min(n_test, cfg.test_limit or n_test)
        self.steps_per_epoch = math.ceil(self.n_train / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.history = History(cfg, self.total_steps)
        self._paused, self._grant, self._stop_req = False, 0, False
        self._step = 0
        self._epoch = 0
        self._active_s = 0.0
        self._testing = (0.0, None)  # seconds spent on the epochs' test accuracy; start of the current one
        self._last_batch = None  # the batch of the last step (for a capture of where the run waits)
        self._next_batch = None  # indices of the batch the next step will train on
        self._captured_at = None

    @property
    def models(self) -> list:
        return self.trainer.models

    @property
    def steps_done(self) -> int:
        """Training steps completed so far (read without taking a snapshot)."""
        return self._step

    def testing_s(self) -> float:
        """Seconds spent so far measuring test accuracy at the ends of epochs (the one under way
        included): time in which no step trains, which a benchmark of training speed leaves out."""
        done, since = self._testing
        return done + (time.perf_counter() - since if since is not None else 0.0)

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
        self._thread = threading.Thread(target=self._run, name=f"bnviz-train-{self.id}",
                                        daemon=True)
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

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to end after its current step and wait for it (up to ``timeout``)."""
        with self._ctl:
            self._stop_req = True
            self._ctl.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def reset(self) -> None:
        """Stop, then start over from the initial weights with an empty history (state idle)."""
        self.stop()
        with self.model_lock:
            self._thread = None
            self._reset_state()
        if self.manager is not None:
            self.manager.forget(self)

    def release(self) -> None:
        """Stop and drop everything heavy; the job cannot be started again."""
        self._released = True
        self.stop()
        with self.model_lock:
            self._device_data = None
        if self.manager is not None:
            self.manager.forget(self)

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

    def _gate(self, on_wait=None) -> bool:
        """Wait while paused (unless a single step was granted); False when asked to stop.

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

    # ---- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        as_training_thread(f"bnviz-train-{self.id}")
        try:
            self._train()
        except Exception as exc:  # noqa: BLE001 - recorded, shown as the failed state
            self.traceback = traceback.format_exc()
            log.error("training job %s failed:\n%s", self.id, self.traceback)
            self.history.set_state("failed", "job_failed", error=type(exc).__name__)
        finally:
            self._device_data = None
            if self.manager is not None:
                self.manager.forget(self)

    def _load_data(self, dev):
        """The whole (limited) dataset on the device; batches are slices of it."""
        import torch

        d = self.data
        self._device_data = tuple(torch.from_numpy(a[:n]).to(dev) for a, n in (
            (d.x_train, self.n_train), (d.y_train, self.n_train),
            (d.x_test, self.n_test), (d.y_test, self.n_test)))
        return self._device_data

    def _train(self) -> None:
        import torch

        from .evaluation import as_input

        cfg = self.config
        dev = torch.device(self.device)
        trainer = self.trainer.to(dev)
        x_train, y_train, x_test, y_test = self._load_data(dev)
        outbox = Outbox(dev)
        history = self.history
        loss_buf = torch.zeros((DRAIN_EVERY, 2), device=dev)
        epoch_sums = torch.zeros((2, 2), device=dev)  # (model, [loss·n, correct])
        b = cfg.batch_size
        last_flush = self._step

        def send_losses() -> None:
            nonlocal last_flush
            if self._step > last_flush:
                outbox.put(("loss", last_flush, self._step), loss_buf[:self._step - last_flush])
                last_flush = self._step

        def flush() -> bool:
            """Hand out every loss and capture so far, with a capture of the state the run waits
            in (waits for the device); True if every model has diverged."""
            send_losses()
            self._capture_now(outbox)
            return self._drain(outbox, wait=True)

        for epoch in range(self._epoch, cfg.epochs):
            order = trainer.epoch_order(self.n_train, dev)
            epoch_sums.zero_()
            for i in range(self.steps_per_epoch):
                self._next_batch = order[i * b:(i + 1) * b]
                if not self._gate(on_wait=flush):
                    if flush() or not any(trainer.active):
                        return None
                    return self._finish("finished", "job_stopped", step=self._step)
                t0 = time.perf_counter()
                idx = self._next_batch
                xb, yb = as_input(x_train[idx]), y_train[idx]
                step = self._step
                capturing = history.capturing(step)
                probing = capturing and cfg.probe_every > 0 and \
                    (step // (cfg.hist_every * history.stride)) % cfg.probe_every == 0
                with self.model_lock:  # weights and step count change together
                    losses, correct, packs, probes = trainer.step(xb, yb, capture=capturing, landscape=probing)
                    self._step = step + 1
                    self._last_batch = (xb, yb)
                for k in range(2):
                    loss_buf[step - last_flush, k] = losses[k]
                    epoch_sums[k, 0] += losses[k] * len(yb)
                    epoch_sums[k, 1] += correct[k]
                if capturing:
                    outbox.put(("capture", step, epoch + i / self.steps_per_epoch), torch.cat(packs))
                    self._captured_at = step
                if probing:
                    outbox.put(("probe", step), torch.cat(probes))
                if self._step - last_flush == DRAIN_EVERY or i == self.steps_per_epoch - 1:
                    send_losses()
                self._active_s += time.perf_counter() - t0
                if self._step % DRAIN_EVERY == 0 and self._drain(outbox):
                    return
            self._next_batch = None
            # End of epoch: the only places the loop waits for the device.
            if self._drain(outbox, wait=True):
                return
            sums = epoch_sums.cpu().numpy()
            since = time.perf_counter()
            self._testing = (self._testing[0], since)
            with self.model_lock:
                for model in trainer.models:
                    model.eval()
                test_acc = [accuracy(m, x_test, y_test) if on else float("nan")
                            for m, on in zip(trainer.models, trainer.active)]
                for model in trainer.models:
                    model.train()
            self._testing = (self._testing[0] + time.perf_counter() - since, None)
            history.add_epoch(epoch + 1, sums[:, 0] / self.n_train, sums[:, 1] / self.n_train,
                              np.array(test_acc))
            self._epoch = epoch + 1
        self._capture_now(outbox)
        if self._drain(outbox, wait=True):
            return
        self._finish("finished", "job_done", epochs=cfg.epochs)

    def _capture_now(self, outbox: Outbox) -> None:
        """A capture of the models as they are now (the last batch, nothing changed), unless the
        latest capture already shows this step: a paused, stopped or finished run's panels show
        where it is."""
        import torch

        if self._last_batch is None or self._captured_at == self._step:
            return
        with self.model_lock:
            packs = self.trainer.capture(*self._last_batch)
        outbox.put(("capture", self._step, self._step / self.steps_per_epoch), torch.cat(packs))
        self._captured_at = self._step

    def _drain(self, outbox: Outbox, wait: bool = False) -> bool:
        """Move finished copies into the history; a model that diverged stops (the other trains
        on). True when every model has diverged (the run ends, state set)."""
        found = self.history.drain(outbox, wait)
        for name in found:
            self.trainer.active[MODELS.index(name)] = False
        if found and not any(self.trainer.active):
            first = min(found, key=found.get)
            self._finish("diverged", "job_diverged", step=found[first], model=first)
            return True
        return False

    def _finish(self, state: str, key: str, **params) -> None:
        if state == "finished" and self._device_data is not None and self._step > 0:
            _, _, x_test, y_test = self._device_data
            try:
                with self.model_lock:
                    result = test_time_accuracy(self.models[1], x_test, y_test,
                                                self.config.test_time_batches)
                self.history.set_test_time(result)
            except ConfigError:
                pass  # test subset smaller than the largest batch: no demonstration
        self.history.set_state(state, key, **params)

    # ---- reading --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """An immutable, consistent copy of the job's state and history (cached per version)."""
        step = self._step
        rate = step * self.config.batch_size / self._active_s if self._active_s > 0 else 0.0
        remaining = (self.total_steps - step) * self.config.batch_size
        eta = remaining / rate if rate > 0 and self.state in ACTIVE else None
        return self.history.snapshot(
            step, lrs=tuple(self.trainer.lrs), device=self.device, dataset_source=self.data.source,
            synthetic=self.data.synthetic,
            n_train=self.n_train, n_test=self.n_test, total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch, epoch=self._epoch, images_per_s=rate, eta_s=eta,
            elapsed_s=self._active_s)

    def set_lr(self, model: str, lr: float) -> None:
        """Change ``model``'s learning rate ("lenet" or "lenet_bn"); it takes effect at the next
        step and is recorded in the history."""
        if model not in MODELS or not valid_lr(lr):
            raise ConfigError("config_bad", field="lr", value=lr)
        with self.model_lock:
            self.trainer.set_lr(MODELS.index(model), float(lr))
            step = self._step
        self.history.add_lr_change(step, model, float(lr))

    def data_on(self, dev, train: bool):
        """The run's training or test images and labels on ``dev`` (the thread's copy if loaded)."""
        import torch

        if self._device_data is not None:
            x, y = self._device_data[:2] if train else self._device_data[2:]
            if x.device == dev:
                return x, y
        d, n = self.data, (self.n_train if train else self.n_test)
        return (torch.from_numpy((d.x_train if train else d.x_test)[:n]).to(dev),
                torch.from_numpy((d.y_train if train else d.y_test)[:n]).to(dev))

    @property
    def next_batch(self):
        """Indices of the batch the next step trains on (None between epochs or before the start)."""
        return self._next_batch

    @property
    def last_batch(self):
        """(images, labels) of the last step's batch, or None before the first step."""
        return self._last_batch

    def readouts(self):
        """What a page reads from this run's models (:mod:`bnviz.readouts`)."""
        from .readouts import Readouts

        return Readouts(self)
