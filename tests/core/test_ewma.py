"""bnviz.smoothing.ewma checked against outside references: pandas' ewm and TensorBoard's smoothing loop."""

import math

import numpy as np
import pandas as pd
import pytest

from bnviz.data.series import step_signal, temperatures
from bnviz.smoothing import ewma, ewma_frames

BETAS = [0.0, 0.5, 0.9, 0.98, 0.999]


def tensorboard_smoothing(values, weight):
    """TensorBoard's scalar smoothing (tf-scalar-dashboard), transcribed loop for loop from its JS."""
    last = 0.0 if len(values) else math.nan
    num_accum = 0
    is_constant = all(v == values[0] for v in values)
    out = []
    for v in values:
        if is_constant or not math.isfinite(v):
            out.append(v)
        else:
            last = last * weight + (1 - weight) * v
            num_accum += 1
            debias = 1.0 if weight == 1 else 1 - weight ** num_accum
            out.append(last / debias)
    return np.array(out)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(1)
    return {"temperatures": temperatures().values, "noise": rng.normal(3, 10, 5000)}


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("name", ["temperatures", "noise"])
def test_corrected_equals_pandas_adjust_true(series, name, beta):
    x = series[name]
    ref = pd.Series(x).ewm(alpha=1 - beta, adjust=True).mean().to_numpy()
    np.testing.assert_allclose(ewma.ewma(x, beta, bias_correction=True), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("name", ["temperatures", "noise"])
def test_first_equals_pandas_adjust_false(series, name, beta):
    x = series[name]
    ref = pd.Series(x).ewm(alpha=1 - beta, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(ewma.ewma(x, beta, start="first"), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("beta", BETAS)
def test_uncorrected_is_pandas_times_weight_sum(series, beta):
    # v_t = (weights so far sum to 1 - beta^t) * (pandas' normalised average)
    x = series["temperatures"]
    t = np.arange(1, len(x) + 1)
    ref = pd.Series(x).ewm(alpha=1 - beta, adjust=True).mean().to_numpy() * (1 - beta ** t)
    np.testing.assert_allclose(ewma.ewma(x, beta), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("weight", [0.0, 0.6, 0.9, 0.99])
def test_matches_tensorboard_with_non_finite_points(weight):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, 400)
    x[[0, 5, 6, 50, 399]] = [np.nan, np.inf, -np.inf, np.nan, np.nan]
    ours = ewma.ewma(x, weight, bias_correction=True)
    ref = tensorboard_smoothing(list(x), weight)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, equal_nan=True)
    assert np.isposinf(ours[5]) and np.isneginf(ours[6])  # passed through unchanged


def test_non_finite_skipped_like_pandas_ignore_na():
    x = np.array([1.0, np.nan, 3.0, np.inf, 10.0, 2.0])
    ours = ewma.ewma(x, 0.7, bias_correction=True)
    finite = np.isfinite(x)
    ref = pd.Series(np.where(finite, x, np.nan)).ewm(alpha=0.3, adjust=True, ignore_na=True).mean()
    np.testing.assert_allclose(ours[finite], ref.to_numpy()[finite], rtol=1e-12)
    assert np.isnan(ours[1]) and np.isposinf(ours[3])


def test_ng_numbers():
    assert ewma.ewma([40.0], 0.98)[0] == pytest.approx(0.8, abs=1e-12)  # not 8
    assert ewma.ewma([40.0], 0.98, bias_correction=True)[0] == pytest.approx(40.0, abs=1e-12)
    assert ewma.effective_window(0.9) == pytest.approx(10)
    assert ewma.effective_window(0.98) == pytest.approx(50)
    assert ewma.effective_window(0.5) == pytest.approx(2)
    assert abs(0.9 ** 10 - 1 / math.e) < 0.02


def test_weights_are_the_impulse_response():
    beta, n = 0.9, 60
    impulse = np.zeros(n)
    impulse[0] = 1.0
    np.testing.assert_allclose(ewma.weights(beta, n), ewma.ewma(impulse, beta), rtol=1e-12)
    assert ewma.weights(beta, n).sum() == pytest.approx(1 - beta ** n)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.98, 0.999])
@pytest.mark.parametrize("fraction", [0.63, 0.95])
def test_steps_to_fraction_by_brute_force(beta, fraction):
    v, k = 0.0, 0
    while v < fraction:
        v = beta * v + (1 - beta) * 1.0
        k += 1
    assert ewma.steps_to_fraction(beta, fraction) == k


