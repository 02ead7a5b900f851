"""Train LeNet and LeNet-BN side by side in one background thread, with live snapshots.

A :class:`Job` owns both models, their optimizers and one thread. Each step slices the same
mini-batch (same shuffled order, data kept on the device, no DataLoader) and updates the plain
model, then the BN model. Shared layers start from identical weights (same seed).

Nothing in the step loop waits for the device: losses, accuracy counts and histograms are
written into device tensors and copied to the host asynchronously (:class:`_Outbox`); the host
side reads them once the copy has finished. :meth:`Job.snapshot` hands out an immutable
:class:`Snapshot` under a lock, so a page can read it while training runs.

States: ``idle`` → ``running`` ⇄ ``paused`` → ``finished`` (also after Stop) | ``diverged`` |
``failed``. Each terminal state carries a reason (a message key and its parameters); an exception
in the thread ends up there with its text, never lost.

A process-wide :class:`JobManager` caps how many jobs run (or sit paused) at once.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from . import histograms
from .data import Dataset
from .errors import KeyedError

MODELS = ("lenet", "lenet_bn")
LAYERS = ("conv1", "conv2", "fc1", "fc2")
WEIGHTED = ("conv1", "conv2", "fc1", "fc2", "fc3")
KINDS = ("pre", "act")
STATES = ("idle", "running", "paused", "finished", "diverged", "failed")
ACTIVE = ("running", "paused")
ENDED = ("finished", "diverged", "failed")
OPTIMIZERS = ("sgd", "momentum", "adam")
DEVICES = ("auto", "cuda", "mps", "cpu")
BN_FIELDS = ("gamma", "beta", "running_mean", "running_var", "batch_mean", "batch_var")
BN_CHANNELS = {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}
DIVERGED_LOSS = 100.0  # cross-entropy above this (ln 10 ≈ 2.3 is chance) or non-finite: diverged
DRAIN_EVERY = 5  # steps between host-side reads of finished copies
EVAL_CHUNK = 1024

LATEX = {
    "loss": r"\ell = -\frac{1}{|\mathcal{B}|}\sum_{i\in\mathcal{B}} \log \mathrm{softmax}(z_i)_{y_i}",
    "sigmoid": r"\sigma(z) = \frac{1}{1+e^{-z}}",
    "relu": r"\mathrm{ReLU}(z) = \max(0, z)",
}


class ConfigError(KeyedError, ValueError):
    """A run setting that cannot be used (or a device that is not there)."""


class JobRefused(KeyedError, RuntimeError):
    """The job manager refused a start; ``key``/``params`` say why."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults: the d2l recipe (SGD, sigmoid, batch 256, 10 epochs)."""

    lr: float = 0.9  # LeNet
    lr_bn: float = 1.0  # LeNet-BN
    batch_size: int = 256
    epochs: int = 10
    optimizer: str = "sgd"
    momentum: float = 0.9
    activation: str = "sigmoid"
    bn_position: str = "before"
    bn_impl: str = "torch"
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    seed: int = 0
    device: str = "auto"
    hist_every: int = 10  # steps between histogram captures
    hist_samples: int = 64  # examples of the batch that are histogrammed (0: the whole batch)
    bins: int = 50
    train_limit: int = 0  # use only the first n training / test images (0: all)
    test_limit: int = 0
    test_time_batches: tuple[int, ...] = (1, 8, 256)
    max_captures: int = 500

    def validate(self) -> None:
        checks = (
            ("lr", 0 < self.lr <= 1e4 and math.isfinite(self.lr)),
            ("lr_bn", 0 < self.lr_bn <= 1e4 and math.isfinite(self.lr_bn)),
            ("batch_size", 1 <= self.batch_size <= 4096),
            ("epochs", 1 <= self.epochs <= 200),
            ("optimizer", self.optimizer in OPTIMIZERS),
            ("momentum", 0 <= self.momentum < 1),
            ("activation", self.activation in histograms.ACT_RANGES),
            ("bn_position", self.bn_position in ("before", "after")),
            ("bn_impl", self.bn_impl in ("torch", "scratch")),
            ("bn_momentum", 0 < self.bn_momentum <= 1),
            ("bn_eps", 0 < self.bn_eps <= 1),
            ("device", self.device in DEVICES),
            ("hist_every", 1 <= self.hist_every <= 1_000_000),
            ("hist_samples", 0 <= self.hist_samples),
            ("bins", 4 <= self.bins <= 200),
            ("train_limit", self.train_limit >= 0),
            ("test_limit", self.test_limit >= 0),
            ("test_time_batches", all(b >= 1 for b in self.test_time_batches)),
            ("max_captures", self.max_captures >= 2),
        )
        for name, ok in checks:
            if not ok:
                raise ConfigError("config_bad", field=name, value=getattr(self, name))


