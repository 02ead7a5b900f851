"""The training loop: what a job's thread does, step after step, until the run ends.

Each step slices the same mini-batch for both models (same shuffled order, the data kept on the
device, no DataLoader) and updates the plain model, then the BN model (:mod:`bnviz.training.lockstep`).
Nothing in the loop waits for the device: losses, accuracy counts and histograms are written into
device tensors and copied to the host asynchronously (:class:`bnviz.training.captures.Outbox`);
the host reads the finished copies every ``DRAIN_EVERY`` steps. The only waits are at the end of
an epoch (its test accuracy) and where the run pauses, stops or ends, which first hand out
everything recorded, with a capture of the models as they are.

:class:`Progress` is where the run stands; the loop writes it and the job's readers read it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bnviz.batchnorm.evaluation import accuracy, as_input, test_time_accuracy
from bnviz.batchnorm.models import MODELS
from bnviz.errors import ConfigError
from bnviz.training.captures import Outbox

if TYPE_CHECKING:
    from bnviz.training.job import Job

DRAIN_EVERY = 5  # steps between host-side reads of finished copies


@dataclass
class Progress:
    """Where a run stands. The step and the last batch change with the weights, under the job's
    model lock; readers take the fields as they are."""

    step: int = 0  # training steps done
    epoch: int = 0  # epochs done
    active_s: float = 0.0  # seconds spent in training steps
    testing_s: float = 0.0  # seconds spent on the epochs' test accuracy (finished ones)
    testing_since: float | None = None  # start of the one under way
    last_batch: tuple | None = None  # (images, labels) of the last step, for a capture where it waits
    next_batch: object = None  # indices of the batch the next step trains on
    captured_at: int | None = None  # the step the latest capture shows
    device_data: tuple | None = None  # the run's (limited) dataset on the device, while it trains

    def testing(self) -> float:
        """Seconds of test accuracy so far, the one under way included."""
        since = self.testing_since
        return self.testing_s + (time.perf_counter() - since if since is not None else 0.0)


class Loop:
    """One job's loop on one device: :meth:`run` trains until the run ends, is stopped or fails."""

    def __init__(self, job: Job):
        import torch

        self.job, self.cfg, self.trainer, self.history = job, job.config, job.trainer, job.history
        self.progress: Progress = job.progress
        self.dev = torch.device(job.device)
        self.outbox = Outbox(self.dev)
        self.loss_buf = torch.zeros((DRAIN_EVERY, 2), device=self.dev)
        self.epoch_sums = torch.zeros((2, 2), device=self.dev)  # (model, [loss·n, correct])
        self.last_flush = self.progress.step

    def run(self) -> None:
        job, p = self.job, self.progress
        self.trainer.to(self.dev)
        x_train, y_train, _, _ = self._load_data()
        for epoch in range(p.epoch, self.cfg.epochs):
            order = self.trainer.epoch_order(job.n_train, self.dev)
            self.epoch_sums.zero_()
            for i in range(job.steps_per_epoch):
                p.next_batch = order[i * self.cfg.batch_size:(i + 1) * self.cfg.batch_size]
                if not job.gate(on_wait=self.flush):
                    if job.released:  # nobody reads it any more: no last capture, no demonstration
                        return self.history.set_state("finished", "job_stopped", step=p.step)
                    if self.flush() or not any(self.trainer.active):
                        return None
                    return self.finish("finished", "job_stopped", step=p.step)
                self.step(x_train, y_train, epoch + i / job.steps_per_epoch, last=i == job.steps_per_epoch - 1)
                if p.step % DRAIN_EVERY == 0 and self.drain():
                    return None
            p.next_batch = None
            if self.drain(wait=True):  # the end of an epoch: one of the loop's few waits
                return None
            self.end_epoch(epoch)
        self.capture_now()
        if not self.drain(wait=True):
            self.finish("finished", "job_done", epochs=self.cfg.epochs)

    def _load_data(self) -> tuple:
        """The whole (limited) dataset on the device; batches are slices of it."""
        import torch

        d, n_train, n_test = self.job.data, self.job.n_train, self.job.n_test
        self.progress.device_data = tuple(torch.from_numpy(a[:n]).to(self.dev) for a, n in (
            (d.x_train, n_train), (d.y_train, n_train), (d.x_test, n_test), (d.y_test, n_test)))
        return self.progress.device_data

    def step(self, x_train, y_train, epoch: float, last: bool) -> None:
        """One step of both models on the next batch; what it records is queued, nothing waits."""
        import torch

        p, cfg, history = self.progress, self.cfg, self.history
        t0 = time.perf_counter()
        idx = p.next_batch
        xb, yb = as_input(x_train[idx]), y_train[idx]
        step = p.step
        capturing = history.capturing(step)
        probing = capturing and cfg.probe_every > 0 and \
            (step // (cfg.hist_every * history.stride)) % cfg.probe_every == 0
        with self.job.model_lock:  # weights and step count change together
            losses, correct, packs, probes = self.trainer.step(xb, yb, capture=capturing, landscape=probing)
            p.step, p.last_batch = step + 1, (xb, yb)
        for k in range(2):
            self.loss_buf[step - self.last_flush, k] = losses[k]
            self.epoch_sums[k, 0] += losses[k] * len(yb)
            self.epoch_sums[k, 1] += correct[k]
        if capturing:
            self.outbox.put(("capture", step, epoch), torch.cat(packs))
            p.captured_at = step
        if probing:
            self.outbox.put(("probe", step), torch.cat(probes))
        if p.step - self.last_flush == DRAIN_EVERY or last:
            self.send_losses()
        p.active_s += time.perf_counter() - t0

    def end_epoch(self, epoch: int) -> None:
        """The epoch's training loss and accuracy, and its test accuracy (no step trains meanwhile)."""
        job, p, trainer = self.job, self.progress, self.trainer
        sums = self.epoch_sums.cpu().numpy()
        _, _, x_test, y_test = p.device_data
        p.testing_since = time.perf_counter()
        with job.model_lock:
            for model in trainer.models:
                model.eval()
            test_acc = [accuracy(m, x_test, y_test) if on else math.nan
                        for m, on in zip(trainer.models, trainer.active)]
            for model in trainer.models:
                model.train()
        p.testing_s, p.testing_since = p.testing_s + time.perf_counter() - p.testing_since, None
        self.history.add_epoch(epoch + 1, sums[:, 0] / job.n_train, sums[:, 1] / job.n_train, np.array(test_acc))
        p.epoch = epoch + 1

    def send_losses(self) -> None:
        p = self.progress
        if p.step > self.last_flush:
            self.outbox.put(("loss", self.last_flush, p.step), self.loss_buf[:p.step - self.last_flush])
            self.last_flush = p.step

    def flush(self) -> bool:
        """Hand out every loss and capture so far, with a capture of the state the run waits in
        (waits for the device); True if every model has diverged."""
        self.send_losses()
        self.capture_now()
        return self.drain(wait=True)

    def capture_now(self) -> None:
        """A capture of the models as they are now (the last batch, nothing changed), unless the
        latest capture already shows this step: a paused, stopped or finished run's panels show
        where it is."""
        import torch

        p = self.progress
        if p.last_batch is None or p.captured_at == p.step:
            return
        with self.job.model_lock:
            packs = self.trainer.capture(*p.last_batch)
        self.outbox.put(("capture", p.step, p.step / self.job.steps_per_epoch), torch.cat(packs))
        p.captured_at = p.step

    def drain(self, wait: bool = False) -> bool:
        """Move finished copies into the history; a model that diverged stops (the other trains
        on). True when every model has diverged (the run ends, state set)."""
        found = self.history.drain(self.outbox, wait)
        for name in found:
            self.trainer.active[MODELS.index(name)] = False
        if found and not any(self.trainer.active):
            first = min(found, key=found.get)
            self.finish("diverged", "job_diverged", step=found[first], model=first)
            return True
        return False

    def finish(self, state: str, key: str, **params) -> None:
        """The run's end, said at once; a finished run then measures its test-time demonstration
        (eval vs train mode), which follows (``Snapshot.measuring`` meanwhile: at the training's
        low priority on a busy CPU it took tens of seconds, which a Stop waited for)."""
        p = self.progress
        demonstrate = state == "finished" and p.device_data is not None and p.step > 0
        self.history.set_state(state, key, measuring=demonstrate, **params)
        if not demonstrate:
            return
        _, _, x_test, y_test = p.device_data
        result = None
        try:
            with self.job.model_lock:
                result = test_time_accuracy(self.trainer.models[1], x_test, y_test, self.cfg.test_time_batches)
        except ConfigError:
            pass  # test subset smaller than the largest batch: no demonstration
        self.history.set_test_time(result)
