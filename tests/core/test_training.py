"""The background training job: lockstep training, snapshots, controls, failures, the job cap."""

import copy
import io
import itertools
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as functional

from bnviz import training
from bnviz.batchnorm import models, population, probe
from bnviz.data import fashion_mnist
from bnviz.training import Job, JobManager, JobRefused, TrainConfig, bn_frames, histograms, lockstep, loop
from bnviz.training.manager import as_training_thread

# The device the histogram tests compute on (``BNVIZ_TEST_DEVICE=cuda``: the GPU check of
# docs/DEPLOY.md); the jobs here take TrainConfig's default, ``auto``: the GPU where there is one.
DEVICE = os.environ.get("BNVIZ_TEST_DEVICE", "cpu")
SMALL = dict(train_limit=512, test_limit=256, batch_size=64, epochs=2, hist_every=2,
             test_time_batches=(1, 8, 64))


@pytest.fixture(scope="module")
def fashion():
    return fashion_mnist.read_folder(fashion_mnist.DEBIAN_DIR)


@pytest.fixture(scope="module")
def synth():
    return fashion_mnist.synthetic(1024, 256, seed=1)


@pytest.fixture(autouse=True)
def no_threads_left():
    yield
    deadline = time.time() + 30
    while time.time() < deadline and any(t.name.startswith("bnviz-train") for t in threading.enumerate()):
        time.sleep(0.05)
    left = [t.name for t in threading.enumerate() if t.name.startswith("bnviz-train")]
    assert not left, f"training threads still running: {left}"


def run(cfg, ds, **kw):
    job = Job(cfg, ds, **kw)
    job.start()
    assert job.join(120)
    return job


# --------------------------------------------------------------------------------------------
# The job against an independent plain loop, one step at a time.
#
# Two float32 code paths that differ in the last bit (the job scales images with mul_(1/255),
# the reference with div(255)) drift apart over many chaotic steps at lr 1.0 with BatchNorm, by
# an amount that depends on the CPU and its thread count. So the job is not compared with a
# second whole run: every step of the job is replayed by the reference from the job's own
# weights before that step, and the job's loss and update must equal the reference's. Errors
# then stay at float32 rounding (~1e-7) on any machine, while a wrong learning rate, a skipped
# or repeated step, another batch order or the wrong model updated give errors of 1e-2 to 1
# (the broken variants below prove it).

LOSS_RTOL = 1e-5  # measured ≤ 1.5e-7 on a 2-core AMD EPYC, with 1 and with 2 threads
UPDATE_RTOL = 1e-4  # measured ≤ 9e-7 there


def step_by_step(job):
    """Drive ``job`` one step at a time: the models' weights before every step and after the last."""
    states = [job.readouts().weights()[1]]
    for k in range(job.total_steps):
        job.step()
        assert job.wait_parked(60), f"step {k + 1} did not happen"
        step, weights = job.readouts().weights()
        assert step == k + 1, f"step {k + 1} did not happen"
        states.append(weights)
    job.stop()
    return states


def flat(state) -> torch.Tensor:
    return torch.cat([v.reshape(-1).double().cpu() for v in state.values()])


def reference_step(state, batch_norm, lr, x, y):
    """One plain-PyTorch SGD step from ``state``: (loss, state after)."""
    net = models.lenet(batch_norm)
    net.load_state_dict(state)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss = functional.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), net.state_dict()


def step_errors(cfg, ds, states, losses, lrs=None) -> np.ndarray:
    """(steps, model, 2): relative error of the job's loss and of its update (the change of every
    weight and running statistic) against the reference step from the same weights and batch."""
    n, b = cfg.train_limit, cfg.batch_size
    x = torch.from_numpy(ds.x_train[:n].copy()).float().div(255).unsqueeze(1)
    y = torch.from_numpy(ds.y_train[:n])
    gen = torch.Generator().manual_seed(cfg.seed)
    errors, k = [], 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, b):
            idx = order[i:i + b]
            row = []
            rates = lrs(k) if lrs else (cfg.lr, cfg.lr_bn)
            for m, (bn, lr) in enumerate(zip((False, True), rates)):
                loss, after = reference_step(states[k][m], bn, lr, x[idx], y[idx])
                before = flat(states[k][m])
                d_ref, d_job = flat(after) - before, flat(states[k + 1][m]) - before
                row.append((abs(losses[k, m] - loss) / abs(loss),
                            float((d_job - d_ref).norm() / d_ref.norm())))
            errors.append(row)
            k += 1
    return np.array(errors)


def checked_run(ds, **changes):
    cfg = TrainConfig(**{**SMALL, "hist_every": 5, **changes})
    job = Job(cfg, ds)
    states = step_by_step(job)
    return job, step_errors(cfg, ds, states, job.snapshot().loss)


def test_real_data_job_equals_a_plain_training_loop_step_by_step(fashion):
    """Every step of both models equals an independent SGD step from the job's own weights on the
    batch of the seeded order; per-epoch test accuracy equals an independent evaluation."""
    job, errors = checked_run(fashion)
    snap = job.snapshot()
    assert snap.dataset_source == str(fashion_mnist.DEBIAN_DIR) and not snap.synthetic
    assert snap.step == snap.total_steps == 16 and np.isfinite(snap.loss).all()
    assert errors.shape == (16, 2, 2)
    assert errors[..., 0].max() < LOSS_RTOL, errors[..., 0].max()
    assert errors[..., 1].max() < UPDATE_RTOL, errors[..., 1].max()


def test_real_data_job_test_accuracy_is_an_eval_mode_pass(fashion):
    """The per-epoch test accuracy is the eval-mode accuracy of the weights at the epoch's end."""
    cfg = TrainConfig(**SMALL)
    job = run(cfg, fashion)
    snap = job.snapshot()
    assert snap.state == "finished" and snap.reason_key == "job_done"
    xt = torch.from_numpy(fashion.x_test[:256].copy()).float().div(255).unsqueeze(1)
    yt = torch.from_numpy(fashion.y_test[:256])
    for m, (bn, state) in enumerate(zip((False, True), job.readouts().weights()[1])):
        net = models.lenet(bn)
        net.load_state_dict(state)
        net.eval()
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item()
        # Inputs scaled in another way may flip a near tie: at most one example of 256.
        assert abs(snap.epochs["test_acc"][-1, m] - acc) <= 1 / 256 + 1e-9


