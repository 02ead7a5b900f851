"""bnviz.ewma checked against outside references: pandas' ewm and TensorBoard's smoothing loop."""

import math

import numpy as np
import pandas as pd
import pytest

from bnviz import ewma
from bnviz import ewma_frames
from bnviz.series import step_signal, temperatures

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
    _, table, _ = ewma_frames.lag_frames([0.5, 0.9, 0.98])
    assert list(table["measured_63"]) == list(table["formula_63"])
    assert list(table["measured_95"]) == list(table["formula_95"])
    assert step_signal(10, 3).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]


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
