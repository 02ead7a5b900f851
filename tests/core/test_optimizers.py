"""Course-form optimizers against torch.optim, step by step, on every surface (float64, 100 steps)."""

import math

import numpy as np
import pytest
import torch

from bnviz.optimization import descent, optimizers, schedules
from bnviz.optimization.surfaces import SURFACES

# α relative to the surface's GD learning rate: adaptive methods take steps of about α itself.
LR = {"gd": 1.0, "momentum": 1.0, "nesterov": 1.0, "rmsprop": None, "adam": None, "adamw": None, "adagrad": None}
ADAPTIVE_LR = {"valley": 0.3, "rosenbrock": 0.02, "beale": 0.05, "saddle": 0.05, "plateau": 0.2, "himmelblau": 0.1}


def lr_for(opt, surface):
    return surface.lr * LR[opt] if LR[opt] else ADAPTIVE_LR[surface.name]


def compare(opt, surface, steps=100, **hp):
    ours = descent.trajectory(opt, surface, surface.start, steps, **hp)
    ref = descent.torch_trajectory(opt, surface, surface.start, steps, **hp)
    assert ours.shape == ref.shape == (steps + 1, 2)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    return np.nanmax(np.abs(ours - ref)), np.isfinite(ours).all()


@pytest.mark.parametrize("surface", sorted(SURFACES))
@pytest.mark.parametrize("opt", optimizers.OPTIMIZERS)
def test_course_form_equals_torch_optim(opt, surface):
    s = SURFACES[surface]
    dev, finished = compare(opt, s, lr=lr_for(opt, s))
    assert dev <= 1e-10
    assert finished, "these learning rates are meant to be stable: the comparison would be too short"


@pytest.mark.parametrize("kind", schedules.SCHEDULES)
@pytest.mark.parametrize("opt", ["gd", "momentum", "adam"])
def test_schedules_equal_torch_lambdalr(opt, kind):
    s = SURFACES["valley"]
    sched = {"kind": kind, "k": 0.5, "gamma": 0.5, "every": 7, "steps_per_epoch": 3}
    dev, _ = compare(opt, s, lr=lr_for(opt, s), schedule=sched)
    assert dev <= 1e-10


@pytest.mark.parametrize("opt", optimizers.OPTIMIZERS)
def test_minibatch_noise_is_seeded_and_shared(opt):
    s = SURFACES["saddle"]
    hp = dict(lr=lr_for(opt, s), noise=0.5, batch_size=4, seed=3)
    dev, _ = compare(opt, s, **hp)
    assert dev <= 1e-10
    a = descent.trajectory(opt, s, s.start, 50, **hp)
    assert np.array_equal(a, descent.trajectory(opt, s, s.start, 50, **hp))
    assert not np.array_equal(a, descent.trajectory(opt, s, s.start, 50, **{**hp, "seed": 4}))


def test_noise_shrinks_with_batch_size():
    small = schedules.noise_sequence(20000, {"noise": 1.0, "batch_size": 1})
    big = schedules.noise_sequence(20000, {"noise": 1.0, "batch_size": 64})
    assert small.std() == pytest.approx(1.0, rel=0.03) and big.std() == pytest.approx(1 / 8, rel=0.03)


def test_momentum_is_sgd_with_scaled_lr():
    assert optimizers.torch_spec("momentum", lr=0.2, beta=0.9) == ("SGD", {"lr": pytest.approx(0.02), "momentum": 0.9,
                                                                  "nesterov": False})
    assert optimizers.torch_call("momentum", lr=0.2, beta=0.9) == "torch.optim.SGD([theta], lr=0.02, momentum=0.9)"
    # dampening=β is NOT the course form: PyTorch's first step copies g into the buffer
    s = SURFACES["valley"]
    theta = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=0.4, momentum=0.9, dampening=0.9)
    path = [theta.detach().numpy().copy()]
    for _ in range(5):
        theta.grad = torch.tensor(s.grad(*theta.detach().numpy()), dtype=torch.float64)
        opt.step()
        path.append(theta.detach().numpy().copy())
    assert np.abs(np.array(path) - descent.trajectory("momentum", s, s.start, 5, lr=0.4, beta=0.9)).max() > 1e-3