def test_lag_table_measures_the_formula():
    _, table = ewma_frames.lag_table(ewma_frames.BETAS)
    assert list(table["measured_63"]) == list(table["formula_63"])
    assert list(table["measured_95"]) == list(table["formula_95"])
    assert step_signal(10, 3).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]


# --- the grids the page precomputes: every β of the slider, picked in the browser ------------------

def test_the_curve_table_holds_every_beta_and_variant_as_computed_alone():
    """Column b{i}_{variant} of the wide table is the average with β = BETAS[i], computed alone,
    and it agrees with pandas (corrected = ewm(adjust=True), S₁ = Y₁ = ewm(adjust=False))."""
    s = temperatures("temp_max")
    table = ewma_frames.curve_table(s, max_points=len(s.values))
    assert len(table) == len(s.values) == 1461
    values = pd.Series(s.values)
    for i, beta in enumerate(ewma_frames.BETAS):
        for variant in ewma.VARIANTS:
            np.testing.assert_array_equal(table[ewma_frames.column(i, variant)],
                                          ewma.variant(s.values, beta, variant).astype(np.float32))
        np.testing.assert_allclose(table[ewma_frames.column(i, "corrected")],
                                   values.ewm(alpha=1 - beta, adjust=True).mean(), rtol=1e-6)
        np.testing.assert_allclose(table[ewma_frames.column(i, "first")],
                                   values.ewm(alpha=1 - beta, adjust=False).mean(), rtol=1e-6)
    drawn = ewma_frames.curve_table(s)  # what the chart gets: the same values at 450 positions
    assert len(drawn) == 450 and drawn.t.is_monotonic_increasing and drawn.t.iloc[-1] == 1461
    np.testing.assert_array_equal(drawn["b5_first"], table["b5_first"].to_numpy()[drawn.t - 1])


def test_the_weight_and_lag_tables_hold_every_beta():
    weights, marks = ewma_frames.weight_table()
    lag, rows = ewma_frames.lag_table()
    for i, beta in enumerate(ewma_frames.BETAS):
        w = weights[weights.i == i]
        np.testing.assert_allclose(w.weight, (1 - beta) * beta ** w.k.to_numpy(), rtol=1e-12)
        assert w.k.max() == ewma_frames.horizon(beta) - 1
        mark = marks[marks.i == i].iloc[0]
        assert mark.k == pytest.approx(1 / (1 - beta)) and mark.decay == pytest.approx(beta ** (1 / (1 - beta)))
        curve = lag[lag.i == i]
        direct = ewma.ewma(step_signal(curve.t.max(), ewma_frames.LAG_AT), beta, start="first")
        np.testing.assert_allclose(curve.value, direct[curve.t.to_numpy() - 1], rtol=1e-12)
    assert abs(marks.set_index("i").decay[ewma_frames.BETAS.index(0.9)] - 0.9 ** 10) < 1e-12
    step = lag[lag.i == -1]
    assert step.value.tolist() == [0, 0, 1, 1] and step.t.tolist()[1:3] == [ewma_frames.LAG_AT, ewma_frames.LAG_AT + 1]


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_beta_out_of_range(bad):
    with pytest.raises(ValueError):
        ewma.ewma([1.0, 2.0], bad)


def test_edge_inputs():
    assert ewma.ewma([], 0.9).shape == (0,)
    allnan = ewma.ewma([np.nan, np.nan], 0.9, bias_correction=True)
    assert np.isnan(allnan).all()
    with pytest.raises(ValueError):
        ewma.ewma([[1.0, 2.0]], 0.9)
    with pytest.raises(ValueError):
        ewma.ewma([1.0], 0.9, start="middle")
    assert ewma.ewma(np.arange(5), 0.9).dtype == np.float64


def test_variant_names_cover_all():
    x = np.linspace(0, 1, 20)
    assert set(ewma.VARIANTS) == {"zero", "corrected", "first"}
    outs = {v: ewma.variant(x, 0.9, v) for v in ewma.VARIANTS}
    assert outs["zero"][0] == pytest.approx(0.0) and outs["first"][0] == pytest.approx(0.0)
    assert not np.allclose(outs["zero"], outs["corrected"])
    with pytest.raises(ValueError):
        ewma.variant(x, 0.9, "nope")