def pick_device(preference: str = "auto") -> str:
    """``auto``: CUDA if available, else Apple MPS, else CPU. An unavailable choice raises."""
    import torch

    has = {"cuda": torch.cuda.is_available(),
           "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
           "cpu": True}
    if preference == "auto":
        return next(name for name in ("cuda", "mps", "cpu") if has[name])
    if preference not in has:
        raise ConfigError("config_bad", field="device", value=preference)
    if not has[preference]:
        raise ConfigError("device_unavailable", device=preference)
    return preference


def available_devices() -> list[str]:
    found = []
    for name in ("cuda", "mps", "cpu"):
        try:
            pick_device(name)
            found.append(name)
        except ConfigError:
            pass
    return found


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return {"mps": "Apple GPU (MPS)", "cpu": f"CPU ({os.cpu_count()} cores)"}.get(device, device)


# --------------------------------------------------------------------------------------------
# Forward pass with capture, evaluation


def forward(model, x, *, capture: dict | None = None, bn_group: int | None = None):
    """Run ``model`` (a :func:`bnviz.models.lenet`) child by child.

    ``capture``: a dict filled with, per hidden layer, the first ``capture['samples']`` examples'
    pre-activation and activation (``(layer, 'pre'|'act') → tensor``) and each BN layer's batch
    mean/variance (``(layer, 'batch') → (mean, var)``).
    ``bn_group``: BN layers use batch statistics of consecutive groups of that many examples
    (train-mode BN at that batch size, nothing updated) instead of their own mode.
    """
    from .bn import batch_stats, normalise

    n = capture.get("samples") if capture is not None else None
    for name, module in model.named_children():
        if name.endswith("_bn"):
            if bn_group is not None:
                mean, var = batch_stats(x, bn_group)
                x = normalise(x, mean, var, module.weight, module.bias, module.eps, bn_group)
                continue
            if capture is not None:
                mean, var = batch_stats(x.detach())
                capture[(name[:-3], "batch")] = (mean[0], var[0])
        y = module(x)
        if capture is not None and name.endswith("_act"):
            capture[(name[:-4], "pre")] = x[:n]
            capture[(name[:-4], "act")] = y[:n]
        x = y
    return x


def as_input(images_u8):
    """uint8 (N, 28, 28) → float (N, 1, 28, 28) in [0, 1]."""
    return images_u8.unsqueeze(1).float().mul_(1 / 255)