def test_first_steps_of_rmsprop_and_adam():
    s = SURFACES["valley"]
    g = np.array(s.grad(*s.start))
    rms = descent.trajectory("rmsprop", s, s.start, 1, lr=0.01, beta=0.99, eps=0.0)
    np.testing.assert_allclose(rms[1] - rms[0], -0.01 * np.sign(g) / math.sqrt(0.01), rtol=1e-12)  # 10× lr
    adam = descent.trajectory("adam", s, s.start, 1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(adam[1] - adam[0], -0.1 * np.sign(g), rtol=1e-12)
    raw = descent.trajectory("adam", s, s.start, 1, lr=0.1, eps=0.0, bias_correction=False)
    # without correction m = 0.1 g and v = 0.001 g²: the first step is 0.1/√0.001 ≈ 3.16 α
    np.testing.assert_allclose(raw[1] - raw[0], -0.1 * 0.1 / math.sqrt(0.001) * np.sign(g), rtol=1e-12)
    with pytest.raises(ValueError):
        optimizers.torch_spec("adam", bias_correction=False)


def test_adam_weight_decay_is_l2_and_adamw_decouples():
    s = SURFACES["himmelblau"]
    for opt in ("adam", "adamw"):
        dev, _ = compare(opt, s, lr=0.05, weight_decay=0.1)
        assert dev <= 1e-10
    a = descent.trajectory("adam", s, s.start, 30, lr=0.05, weight_decay=0.1)
    w = descent.trajectory("adamw", s, s.start, 30, lr=0.05, weight_decay=0.1)
    assert np.abs(a - w).max() > 1e-4


def test_schedule_formulas_from_the_notes():
    assert schedules.lr_factor({"kind": "inverse", "k": 1.0}, 1) == pytest.approx(0.5)  # α0/(1+1·1)
    assert schedules.lr_factor({"kind": "exp"}, 2) == pytest.approx(0.95 ** 2)
    assert schedules.lr_factor({"kind": "sqrt", "k": 2.0}, 3) == pytest.approx(1.0)  # 2/√4
    assert schedules.lr_factor({"kind": "staircase", "gamma": 0.5, "every": 10}, 25) == pytest.approx(0.25)
    assert schedules.lr_factor({"kind": "inverse", "k": 1.0, "steps_per_epoch": 10}, 9) == 1.0
    assert schedules.lr_factor(None, 5) == 1.0
    r = descent.run("gd", SURFACES["valley"], (1, 1), 4, lr=0.2, schedule={"kind": "inverse", "k": 1.0})
    np.testing.assert_allclose(r.lr, [0.2, 0.1, 0.2 / 3, 0.05])


def test_divergence_marks_the_step_and_keeps_the_shape():
    s = SURFACES["valley"]
    r = descent.run("gd", s, s.start, 200, lr=10.0)
    assert r.path.shape == (201, 2)
    assert r.diverged_at is not None and r.diverged_at < 50
    assert np.isfinite(r.path[: r.diverged_at]).all() and np.isnan(r.path[r.diverged_at:]).all()
    summ = descent.summary(s, r)
    assert summ["diverged_at"] == r.diverged_at and math.isfinite(summ["final_loss"])


def test_summary_counts_steps_to_the_minimum():
    s = SURFACES["valley"]
    r = descent.run("momentum", s, s.start, 400, lr=0.4, beta=0.9)
    summ = descent.summary(s, r)
    k = summ["steps_to_min"]
    assert k is not None and np.hypot(*r.path[k]) < 1e-3 and np.hypot(*r.path[k - 1]) >= 1e-3
    assert summ["nearest_min"] == (0.0, 0.0)


@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_each_optimizer_is_defined_once_and_whole(name):
    """One class says everything of its optimizer: what the page's slider moves and the sidebar
    shows are hyper-parameters it has, its torch.optim class exists, its label is in both languages."""
    from bnviz.ui.strings import STRINGS

    opt = optimizers.get(name)
    assert opt.name == name and "lr" in opt.defaults and opt.latex.strip()
    assert opt.slider is None or opt.slider in opt.defaults
    assert set(opt.settings) <= set(opt.defaults) - {"lr", opt.slider}
    cls, kwargs = optimizers.torch_spec(name)
    assert hasattr(torch.optim, cls) and kwargs["lr"] > 0
    assert all(f"opt_{name}" in STRINGS[lang] for lang in STRINGS)
    assert optimizers.torch_call(name).startswith(f"torch.optim.{cls}([theta], lr=")


def test_unknown_names_are_errors():
    with pytest.raises(ValueError):
        descent.trajectory("sgdx", SURFACES["valley"], (0, 0), 3)
    with pytest.raises(ValueError):
        descent.trajectory("gd", SURFACES["valley"], (0, 0), 3, beta=0.9)


@pytest.mark.parametrize("start", [(np.nan, 1.0), (np.inf, 0.0), (1e9, 0.0)])
def test_a_start_that_is_not_usable_diverges_at_step_zero(start):
    s = SURFACES["valley"]
    r = descent.run("adam", s, start, 20)
    assert r.diverged_at == 0 and np.isnan(r.path).all() and r.path.shape == (21, 2)
    summ = descent.summary(s, r)
    assert summ["diverged_at"] == 0 and math.isnan(summ["final_loss"]) and summ["final_point"] is None


def test_max_deviation_ignores_rows_after_a_divergence():
    a = np.array([[0.0, 0.0], [1.0, 1.0], [np.nan, np.nan]])
    b = np.array([[0.0, 0.0], [1.0, 1.5], [np.nan, np.nan]])
    assert descent.max_deviation(a, b) == 0.5
    assert math.isnan(descent.max_deviation(a[2:], b[2:]))


# --- a batch of runs, as the optimizer page precomputes every value of a slider's grid -----------

BATCH_CASES = [("gd", "lr"), ("momentum", "lr"), ("momentum", "beta"), ("nesterov", "beta"),
               ("rmsprop", "beta"), ("adam", "beta1"), ("adam", "eps"), ("adamw", "lr"), ("adagrad", "lr")]
EPS_VALUES = (1e-8, 1e-4, 0.1, 1.0)  # the tuning page's ε regime, and values large enough to matter


# A row and its run alone take the same steps, but not the same kernels: numpy computes the batch's
# β₁ᵗ (one power per row) with the CPU's vector code (AVX-512's differs from libm's pow in the last
# bit) and the lone run's with Python's. So they agree to rounding, not to the bit. The tolerance is
# far above the ~1e-13 of rounding measured here, and far below what a real bug does: a β₁ stored
# in float32 by mistake already moves a path by ≥ 4e-8 (test_a_broken_batch_is_caught below).
ROW_TOL = {"rtol": 1e-9, "atol": 1e-12}


def assert_row_is_its_run(batch, k, alone):
    """Row ``k`` of ``batch`` is the run ``alone``: the same positions (NaN at the same steps), the
    same learning rates (one multiplication each: exact) and the same divergence step."""
    np.testing.assert_allclose(batch.paths[k], alone.path, **ROW_TOL)
    np.testing.assert_array_equal(batch.lr[k], alone.lr)
    assert batch.diverged_at[k] == alone.diverged_at


@pytest.mark.parametrize("surface", ["valley", "rosenbrock", "saddle"])
@pytest.mark.parametrize("opt, field", BATCH_CASES)
def test_a_batch_row_equals_the_run_of_its_own_value(opt, field, surface):
    """Every row of a batch is the run with that one value: the rows never mix, and a row that
    diverges stops alone (the grid's large learning rates diverge)."""
    from bnviz.optimization import path_frames

    s = SURFACES[surface]
    values = {"lr": path_frames.LRS, "eps": EPS_VALUES}.get(field, path_frames.BETAS)
    hp = {"lr": lr_for(opt, s)} if field != "lr" else {}
    batch = descent.run_batch(opt, s, s.start, 120, **hp, **{field: values})
    assert batch.paths.shape == (len(values), 121, 2)
    for k, value in enumerate(values):
        assert_row_is_its_run(batch, k, descent.run(opt, s, s.start, 120, **hp, **{field: value}))
    if opt == "gd":  # plain GD diverges at the grid's large learning rates on every one of these
        assert any(d is not None for d in batch.diverged_at) and any(d is None for d in batch.diverged_at)


def test_a_batch_with_noise_and_a_schedule_equals_torch_row_by_row():
    """The batch against the outside reference too: each row's torch.optim run (LambdaLR, same noise)."""
    s = SURFACES["valley"]
    hp = {"noise": 0.5, "batch_size": 4, "seed": 3, "schedule": {"kind": "inverse", "k": 0.05}}
    lrs = [0.01, 0.1, 0.4]
    batch = descent.run_batch("momentum", s, s.start, 80, lr=lrs, **hp)
    for k, lr in enumerate(lrs):
        ref = descent.torch_trajectory("momentum", s, s.start, 80, lr=lr, **hp)
        assert np.nanmax(np.abs(batch.paths[k] - ref)) <= 1e-10


def test_a_batch_of_adam_eps_equals_torch_row_by_row():
    """A batch of ε (the tuning page's α–ε regime) against torch.optim.Adam, row by row."""
    s = SURFACES["rosenbrock"]
    batch = descent.run_batch("adam", s, s.start, 80, lr=[0.5, 0.5, 0.05], eps=[1e-8, 0.5, 1e-4])
    for k, (lr, eps) in enumerate([(0.5, 1e-8), (0.5, 0.5), (0.05, 1e-4)]):
        ref = descent.torch_trajectory("adam", s, s.start, 80, lr=lr, eps=eps)
        assert np.nanmax(np.abs(batch.paths[k] - ref)) <= 1e-10
    assert np.abs(batch.paths[0, -1] - batch.paths[1, -1]).max() > 1e-3  # a large ε changes the path


@pytest.mark.parametrize("surface", ["valley", "rosenbrock", "saddle"])
def test_a_broken_batch_is_caught(surface):
    """The row check fails a batch that is wrong by a little as well as by a lot: rows that share the
    first value by mistake, and β₁ kept in float32 (off by ~1e-8 relative)."""
    from bnviz.optimization import path_frames

    s = SURFACES[surface]
    values = np.asarray(path_frames.BETAS)
    hp = {"lr": lr_for("adam", s)}
    shared = descent.run_batch("adam", s, s.start, 120, **hp, beta1=np.full_like(values, values[0]))
    rounded = descent.run_batch("adam", s, s.start, 120, **hp, beta1=values.astype(np.float32).astype(float))
    k = len(values) - 1
    alone = descent.run("adam", s, s.start, 120, **hp, beta1=values[k])
    for broken in (shared, rounded):
        with pytest.raises(AssertionError):
            assert_row_is_its_run(broken, k, alone)