def _skip_or_repeat(monkeypatch, extra_steps: int, at_call: int = 11):
    """Make the trainer's ``at_call``-th model update happen 1 + ``extra_steps`` times."""
    original = lockstep.train_step
    calls = itertools.count(1)

    def broken(model, optimizer, xb, yb, **kw):
        if next(calls) != at_call:
            return original(model, optimizer, xb, yb, **kw)
        step = optimizer.step
        optimizer.step = lambda: [step() for _ in range(1 + extra_steps)]
        try:
            return original(model, optimizer, xb, yb, **kw)
        finally:
            del optimizer.step

    monkeypatch.setattr(lockstep, "train_step", broken)


BROKEN = {
    "wrong lr": lambda mp: mp.setattr(lockstep, "make_optimizer", lambda cfg, params, lr:
                                      torch.optim.SGD(params, lr=lr * 1.05)),
    "skipped step": lambda mp: _skip_or_repeat(mp, extra_steps=-1),
    "repeated step": lambda mp: _skip_or_repeat(mp, extra_steps=1),
    "other batch order": lambda mp: mp.setattr(lockstep.Lockstep, "epoch_order", lambda self, n, dev=None:
                                               torch.randperm(n, generator=torch.Generator().manual_seed(7))),
    "wrong model updated": lambda mp: mp.setattr(lockstep.Lockstep, "__init__", _swapped_optimizers),
}
_init = lockstep.Lockstep.__init__


def _swapped_optimizers(self, config):
    """Each model's optimizer holds the other model's weights."""
    _init(self, config)
    self.optimizers.reverse()


@pytest.mark.parametrize("bug", list(BROKEN))
def test_the_step_check_catches_a_broken_trainer(fashion, monkeypatch, bug):
    """Each bug the check must catch, planted in a copy of the trainer: the check fails by far."""
    BROKEN[bug](monkeypatch)
    job, errors = checked_run(fashion)
    worst_loss, worst_update = errors[..., 0].max(), errors[..., 1].max()
    print(f"{bug}: worst loss error {worst_loss:.2e}, worst update error {worst_update:.2e}")
    assert worst_loss > 100 * LOSS_RTOL or worst_update > 100 * UPDATE_RTOL, (bug, worst_loss, worst_update)


def test_snapshot_fields_shapes_and_immutability(synth):
    cfg = TrainConfig(**SMALL)
    job = run(cfg, synth)
    s = job.snapshot()
    assert s.synthetic and s.step == s.total_steps == 16 and s.steps_per_epoch == 8
    assert s.epoch == 2 and s.progress == 1.0 and s.images_per_s > 0 and s.eta_s is None
    assert s.loss.shape == (16, 2) and np.isfinite(s.loss).all()
    for key in ("train_loss", "train_acc", "test_acc"):
        assert s.epochs[key].shape == (2, 2)
    # Every hist_every steps, and one more where the run ended, so its panels show the end.
    assert [c.step for c in s.captures] == [*range(0, 16, 2), 16]
    c = s.captures[-1]
    assert c.hist.shape == (2, 4, 2, cfg.bins) and c.outside.shape == (2, 4, 2, 4)
    assert c.pct.shape == (2, 4, 2, 3) and c.grad_norm.shape == (2, 5)
    # conv1's 64 examples (6×24×24 values each) are counted every 7th (≤ HIST_SAMPLE), fc2's all;
    # nothing is non-finite.
    assert c.hist[0, 0, 0].sum() == len(range(0, 64 * 6 * 24 * 24, 7)) and c.hist[1, 3, 1].sum() == 64 * 84
    assert (c.outside[..., 2:] == 0).all()
    assert np.all(np.diff(c.pct, axis=-1) >= 0)  # 15th ≤ 50th ≤ 85th
    assert set(c.bn) == set(training.HIDDEN_LAYERS)
    assert set(c.bn["fc1"]) == set(training.BN_FIELDS) and c.bn["fc1"]["gamma"].shape == (120,)
    assert s.edges["pre"][0] == -10 and s.edges["act"][-1] == 1 and len(s.edges["act"]) == cfg.bins + 1
    with pytest.raises(ValueError):
        s.loss[0, 0] = 1
    with pytest.raises(ValueError):
        c.hist[0, 0, 0, 0] = 1
    with pytest.raises(TypeError):
        c.bn["fc1"]["gamma"] = None
    with pytest.raises(AttributeError):
        s.state = "idle"
    assert job.snapshot() is s  # unchanged state: the same object, no copy
    # Test-time demonstration: eval mode does not depend on the batch size; train mode at batch
    # size 1 normalises every fully connected value to β, so it is near chance.
    tt = s.test_time
    assert [r["batch"] for r in tt["rows"]] == [1, 8, 64] and tt["n"] == 256
    assert len({r["eval"] for r in tt["rows"]}) == 1
    assert tt["rows"][0]["train"] < tt["rows"][0]["eval"]


def test_the_probe_frame_is_empty_before_the_first_probe_and_finite_after(synth):
    """The smoothness panel can be drawn before any probe arrived (a watcher opening it at the
    start: the load test's server once failed there on an empty, untyped frame)."""
    idle = Job(TrainConfig(**SMALL), synth).snapshot()
    frame = bn_frames.probe_frame(idle)
    assert frame.empty and list(frame.columns) == ["step", "model", "variation", "predictiveness"]
    assert frame["variation"].dtype == np.float64
    ran = bn_frames.probe_frame(run(TrainConfig(**SMALL), synth).snapshot())
    assert len(ran) and np.isfinite(ran[["variation", "predictiveness"]].to_numpy()).all()