def accuracy(model, x_u8, y, *, bn_group: int | None = None, chunk: int = EVAL_CHUNK) -> float:
    """Share of correct predictions. ``bn_group=None``: the model's current mode decides the BN
    statistics; otherwise batch statistics over groups of ``bn_group`` examples."""
    import torch

    if bn_group:
        chunk = max(bn_group, chunk // bn_group * bn_group)
    correct = torch.zeros((), dtype=torch.int64, device=y.device)
    with torch.no_grad():
        for i in range(0, len(y), chunk):
            logits = forward(model, as_input(x_u8[i:i + chunk]), bn_group=bn_group)
            correct += (logits.argmax(1) == y[i:i + chunk]).sum()
    return correct.item() / max(1, len(y))


def test_time_accuracy(model, x_u8, y, batch_sizes=(1, 8, 256)) -> dict:
    """BN model on test data: eval mode (running statistics) vs train mode (batch statistics) at
    each batch size. Uses the first n examples, n divisible by every batch size, for all rows."""
    lcm = math.lcm(*batch_sizes)
    n = len(y) - len(y) % lcm
    if n == 0:
        raise ConfigError("test_set_too_small", n=len(y), batch=lcm)
    was_training = model.training
    model.eval()
    try:
        eval_acc = accuracy(model, x_u8[:n], y[:n])
        rows = [{"batch": b, "eval": eval_acc, "train": accuracy(model, x_u8[:n], y[:n], bn_group=b)}
                for b in batch_sizes]
    finally:
        model.train(was_training)
    return {"n": n, "rows": tuple(rows)}


# --------------------------------------------------------------------------------------------
# Snapshot


@dataclass(frozen=True)
class Capture:
    """Everything recorded at one histogram step. Arrays are float32 and read-only.

    - ``hist``: (model, layer, kind, bins) counts; kind 0 = pre-activation, 1 = activation.
    - ``outside``: (model, layer, kind, 4) counts under / over the range, NaN, ±inf.
    - ``pct``: (model, layer, kind, 3) 15th, 50th, 85th percentiles (NaN if none finite).
    - ``grad_norm``: (model, 5) ‖∇W‖₂ of conv1, conv2, fc1, fc2, fc3 at this step.
    - ``bn``: BN model only, layer → {γ, β, running mean/var, batch mean/var} per channel.
    """

    step: int
    epoch: float
    hist: np.ndarray
    outside: np.ndarray
    pct: np.ndarray
    grad_norm: np.ndarray
    bn: Mapping[str, Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Snapshot:
    """A consistent, immutable view of a job. Fields:

    state, reason_key, reason_params — see :data:`STATES`; reason for finished/diverged/failed.
    version — increases whenever anything below changes (cheap change detection for pages).
    config, device, device_name, dataset_source, synthetic, n_train, n_test.
    step, total_steps, steps_per_epoch, epoch (completed), images_per_s, eta_s, elapsed_s.
    loss — (steps, 2) per-step training loss of (LeNet, LeNet-BN); NaN where non-finite.
    epochs — per completed epoch: ``epoch``, ``train_loss``/``train_acc``/``test_acc`` as (E, 2).
    captures — tuple of :class:`Capture`, at most ``config.max_captures`` (evenly thinned).
    edges — {"pre": bin edges, "act": bin edges}.
    test_time — None, or {"n", "rows": ({"batch", "eval", "train"}, ...)} for the BN model.
    diverged_at, diverged_model — step and model name when the state is ``diverged``.
    """

    state: str
    reason_key: str
    reason_params: Mapping
    version: int
    config: TrainConfig
    device: str
    device_name: str
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
    diverged_at: int | None
    diverged_model: str | None

    @property
    def progress(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def nbytes(self) -> int:
        """Bytes held by the arrays of this snapshot (history size)."""
        total = self.loss.nbytes + sum(a.nbytes for a in self.epochs.values())
        for c in self.captures:
            total += c.hist.nbytes + c.outside.nbytes + c.pct.nbytes + c.grad_norm.nbytes
            total += sum(a.nbytes for d in c.bn.values() for a in d.values())
        return total


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float32) if not isinstance(a, np.ndarray) else a
    a.setflags(write=False)
    return a


class _Outbox:
    """Device → host copies that never block the training loop.

    On CUDA each item is copied into pinned memory with ``non_blocking`` and an event; items are
    handed out only once their event has completed. Elsewhere copies are immediate.
    """

    def __init__(self, device):
        import torch

        self.cuda = device.type == "cuda"
        self.items: deque = deque()
        self._torch = torch

    def put(self, tag, tensor) -> None:
        tensor = tensor.detach()
        if self.cuda:
            host = self._torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            host.copy_(tensor, non_blocking=True)
            event = self._torch.cuda.Event()
            event.record()
            self.items.append((tag, host, event))
        else:
            self.items.append((tag, tensor.to("cpu", copy=True), None))

    def ready(self, wait: bool = False):
        while self.items:
            tag, host, event = self.items[0]
            if event is not None:
                if wait:
                    event.synchronize()
                elif not event.query():
                    return
            self.items.popleft()
            yield tag, host.numpy()


# --------------------------------------------------------------------------------------------
# The job


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
        self._lock = threading.Lock()  # guards the recorded history and state
        self._model_lock = threading.Lock()  # held by the thread while it touches the models
        self._ctl = threading.Condition()  # pause / single step / stop requests
        self._thread: threading.Thread | None = None
        self._released = False
        self._device_data = None
        self._optimizers = None
        self.traceback = ""  # of a failure, for logs (never shown on a page)
        self._reset_state()

    # ---- set-up ---------------------------------------------------------------------------
    def _limits(self) -> tuple[int, int]:
        n_train, n_test = len(self.data.y_train), len(self.data.y_test)
        cfg = self.config
        return (min(n_train, cfg.train_limit or n_train), min(n_test, cfg.test_limit or n_test))

    def _reset_state(self) -> None:
        from . import models

        cfg = self.config
        self.models = []
        for bn in (False, True):
            model = models.lenet(bn, activation=cfg.activation, bn_position=cfg.bn_position,
                                 bn_impl=cfg.bn_impl, bn_momentum=cfg.bn_momentum, bn_eps=cfg.bn_eps)
            models.init_weights(model, cfg.seed)
            self.models.append(model)
        n_train, n_test = self._limits()
        self.n_train, self.n_test = n_train, n_test
        self.steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self._state, self._reason = "idle", ("", {})
        self._paused, self._grant, self._stop_req = False, 0, False
        self._step = 0
        self._epoch = 0
        self._active_s = 0.0
        self._loss = np.full((self.total_steps, 2), np.nan, dtype=np.float32)
        self._epochs: list[tuple] = []
        self._captures: list[Capture] = []
        self._stride = 1  # capture every hist_every·stride steps (doubles when history thins)
        self._test_time = None
        self._diverged = (None, None)
        self._version = 0
        self._snap: Snapshot | None = None
        self._edges = {kind: _frozen(histograms.edges(*rng, cfg.bins))
                       for kind, rng in histograms.ranges(cfg.activation).items()}

    # ---- controls -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def _set_state(self, state: str, key: str = "", **params) -> None:
        with self._lock:
            self._state, self._reason = state, (key, params)
            self._version += 1

    def start(self) -> None:
        """Start an idle job, or resume a paused one. Raises :class:`JobRefused` over the cap."""
        if self._state == "paused":
            return self.resume()
        if self._state != "idle":
            raise JobRefused("job_not_idle", state=self._state)
        self._launch(paused=False)

    def _launch(self, paused: bool) -> None:
        if self._released:
            raise JobRefused("job_released")
        if self.manager is not None:
            self.manager.admit(self)
        with self._ctl:
            self._paused, self._stop_req = paused, False
        self._set_state("paused" if paused else "running")
        self._thread = threading.Thread(target=self._run, name=f"bnviz-train-{self.id}",
                                        daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self._state == "running":
            with self._ctl:
                self._paused = True
            self._set_state("paused")

    def resume(self) -> None:
        if self._state == "paused":
            with self._ctl:
                self._paused = False
                self._ctl.notify_all()
            self._set_state("running")

    def step(self, n: int = 1) -> None:
        """Do ``n`` training steps, then stay paused (starts an idle job paused)."""
        if self._state == "idle":
            self._launch(paused=True)
        if self._state == "running":
            self.pause()
        if self._state == "paused":
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
        with self._model_lock:
            self._thread = None
            self._reset_state()
        if self.manager is not None:
            self.manager.forget(self)

    def release(self) -> None:
        """Stop and drop everything heavy; the job cannot be started again."""
        self._released = True
        self.stop()
        with self._model_lock:
            self._device_data = None
        if self.manager is not None:
            self.manager.forget(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
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
                    return True
                if self._grant > 0:
                    self._grant -= 1
                    return True
                if on_wait is None:
                    self._ctl.wait(0.5)
                    continue
            if on_wait():  # True: the run has ended (diverged) while being read out
                return False
            on_wait = None

    # ---- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        _name_os_thread(f"bnviz-train-{self.id}")
        try:
            self._train()
        except Exception as exc:  # noqa: BLE001 - recorded, shown as the failed state
            self.traceback = traceback.format_exc()
            self._set_state("failed", "job_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._device_data = None
            self._optimizers = None
            if self.manager is not None:
                self.manager.forget(self)

    def _make_optimizers(self):
        import torch

        cfg = self.config
        out = []
        for model, lr in zip(self.models, (cfg.lr, cfg.lr_bn)):
            if cfg.optimizer == "adam":
                out.append(torch.optim.Adam(model.parameters(), lr=lr))
            else:
                momentum = cfg.momentum if cfg.optimizer == "momentum" else 0.0
                out.append(torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum))
        return out

    def _train(self) -> None:
        import torch
        import torch.nn.functional as F

        from . import models as M

        cfg = self.config
        dev = torch.device(self.device)
        for model in self.models:
            model.to(dev).train()
        n_train, n_test = self.n_train, self.n_test
        # The whole (limited) dataset lives on the device; batches are slices of it.
        x_train = torch.from_numpy(self.data.x_train[:n_train]).to(dev)
        y_train = torch.from_numpy(self.data.y_train[:n_train]).to(dev)
        x_test = torch.from_numpy(self.data.x_test[:n_test]).to(dev)
        y_test = torch.from_numpy(self.data.y_test[:n_test]).to(dev)
        self._device_data = (x_train, y_train, x_test, y_test)
        self._optimizers = opts = self._make_optimizers()
        gen = torch.Generator().manual_seed(cfg.seed)
        outbox = _Outbox(dev)
        rng = histograms.ranges(cfg.activation)
        weighted = [list(M.weighted_layers(m).values()) for m in self.models]
        bn_mods = M.bn_layers(self.models[1])
        loss_buf = torch.zeros((DRAIN_EVERY, 2), device=dev)
        epoch_sums = torch.zeros((2, 2), device=dev)  # (model, [loss·n, correct])
        b = cfg.batch_size
        last_flush = self._step

        def flush() -> bool:
            """Hand out every loss and capture so far (waits for the device); True if diverged."""
            nonlocal last_flush
            if self._step > last_flush:
                outbox.put(("loss", last_flush, self._step), loss_buf[:self._step - last_flush])
                last_flush = self._step
            return self._drain(outbox, wait=True)

        for epoch in range(self._epoch, cfg.epochs):
            order = torch.randperm(n_train, generator=gen).to(dev, non_blocking=True)
            epoch_sums.zero_()
            for i in range(self.steps_per_epoch):
                if not self._gate(on_wait=flush):
                    if flush() or self._diverged[0] is not None:
                        return None
                    return self._finish("finished", "job_stopped", step=self._step)
                t0 = time.perf_counter()
                idx = order[i * b:(i + 1) * b]
                xb, yb = as_input(x_train[idx]), y_train[idx]
                step = self._step
                capturing = step % (cfg.hist_every * self._stride) == 0
                packs = []
                with self._model_lock:
                    for k, (model, opt) in enumerate(zip(self.models, opts)):
                        cap = {"samples": cfg.hist_samples or None} if capturing else None
                        logits = forward(model, xb, capture=cap) if capturing else model(xb)
                        loss = F.cross_entropy(logits, yb)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        if capturing:
                            packs.append(self._pack(cap, weighted[k], bn_mods if k else None, rng))
                        opt.step()
                        loss_d = loss.detach()
                        loss_buf[step - last_flush, k] = loss_d
                        epoch_sums[k, 0] += loss_d * len(yb)
                        epoch_sums[k, 1] += (logits.argmax(1) == yb).sum()
                if capturing:
                    outbox.put(("capture", step, epoch + i / self.steps_per_epoch),
                               torch.cat(packs))
                self._step = step + 1
                if self._step - last_flush == DRAIN_EVERY or i == self.steps_per_epoch - 1:
                    outbox.put(("loss", last_flush, self._step), loss_buf[:self._step - last_flush])
                    last_flush = self._step
                self._active_s += time.perf_counter() - t0
                if self._step % DRAIN_EVERY == 0 and self._drain(outbox):
                    return
            # End of epoch: the only places the loop waits for the device.
            if self._drain(outbox, wait=True):
                return
            sums = epoch_sums.cpu().numpy()
            with self._model_lock:
                for model in self.models:
                    model.eval()
                test_acc = [accuracy(m, x_test, y_test) for m in self.models]
                for model in self.models:
                    model.train()
            with self._lock:
                self._epochs.append((epoch + 1, sums[:, 0] / n_train, sums[:, 1] / n_train,
                                     np.array(test_acc)))
                self._epoch = epoch + 1
                self._version += 1
        self._finish("finished", "job_done", epochs=cfg.epochs)

    def _finish(self, state: str, key: str, **params) -> None:
        if state == "finished" and self._device_data is not None and self._step > 0:
            _, _, x_test, y_test = self._device_data
            try:
                with self._model_lock:
                    result = test_time_accuracy(self.models[1], x_test, y_test,
                                                self.config.test_time_batches)
                with self._lock:
                    self._test_time = MappingProxyType(result)
            except ConfigError:
                pass  # test subset smaller than the largest batch: no demonstration
        self._set_state(state, key, **params)

    def _pack(self, cap: dict, weighted, bn_mods, rng) -> "torch.Tensor":  # noqa: F821
        """One model's capture as a flat device vector (layout: :meth:`_unpack`)."""
        import torch

        bins = self.config.bins
        parts = [histograms.capture(cap[(layer, kind)], *rng[kind], bins)
                 for layer in LAYERS for kind in KINDS]
        parts.append(torch.stack([m.weight.grad.norm() for m in weighted]).float())
        for layer in LAYERS:
            if bn_mods:
                bn = bn_mods[layer]
                mean, var = cap[(layer, "batch")]
                parts += [bn.weight.detach(), bn.bias.detach(), bn.running_mean, bn.running_var,
                          mean, var]
        return torch.cat([p.reshape(-1).float() for p in parts])

    def _unpack(self, step: int, epoch: float, vec: np.ndarray) -> Capture:
        bins = self.config.bins
        w = histograms.width(bins)
        plain_len = len(LAYERS) * len(KINDS) * w + len(WEIGHTED)
        out = {"hist": [], "outside": [], "pct": [], "grad": []}
        bn = {}
        for k, chunk in enumerate((vec[:plain_len], vec[plain_len:])):
            h = chunk[:len(LAYERS) * len(KINDS) * w].reshape(len(LAYERS), len(KINDS), w)
            counts, outside, pct = histograms.split(h, bins)
            out["hist"].append(counts)
            out["outside"].append(outside)
            out["pct"].append(pct)
            pos = len(LAYERS) * len(KINDS) * w
            out["grad"].append(chunk[pos:pos + len(WEIGHTED)])
            pos += len(WEIGHTED)
            if k == 1 and len(chunk) > pos:
                for layer in LAYERS:
                    c = BN_CHANNELS[layer]
                    bn[layer] = MappingProxyType({f: _frozen(chunk[pos + j * c:pos + (j + 1) * c].copy())
                                                  for j, f in enumerate(BN_FIELDS)})
                    pos += len(BN_FIELDS) * c
        return Capture(step=step, epoch=epoch,
                       hist=_frozen(np.stack(out["hist"])),
                       outside=_frozen(np.stack(out["outside"])),
                       pct=_frozen(np.stack(out["pct"])),
                       grad_norm=_frozen(np.stack(out["grad"])),
                       bn=MappingProxyType(bn))

    def _drain(self, outbox: _Outbox, wait: bool = False) -> bool:
        """Move finished copies into the history. True when training diverged (state set)."""
        diverged = None
        with self._lock:
            for tag, arr in outbox.ready(wait):
                if tag[0] == "loss":
                    lo, hi = tag[1], tag[2]
                    self._loss[lo:hi] = arr[:hi - lo]
                    with np.errstate(invalid="ignore"):
                        bad = ~(arr[:hi - lo] <= DIVERGED_LOSS)  # NaN compares False
                    if bad.any() and diverged is None:
                        row, col = np.argwhere(bad)[0]
                        diverged = (lo + int(row), MODELS[int(col)])
                else:
                    self._captures.append(self._unpack(tag[1], tag[2], arr))
                    if len(self._captures) >= self.config.max_captures:
                        self._captures = self._captures[::2]  # keep an even cover of the run
                        self._stride *= 2
            self._version += 1
        if diverged is not None:
            self._diverged = diverged
            self._finish("diverged", "job_diverged", step=diverged[0], model=diverged[1])
            return True
        return False

    # ---- reading --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """An immutable, consistent copy of the job's state and history (cached per version)."""
        with self._lock:
            if (self._snap is not None and self._snap.version == self._version
                    and self._snap.step == self._step):
                return self._snap
            step = self._step
            rate = step * self.config.batch_size / self._active_s if self._active_s > 0 else 0.0
            remaining = (self.total_steps - step) * self.config.batch_size
            eta = remaining / rate if rate > 0 and self._state in ACTIVE else None
            loss = self._loss[:step].copy()
            loss[~np.isfinite(loss)] = np.nan
            rows = self._epochs
            epochs = MappingProxyType({
                "epoch": _frozen(np.array([r[0] for r in rows], dtype=np.float32)),
                "train_loss": _frozen(np.array([r[1] for r in rows], np.float32).reshape(-1, 2)),
                "train_acc": _frozen(np.array([r[2] for r in rows], np.float32).reshape(-1, 2)),
                "test_acc": _frozen(np.array([r[3] for r in rows], np.float32).reshape(-1, 2)),
            })
            self._snap = Snapshot(
                state=self._state, reason_key=self._reason[0],
                reason_params=MappingProxyType(dict(self._reason[1])), version=self._version,
                config=self.config, device=self.device, device_name=device_name(self.device),
                dataset_source=self.data.source, synthetic=self.data.synthetic,
                n_train=self.n_train, n_test=self.n_test, step=step, total_steps=self.total_steps,
                steps_per_epoch=self.steps_per_epoch, epoch=self._epoch, images_per_s=rate,
                eta_s=eta, elapsed_s=self._active_s, loss=_frozen(loss), epochs=epochs,
                captures=tuple(self._captures), edges=MappingProxyType(self._edges),
                test_time=self._test_time, diverged_at=self._diverged[0],
                diverged_model=self._diverged[1])
            return self._snap

    def test_time_now(self) -> dict:
        """The eval-vs-train-mode demonstration on the current BN model (any state)."""
        import torch

        with self._model_lock:
            dev = next(self.models[1].parameters()).device
            x = torch.from_numpy(self.data.x_test[:self.n_test]).to(dev)
            y = torch.from_numpy(self.data.y_test[:self.n_test]).to(dev)
            return test_time_accuracy(self.models[1], x, y, self.config.test_time_batches)

    def export_weights(self) -> bytes:
        """Both models' ``state_dict``s (CPU tensors) and the config, as ``torch.save`` bytes."""
        import torch

        with self._model_lock:
            payload = {"config": dataclasses.asdict(self.config), "step": self._step,
                       **{name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
                          for name, m in zip(MODELS, self.models)}}
        buf = io.BytesIO()
        torch.save(payload, buf)
        return buf.getvalue()


def _name_os_thread(name: str) -> None:
    """Give the OS thread the job's name (Linux), so ``top -H`` and /proc show training threads."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME, at most 15 bytes
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------------------------
# Job manager


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
        self._active: dict[int, Job] = {}

    @property
    def cap(self) -> int:
        return self._cap if self._cap is not None else default_cap()

    @cap.setter
    def cap(self, value: int | None) -> None:
        self._cap = value

    def admit(self, job: Job) -> None:
        with self._lock:
            self._active = {i: j for i, j in self._active.items() if j.alive or j is job}
            if job.id not in self._active and len(self._active) >= self.cap:
                raise JobRefused("job_cap", cap=self.cap, active=len(self._active))
            self._active[job.id] = job

    def forget(self, job: Job) -> None:
        with self._lock:
            self._active.pop(job.id, None)

    def active(self) -> list[Job]:
        with self._lock:
            return [j for j in self._active.values() if j.alive]

    def release_all(self, timeout: float = 30.0) -> None:
        for job in list(self._active.values()):
            job.release()
        for job in list(self._active.values()):
            job.join(timeout)


MANAGER = JobManager()