def test_the_ridge_frame_is_each_kept_capture_as_shares_one_row_lower_each(synth):
    """TensorBoard's offset view, checked row by row against the captures' own counts."""
    s = run(TrainConfig(**SMALL), synth).snapshot()
    kept = [0, 3, 5, 8]  # 4 of the 9 captures, evenly spread, the last kept
    frame = bn_frames.ridge_frame(s, "fc1", "act", rows=4, gain=6.0)
    centres = (s.edges["act"][:-1] + s.edges["act"][1:]) / 2
    bins = len(centres)
    assert len(frame) == len(kept) * 2 * bins
    for r, i in enumerate(kept):
        c = s.captures[i]
        for k, label in enumerate(bn_frames.MODEL_LABELS):
            part = frame.iloc[(2 * r + k) * bins:(2 * r + k + 1) * bins]
            counts = c.hist[k, training.HIDDEN_LAYERS.index("fc1"), training.KINDS.index("act")]
            assert (part.step == c.step).all() and (part.model == label).all()
            np.testing.assert_allclose(part.x, centres)
            np.testing.assert_allclose(part.share, counts / counts.sum())
            assert (part.base == -r).all()
            np.testing.assert_allclose(part.top, -r + 6.0 * counts / counts.sum())


def test_the_layer_grid_is_the_last_capture_as_shares_and_out_of_range_counts_are_listed(synth):
    """The histogram grid (model × layer) and the out-of-range notes, against the capture itself;
    a diverging rate so that some counts fall outside the axis."""
    s = run(TrainConfig(**{**SMALL, "lr": 30.0, "lr_bn": 30.0}), synth).snapshot()
    c, edges = s.captures[-1], s.edges["pre"]
    frame = bn_frames.layers_frame(s, "pre")
    bins = len(edges) - 1
    assert len(frame) == 2 * len(training.HIDDEN_LAYERS) * bins
    for k, label in enumerate(bn_frames.MODEL_LABELS):
        for li, layer in enumerate(training.HIDDEN_LAYERS):
            part = frame.iloc[(k * len(training.HIDDEN_LAYERS) + li) * bins:][:bins]
            counts = c.hist[k, li, 0]
            assert (part.model == label).all() and (part.layer == layer).all()
            np.testing.assert_allclose(part.lo, edges[:-1])
            np.testing.assert_allclose(part.hi, edges[1:])
            np.testing.assert_allclose(part.share, counts / counts.sum() if counts.sum() else counts)
    listed = 0
    for li, layer in enumerate(training.HIDDEN_LAYERS):
        rows = bn_frames.outside_rows(s, layer)
        expected = [(label, kind) for k, label in enumerate(bn_frames.MODEL_LABELS)
                    for ki, kind in enumerate(training.KINDS) if c.outside[k, li, ki].sum() > 0]
        assert [(r["model"], r["kind"]) for r in rows] == expected
        for r in rows:
            k, ki = bn_frames.MODEL_LABELS.index(r["model"]), training.KINDS.index(r["kind"])
            assert [r[name] for name in histograms.OUTSIDE] == c.outside[k, li, ki].tolist()
        listed += len(rows)
    assert listed > 0  # the rate really sent values off the axis


def test_figure_1_is_every_capture_s_percentiles_and_the_drift_is_read_from_them(synth):
    s = run(TrainConfig(**SMALL), synth).snapshot()
    li, ki = training.HIDDEN_LAYERS.index("fc1"), training.KINDS.index("act")
    frame = bn_frames.percentile_frame(s, "fc1", "act")
    assert len(frame) == 2 * len(s.captures)
    for i, c in enumerate(s.captures):
        for k, label in enumerate(bn_frames.MODEL_LABELS):
            row = frame.iloc[2 * i + k]
            assert row.step == c.step and row.model == label
            np.testing.assert_allclose([row.p15, row.p50, row.p85], c.pct[k, li, ki])
    for k, label in enumerate(bn_frames.MODEL_LABELS):
        medians = np.array([c.pct[k, li, ki, 1] for c in s.captures])
        expected = np.abs(medians - medians[0]).max()
        assert bn_frames.drift(s, "fc1", "act")[label] == pytest.approx(expected)
        assert bn_frames.drift(s, "fc1", "act", frame)[label] == pytest.approx(expected)
        start = bn_frames.start_medians(frame.iloc[::-1])  # any row order: the earliest step's median
        assert start.loc[start.model == label, "p50"].item() == pytest.approx(medians[0])
    every = np.array([c.pct[:, li, ki, [0, 2]] for c in s.captures])
    assert bn_frames.extent(frame) == (pytest.approx(every.min()), pytest.approx(every.max()))
    no_finite = frame.assign(p15=np.nan, p85=np.inf)
    assert bn_frames.extent(no_finite) is None


def test_bn_statistics_in_the_capture_match_the_module(synth):
    """Step 0's capture holds the batch statistics BN used; one update later the module's running
    statistics must be exactly the EWMA step from them (PyTorch: unbiased variance)."""
    job = Job(TrainConfig(**SMALL), synth)
    job.step()
    deadline = time.time() + 30
    while not job.snapshot().captures and time.time() < deadline:
        time.sleep(0.01)
    job.stop()
    c = job.snapshot().captures[0]
    assert c.step == 0
    for layer, module in models.bn_layers(job.models[1]).items():
        rec = c.bn[layer]
        np.testing.assert_array_equal(rec["gamma"], 1)  # read before the optimizer step
        # Running statistics are read after the forward pass, i.e. already updated by it. Exact: the
        # capture is a copy of this very buffer (float32 kept), not a second computation of it.
        np.testing.assert_array_equal(rec["running_mean"], module.running_mean.cpu().numpy())
        m = 64 * {"conv1": 24 * 24, "conv2": 8 * 8}.get(layer, 1)  # values per channel
        np.testing.assert_allclose(module.running_mean.cpu().numpy(), 0.1 * rec["batch_mean"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(module.running_var.cpu().numpy(),
                                   0.9 + 0.1 * rec["batch_var"] * m / (m - 1), rtol=1e-5)


def assert_same_histogram(counts, ref):
    """torch's ``histc`` places a value in float32, NumPy in float64 (and vector widths round their
    own way): a value on a bin's edge may land on either side of it. So the totals agree and at
    most a few values move to a neighbouring bin; a wrong range, bin count or sample moves
    hundreds (shown in the sample test below)."""
    assert counts.sum() == ref.sum()
    assert np.abs(counts - ref).sum() <= 4, np.abs(counts - ref).sum()


def test_histogram_capture_agrees_with_numpy():
    t = torch.randn(5000) * 6
    t[:3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    vec = histograms.capture(t.to(DEVICE), -10, 10, 20).cpu().numpy()
    counts, outside, pct = histograms.split(vec, 20)
    finite = t[torch.isfinite(t)].numpy()
    ref, _ = np.histogram(np.clip(finite, -10, 10), bins=20, range=(-10, 10))
    assert_same_histogram(counts, ref)
    assert outside.tolist() == [(finite < -10).sum(), (finite > 10).sum(), 1, 2]
    sample = t[::2].numpy()  # 5000 values → stride 2 under the 4096 cap
    np.testing.assert_allclose(pct, np.nanpercentile(np.where(np.isfinite(sample), sample, np.nan),
                                                     [15, 50, 85]), rtol=1e-5)
    all_nan = histograms.capture(torch.full((10,), float("nan"), device=DEVICE), 0, 1, 4).cpu().numpy()
    assert all_nan[:4].sum() == 0 and all_nan[6] == 10 and np.isnan(all_nan[-3:]).all()


def test_a_capture_copies_nothing_from_the_host(monkeypatch):
    """The percentiles' levels are made on a device once, not at every capture: on a GPU each such
    copy from the host waits for the device (16 a capture)."""
    histograms.capture(torch.randn(100, device=DEVICE), -10, 10, 20)  # the levels, made once here
    made = []
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or torch.as_tensor(*a, **k))
    for _ in range(3):
        histograms.capture(torch.randn(100, device=DEVICE), -10, 10, 20)
    assert made == []


def test_a_large_tensor_is_histogrammed_from_an_even_sample_of_it():
    """conv1's 64 examples hold 221,184 values: a capture reads every 7th (≤ HIST_SAMPLE), and its
    shares stay those of the whole tensor within sampling error."""
    torch.manual_seed(0)
    t = torch.randn(64, 6, 24, 24) * 3 + torch.linspace(-4, 4, 24)  # a trend along one axis
    t[0, 0, 0, :7] = float("nan")
    vec = histograms.capture(t.to(DEVICE), -10, 10, 50).cpu().numpy()
    counts, outside, _ = histograms.split(vec, 50)
    sample = t.reshape(-1)[::7]
    assert len(sample) <= histograms.HIST_SAMPLE < t.numel()
    finite = sample[torch.isfinite(sample)].numpy()
    ref, _ = np.histogram(np.clip(finite, -10, 10), bins=50, range=(-10, 10))
    assert_same_histogram(counts, ref)
    for wrong in (t.reshape(-1)[::6], t.reshape(-1)[1::7]):  # another stride, another start
        other = wrong[torch.isfinite(wrong)].numpy()
        off, _ = np.histogram(np.clip(other, -10, 10), bins=50, range=(-10, 10))
        with pytest.raises(AssertionError):
            assert_same_histogram(counts, off)
    assert outside[2] == int(torch.isnan(sample).sum()) == 1  # every 7th: one of the seven NaN
    whole, _ = np.histogram(np.clip(t[torch.isfinite(t)].numpy(), -10, 10), bins=50, range=(-10, 10))
    assert np.abs(counts / counts.sum() - whole / whole.sum()).max() < 0.005


def test_the_time_spent_on_test_accuracy_is_counted_while_and_after_it_runs(synth, monkeypatch):
    """bench bn-gil leaves the epochs' test accuracy out of training speed: ``testing_s`` counts
    each one, the one under way included, and no step trains meanwhile."""
    real, calls = loop.accuracy, []

    def slow_accuracy(model, x, y):
        before = job.testing_s(), job.steps_done
        time.sleep(0.2)
        calls.append((before, (job.testing_s(), job.steps_done)))
        return real(model, x, y)

    monkeypatch.setattr(loop, "accuracy", slow_accuracy)
    job = Job(TrainConfig(**SMALL), synth)  # 2 epochs, 2 models: four calls
    assert job.testing_s() == 0.0
    t0 = time.perf_counter()
    job.start()
    assert job.join(120)
    wall = time.perf_counter() - t0
    assert len(calls) == 4 and job.snapshot().state == "finished"
    for (testing0, steps0), (testing1, steps1) in calls:
        assert testing1 - testing0 >= 0.2 and steps1 == steps0  # counted while under way; no step
    assert 0.8 <= job.testing_s() < wall
    assert job.testing_s() == job.testing_s()  # nothing under way any more: it stands still


def test_pause_step_resume_stop_and_reset(synth):
    cfg = TrainConfig(**{**SMALL, "epochs": 50})
    job = Job(cfg, synth)
    assert job.state == "idle" and not job.alive
    job.step()  # starts paused and does exactly one step
    assert job.wait_parked(60)  # waiting at the gate, however slow the machine
    s = job.snapshot()
    assert s.state == "paused" and job.alive and job.steps_done == 1
    assert s.loss.shape == (1, 2) and np.isfinite(s.loss).all()  # read out when it paused
    assert [c.step for c in s.captures] == [0, 1]  # and a capture of where it waits
    job.step(3)
    assert job.wait_parked(60)
    assert job.steps_done == 4 and job.state == "paused"
    job.resume()
    deadline = time.time() + 60
    while job.steps_done < 20 and time.time() < deadline:
        time.sleep(0.01)
    assert job.state == "running"
    job.pause()
    assert job.wait_parked(60)
    frozen = job.steps_done
    time.sleep(0.3)
    assert job.steps_done == frozen and job.state == "paused"
    job.start()  # start on a paused job resumes
    assert job.state == "running"
    job.stop()
    s = job.snapshot()
    assert not job.alive and s.state == "finished" and s.reason_key == "job_stopped"
    assert s.reason_params["step"] == s.step and np.isfinite(s.loss).all()
    with pytest.raises(JobRefused):
        job.start()  # a finished job needs a reset
    first_w = job.models[0].conv1.weight.detach().cpu()
    job.reset()
    s = job.snapshot()
    assert s.state == "idle" and s.step == 0 and not s.captures and len(s.loss) == 0
    assert not torch.equal(first_w, job.models[0].conv1.weight.cpu())  # back to the initial weights
    fresh = models.lenet(False)
    models.init_weights(fresh, cfg.seed)  # exact: the same draws from the same seed, in the same order
    assert torch.equal(fresh.conv1.weight, job.models[0].conv1.weight.cpu())


def test_a_model_that_diverges_stops_and_the_other_trains_on(synth):
    cfg = TrainConfig(**{**SMALL, "lr": 1e4, "lr_bn": 1.0, "hist_every": 1, "epochs": 6})
    job = run(cfg, synth)
    s = job.snapshot()
    assert s.state == "finished" and s.reason_key == "job_done"  # LeNet-BN trained to the end
    assert set(s.diverged) == {"lenet"} and s.diverged_model == "lenet"
    k = s.diverged_at
    assert 0 <= k < s.total_steps and not job.history.loss[k, 0] <= training.DIVERGED_LOSS
    assert (s.loss[:k, 0] <= training.DIVERGED_LOSS).all()
    assert np.isnan(s.loss[k + loop.DRAIN_EVERY + 1:, 0]).all()  # no more steps once it is known
    assert np.isfinite(s.loss[:, 1]).all() and s.loss[-5:, 1].mean() < s.loss[:5, 1].mean()
    assert np.isnan(s.epochs["test_acc"][-1, 0]) and s.epochs["test_acc"][-1, 1] > 0.5
    # Pre-activations pushed far outside the histogram range are counted, not dropped.
    assert any(c.outside[0, :, 0, :2].sum() > 0 for c in s.captures)


def test_when_both_diverge_the_run_ends_and_non_finite_values_are_counted(synth):
    cfg = TrainConfig(**{**SMALL, "lr": 1e4, "lr_bn": 1e4, "activation": "relu", "hist_every": 1,
                         "epochs": 20})
    s = run(cfg, synth).snapshot()
    assert s.state == "diverged" and set(s.diverged) == {"lenet", "lenet_bn"} and s.diverged_at is not None
    assert s.reason_params["step"] == s.diverged_at and s.reason_params["model"] == s.diverged_model
    for c in s.captures:  # every capture is well-formed, whatever the values were
        assert c.hist.shape == (2, 4, 2, cfg.bins) and np.isfinite(c.hist).all()
    assert any(c.outside[..., 2:].sum() > 0 for c in s.captures)  # NaN / inf counted apart


def test_an_exception_in_the_thread_is_kept_in_the_state(synth):
    """On the CPU: on a GPU the labels outside the classes are a device-side assert, which ends
    CUDA for the whole process (seen on an H200: every later test of its worker failed)."""
    broken = synth._replace(y_train=synth.y_train + 20)  # labels outside the 10 classes
    job = run(TrainConfig(**SMALL, device="cpu"), broken)
    s = job.snapshot()
    assert s.state == "failed" and s.reason_key == "job_failed"
    assert "IndexError" in s.reason_params["error"] or "Error" in s.reason_params["error"]
    assert "Traceback" in job.traceback and not job.alive


def test_history_stays_bounded_and_evenly_spread(synth):
    cfg = TrainConfig(**{**SMALL, "batch_size": 16, "epochs": 3, "hist_every": 1, "max_captures": 10})
    s = run(cfg, synth).snapshot()
    steps = [c.step for c in s.captures]
    assert 5 <= len(steps) < 10 and steps[0] == 0
    assert len(set(np.diff(steps))) == 1  # one stride throughout
    # A full 10-epoch d2l run at hist_every=1 keeps 500 captures at most: the size bound.
    per_capture = s.nbytes() - s.loss.nbytes - sum(a.nbytes for a in s.epochs.values())
    per_capture /= len(s.captures)
    steps_10_epochs = 10 * 235
    assert 500 * per_capture + steps_10_epochs * 2 * 4 < 50e6


def test_a_released_job_ends_without_the_last_capture_and_demonstration_a_stop_gives(synth):
    """Stop ends a run with a capture of where it stopped and the test-time demonstration (the page
    shows both); a released job (its page closed, its run dropped or replaced) ends after its step
    without them: nobody reads it, and at the training's low priority on a busy CPU they held a
    closed class's trainings over 30 s."""
    cfg = TrainConfig(**{**SMALL, "epochs": 50})
    stopped, released = Job(cfg, synth), Job(cfg, synth)
    for job in (stopped, released):
        job.start()
    deadline = time.time() + 60
    while min(stopped.steps_done, released.steps_done) < 3 and time.time() < deadline:
        time.sleep(0.01)
    stopped.stop()
    released.release()
    assert not stopped.alive and not released.alive
    s, r = stopped.snapshot(), released.snapshot()
    assert s.state == r.state == "finished" and s.reason_key == r.reason_key == "job_stopped"
    assert s.reason_params["step"] == s.step and r.reason_params["step"] == r.step >= 3
    assert s.captures[-1].step == s.step and s.test_time is not None
    assert r.test_time is None


def gated_demonstration(monkeypatch) -> threading.Event:
    """The loop's test-time demonstration held until the returned event is set."""
    gate, real = threading.Event(), loop.test_time_accuracy

    def held(*args):
        assert gate.wait(60), "the demonstration was never let go"
        return real(*args)

    monkeypatch.setattr(loop, "test_time_accuracy", held)
    return gate


def test_a_stop_is_said_at_once_and_the_demonstration_follows(synth, monkeypatch):
    """The page's Stop waits until the run has ended, not for the test-time demonstration (at the
    training's low priority on a busy CPU it took a Stop over 20 s): the snapshot says it is being
    measured, then holds it under a new version."""
    gate = gated_demonstration(monkeypatch)
    job = Job(TrainConfig(**{**SMALL, "epochs": 50}), synth)
    job.start()
    deadline = time.time() + 60
    while job.steps_done < 3 and time.time() < deadline:
        time.sleep(0.01)
    try:
        job.stop(timeout=20, settled=False)
        ended = job.snapshot()
        assert ended.state == "finished" and ended.reason_key == "job_stopped", ended.state
        assert ended.measuring and ended.test_time is None and job.alive
        assert ended.captures[-1].step == ended.step  # the panels show where it stopped already
    finally:
        gate.set()
    assert job.join(60)
    measured = job.snapshot()
    assert not measured.measuring and measured.version > ended.version and measured.step == ended.step
    assert [r["batch"] for r in measured.test_time["rows"]] == list(job.config.test_time_batches)


def test_job_cap_refuses_with_a_reason_and_frees_the_slot(synth):
    manager = JobManager(cap=1)
    cfg = TrainConfig(**{**SMALL, "epochs": 100})
    a, b = Job(cfg, synth, manager=manager), Job(cfg, synth, manager=manager)
    a.start()
    try:
        with pytest.raises(JobRefused) as err:
            b.start()
        assert err.value.key == "job_cap" and err.value.params == {"cap": 1, "active": 1}
        assert b.state == "idle"
        a.pause()  # a paused job still holds its slot
        with pytest.raises(JobRefused):
            b.step()
        a.stop()
        b.start()
        assert manager.active() == [b]
    finally:
        manager.release_all()
    assert not a.alive and not b.alive and not manager.active()
    with pytest.raises(JobRefused):
        b.reset() or b.start()  # released jobs never start again


def test_default_cap_per_device(monkeypatch):
    monkeypatch.delenv("BNVIZ_MAX_JOBS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert training.default_cap("cpu") == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert training.default_cap("cpu") == 1
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert training.default_cap("cuda") == 8
    monkeypatch.setenv("BNVIZ_MAX_JOBS", "3")
    assert training.default_cap("cpu") == 3 and JobManager().cap == 3


def _nice(native_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, native_id)  # Linux: one thread's nice value


@pytest.mark.parametrize("env, nicer", [(None, 10), ("0", 0), ("4", 4), ("20", 10), ("-5", 10), ("x", 10)])
def test_a_training_thread_runs_nicer_than_the_server(synth, monkeypatch, env, nicer):
    """People first: a training thread runs $BNVIZ_TRAIN_NICE (default 10; 0 to 19) steps nicer
    than the thread that started it, which keeps its own priority."""
    if env is None:
        monkeypatch.delenv("BNVIZ_TRAIN_NICE", raising=False)
    else:
        monkeypatch.setenv("BNVIZ_TRAIN_NICE", env)
    base = _nice(threading.get_native_id())
    job = Job(TrainConfig(**{**SMALL, "epochs": 100}), synth)
    job.start()
    try:
        deadline = time.time() + 60
        while job.snapshot().step == 0 and time.time() < deadline:
            time.sleep(0.02)
        assert job.snapshot().step > 0
        assert _nice(job._thread.native_id) == min(19, base + nicer)
        assert _nice(threading.get_native_id()) == base
    finally:
        job.stop()
        assert job.join(60)


def test_a_training_thread_s_openmp_team_inherits_its_name_and_priority(monkeypatch):
    """What ``top -H`` and the load test's census read: the threads torch starts for a training
    (its OpenMP team) carry the training's name and its lower priority."""
    monkeypatch.delenv("BNVIZ_TRAIN_NICE", raising=False)
    seen = {}

    def training():
        training_thread = threading.get_native_id()
        as_training_thread("bnviz-train-t")
        threads = torch.get_num_threads()
        torch.set_num_threads(2)  # a team of its own, whatever this machine's default
        try:
            a = torch.randn(400, 400)
            for _ in range(10):
                a @ a
        finally:
            torch.set_num_threads(threads)
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as fh:
                if fh.read().strip() == "bnviz-train-t":
                    seen[int(tid)] = _nice(int(tid))
        seen["self"] = training_thread

    base = _nice(threading.get_native_id())
    worker = threading.Thread(target=training)
    worker.start()
    worker.join(60)
    me = seen.pop("self")
    assert me in seen and len(seen) >= 2, seen  # the thread and at least one of its team
    assert set(seen.values()) == {min(19, base + 10)}


def test_device_selection(monkeypatch):
    assert training.pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(training.ConfigError) as err:
            training.pick_device("cuda")
        assert err.value.key == "device_unavailable"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.pick_device("auto") == "cuda" and "cuda" in training.available_devices()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert training.pick_device("auto") == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert training.pick_device("auto") == "cpu" and training.available_devices() == ["cpu"]


@pytest.mark.parametrize("field, value", [("lr", 0), ("lr", float("nan")), ("batch_size", 0),
                                          ("optimizer", "lbfgs"), ("device", "tpu"),
                                          ("hist_every", 0), ("bn_momentum", 0)])
def test_bad_config_is_refused_with_the_field(field, value):
    with pytest.raises(training.ConfigError) as err:
        TrainConfig(**{field: value}).validate()
    assert err.value.params["field"] == field


def test_a_runs_settings_are_read_and_checked_without_torch():
    """A run's place on a Ray cluster is sent its TrainConfig (pickled) and never builds a model:
    reading and checking the settings imports no torch (~3 s of CPU for each place)."""
    sent = pickle.dumps(TrainConfig(lr=0.1, activation="relu", bn_impl="scratch"))
    code = ("import pickle, sys; from bnviz.cluster import engine, run_actor; "
            f"c = pickle.loads({sent!r}); c.validate(); print(c.activation, c.bn_impl, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["relu", "scratch", "False"]


def test_test_time_batch_statistics_match_pytorch_train_mode(synth):
    net = models.lenet(True)
    models.init_weights(net, 0)
    x = torch.from_numpy(synth.x_test[:256].copy())
    y = torch.from_numpy(synth.y_test[:256])
    net.train()
    with torch.no_grad():
        ref = net(training.as_input(x))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    net.eval()
    with torch.no_grad():
        ours = training.forward(net, training.as_input(x), bn_group=256)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert training.accuracy(net, x, y, bn_group=256) == pytest.approx(
        (ref.argmax(1) == y).float().mean().item())
    net.load_state_dict(state)
    assert torch.equal(net.conv1_bn.running_mean, state["conv1_bn.running_mean"])


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_other_optimizers_and_options_train(synth, opt):
    cfg = TrainConfig(**{**SMALL, "optimizer": opt, "lr": 0.01, "lr_bn": 0.01, "activation": "relu",
                         "bn_impl": "scratch", "bn_position": "after"})
    job = run(cfg, synth)
    s = job.snapshot()
    assert s.state == "finished" and s.loss[-1].max() < s.loss[0].min()
    payload = torch.load(io.BytesIO(job.readouts().export_weights()))
    assert payload["config"]["optimizer"] == opt and "fc3.weight" in payload["lenet_bn"]
    net = models.lenet(True, activation="relu", bn_impl="scratch", bn_position="after")
    net.load_state_dict(payload["lenet_bn"])


# --------------------------------------------------------------------------------------------
# Changing the learning rate mid-run, and what the BatchNorm page reads from a run


def test_a_learning_rate_changed_mid_run_takes_effect_at_the_next_step(fashion):
    """Step by step again: from step 5 on, LeNet-BN's reference step uses the new rate; the
    change is in the history."""
    cfg = TrainConfig(**{**SMALL, "hist_every": 5, "epochs": 1})
    job = Job(cfg, fashion)
    states = [job.readouts().weights()[1]]
    for k in range(job.total_steps):
        if k == 5:
            job.set_lr("lenet_bn", 0.05)
        job.step()
        assert job.wait_parked(60)
        states.append(job.readouts().weights()[1])
    job.stop()
    snap = job.snapshot()
    assert snap.lr_changes == ((5, "lenet_bn", 0.05),) and snap.lrs == (cfg.lr, 0.05)
    errors = step_errors(cfg, fashion, states, snap.loss, lrs=lambda k: (cfg.lr, 0.05 if k >= 5 else cfg.lr_bn))
    assert errors[..., 1].max() < UPDATE_RTOL, errors[..., 1].max()
    wrong = step_errors(cfg, fashion, states, snap.loss)  # the old rate throughout: caught
    assert wrong[5:, 1, 1].min() > 100 * UPDATE_RTOL
    with pytest.raises(training.ConfigError):
        job.set_lr("lenet", float("nan"))


def test_population_statistics_equal_a_direct_computation(synth):
    """Every BN layer's mean and variance over all training images, each layer's input computed
    with the earlier layers normalised by their own population statistics — against float64
    numpy on the whole set at once."""
    cfg = TrainConfig(**{**SMALL, "epochs": 1})
    job = run(cfg, synth)
    net = job.models[1]
    dev = next(net.parameters()).device  # the run's device
    x = torch.from_numpy(synth.x_train[:512]).to(dev)
    pop = population.population_stats(net, x, chunk=96)  # chunks that do not divide 512
    stats = {}
    with torch.no_grad():
        for layer in models.bn_layers(net):
            inp = training.forward(net, training.as_input(x), until=layer, stats=stats).double().cpu().numpy()
            axes = (0,) if inp.ndim == 2 else (0, 2, 3)
            n = inp.size // inp.shape[1]
            mean, var = inp.mean(axis=axes), inp.var(axis=axes)
            # Both read float32 layer outputs, computed here in chunks of 96 and there all at once:
            # a CPU may round those differently (~1e-7). A wrong formula is off by far more
            # (biased for unbiased: 2e-3; the wrong layer's statistics: 1e-1 and up).
            np.testing.assert_allclose(pop[layer]["mean"], mean, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pop[layer]["var"], var, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pop[layer]["var_unbiased"], var * n / (n - 1), rtol=1e-5, atol=1e-6)
            assert pop[layer]["n"] == n
            stats[layer] = (torch.from_numpy(mean).float().to(dev), torch.from_numpy(var).float().to(dev))
    result = job.readouts().population()
    assert set(result["layers"]) == set(training.HIDDEN_LAYERS) and result["n_train"] == 512
    for layer in training.HIDDEN_LAYERS:
        gaps = result["layers"][layer]["gap"]
        assert set(gaps) == {"running", 0.01, 0.5} and all(np.isfinite(list(g.values())).all() for g in gaps.values())
    acc = result["accuracy"]
    assert all(0 <= a <= 1 for a in acc.values())
    # The running statistics in eval mode give the same accuracy as the model's own eval pass.
    net.eval()
    xt = training.as_input(torch.from_numpy(synth.x_test[:256]).to(dev))
    with torch.no_grad():
        own = (net(xt).argmax(1) == torch.from_numpy(synth.y_test[:256]).to(dev)).float().mean().item()
    net.train()
    assert acc["running"] == pytest.approx(own, abs=1e-9)


def test_other_momenta_follow_the_same_update_as_the_running_statistics(synth):
    """With BN momentum 0.5, the kept estimate for momentum 0.5 is PyTorch's own running
    statistics (the same update from the same batch statistics); 0.01 moves far less."""
    job = run(TrainConfig(**{**SMALL, "epochs": 1, "bn_momentum": 0.5}), synth)
    for layer, module in models.bn_layers(job.models[1]).items():
        mean, var = job.trainer.alt[layer][0.5]
        torch.testing.assert_close(mean, module.running_mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(var, module.running_var, rtol=1e-4, atol=1e-5)
        slow_mean, _ = job.trainer.alt[layer][0.01]
        assert slow_mean.abs().max() < module.running_mean.abs().max()


def test_one_batch_by_hand_equals_nn_batchnorm_on_that_batch(fashion):
    """The worked numbers for a channel equal what nn.BatchNorm computes on the same input:
    its output and its running statistics after the update."""
    job = Job(TrainConfig(**{**SMALL, "epochs": 1}), fashion)
    job.step(3)
    assert job.wait_parked(60)
    for layer, channel in (("conv1", 2), ("fc1", 17)):
        worked = job.readouts().by_hand(layer, channel)
        module = models.bn_layers(job.models[1])[layer]
        idx = job.next_batch
        xb = training.as_input(job.data_on(idx.device, train=True)[0][idx])
        with torch.no_grad():
            inp = training.forward(job.models[1], xb, bn_group=len(xb), until=layer)
        reference = copy.deepcopy(module).train()
        with torch.no_grad():
            out = reference(inp)
        first = out[:, channel].reshape(len(xb), -1)[:6, 0] if out.dim() == 4 else out[:6, channel]
        np.testing.assert_allclose(worked["y"], first.cpu().numpy(), rtol=1e-5, atol=1e-6)
        assert worked["new_running_mean"] == pytest.approx(float(reference.running_mean[channel]), rel=1e-5, abs=1e-7)
        assert worked["new_running_var"] == pytest.approx(float(reference.running_var[channel]), rel=1e-5)
        assert worked["running_mean"] == pytest.approx(float(module.running_mean[channel]))  # unchanged
        # The steps between: x̂ has mean ~0 over the batch, y = γ·x̂ + β.
        np.testing.assert_allclose(worked["y"], np.array(worked["x_hat"]) * worked["gamma"] + worked["beta"],
                                   rtol=1e-5, atol=1e-6)
    job.stop()


def test_the_loss_landscape_probe_equals_an_independent_computation(synth):
    net = models.lenet(True)
    models.init_weights(net, 0)
    xb = training.as_input(torch.from_numpy(synth.x_train[:64]))
    yb = torch.from_numpy(synth.y_train[:64])
    loss = functional.cross_entropy(training.forward(net, xb, bn_group=64), yb)
    loss.backward()
    before = [p.detach().clone() for p in net.parameters()]
    grads = [p.grad.detach().clone() for p in net.parameters()]
    vec = probe.landscape(net, xb, yb, lr=0.5)
    # Independently: a fresh copy of the model moved by hand.
    ref_losses = []
    for k in probe.KS:
        other = copy.deepcopy(net)
        with torch.no_grad():
            for p, t, g in zip(other.parameters(), before, grads):
                p.copy_(t - k * 0.5 * g)
            ref_losses.append(functional.cross_entropy(training.forward(other, xb, bn_group=64), yb).item())
    other = copy.deepcopy(net)
    with torch.no_grad():
        for p, t, g in zip(other.parameters(), before, grads):
            p.copy_(t - 0.5 * g)
    other.zero_grad()
    functional.cross_entropy(training.forward(other, xb, bn_group=64), yb).backward()
    diff = torch.sqrt(sum(((p.grad - g) ** 2).sum() for p, g in zip(other.parameters(), grads))).item()
    got = probe.summary(vec.numpy())
    np.testing.assert_allclose(got["losses"], ref_losses, rtol=1e-5)
    assert got["predictiveness"] == pytest.approx(diff, rel=1e-4)
    assert got["variation"] == pytest.approx(max(ref_losses) - min(ref_losses), rel=1e-4, abs=1e-6)
    # The model is as it was: weights, gradients, and BN running statistics (nothing updated).
    assert all(torch.equal(p, t) for p, t in zip(net.parameters(), before))
    assert all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), grads))
    assert torch.equal(net.conv1_bn.running_mean, torch.zeros(6))


def test_a_probe_step_length_moves_every_model_the_same_distance(synth):
    """With a step length s the probe's η is s / ‖g‖: the loss at k = 1 is that of the model moved
    by exactly s along −g (computed by hand), whatever the model's gradient and learning rate."""
    xb = training.as_input(torch.from_numpy(synth.x_train[:64]))
    yb = torch.from_numpy(synth.y_train[:64])
    for bn in (False, True):
        net = models.lenet(bn, activation="relu")
        models.init_weights(net, 0)
        functional.cross_entropy(training.forward(net, xb, bn_group=64), yb).backward()
        before = [p.detach().clone() for p in net.parameters()]
        grads = [p.grad.detach().clone() for p in net.parameters()]
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        got = probe.summary(probe.landscape(net, xb, yb, lr=123.0, step_length=0.3).numpy())
        other = copy.deepcopy(net)
        with torch.no_grad():
            moved = 0.0
            for p, t, g in zip(other.parameters(), before, grads):
                p.copy_(t - 0.3 * g / norm)
                moved += ((p - t) ** 2).sum().item()
        assert moved ** 0.5 == pytest.approx(0.3, rel=1e-5)
        want = functional.cross_entropy(training.forward(other, xb, bn_group=64), yb).item()
        assert got["losses"][probe.KS.index(1.0)] == pytest.approx(want, rel=1e-5)
        assert got["grad_norm"] == pytest.approx(norm.item(), rel=1e-5)
        assert all(torch.equal(p, t) for p, t in zip(net.parameters(), before))


def test_probes_are_recorded_at_capture_steps(synth):
    cfg = TrainConfig(**{**SMALL, "hist_every": 2, "probe_every": 2})
    s = run(cfg, synth).snapshot()
    assert [p[0] for p in s.probes] == list(range(0, 16, 4))
    assert all(p[1].shape == (2, len(probe.KS) + 2) and np.isfinite(p[1]).all() for p in s.probes)
