"""The sweep's learning rates (bnviz.training.sweep_rates): a log grid checked against numpy's logspace, and
every range that cannot be swept refused with a message key the page can show."""

import math

import numpy as np
import pytest

from bnviz.training.sweep_rates import MAX_RATES, RATE_LIMITS, SweepError, log_grid


@pytest.mark.parametrize("lo, hi, k", [(0.01, 100.0, 9), (0.001, 1000.0, 13), (0.1, 0.3, 2), (1e-5, 1e4, MAX_RATES)])
def test_the_grid_is_numpys_logspace_to_four_digits(lo, hi, k):
    want = np.logspace(math.log10(lo), math.log10(hi), k)
    got = np.array(log_grid(lo, hi, k))
    assert len(got) == k and got[0] == lo and got[-1] == hi
    np.testing.assert_allclose(got, want, rtol=5e-4)  # 4 significant digits
    ratios = got[1:] / got[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-3)  # evenly spaced on a log scale


def test_the_default_is_the_issues_nine_rates():
    from bnviz.training import sweep

    assert sweep.LEARNING_RATES == (0.01, 0.03162, 0.1, 0.3162, 1.0, 3.162, 10.0, 31.62, 100.0)


@pytest.mark.parametrize("lo, hi, k, key", [
    (0.0, 1.0, 5, "sweep_rate_bad"),
    (-1.0, 1.0, 5, "sweep_rate_bad"),
    (float("nan"), 1.0, 5, "sweep_rate_bad"),
    (0.1, float("inf"), 5, "sweep_rate_bad"),
    (0.1, 1e6, 5, "sweep_rate_limits"),
    (1e-9, 1.0, 5, "sweep_rate_limits"),
    (1.0, 1.0, 5, "sweep_range_empty"),
    (100.0, 0.01, 9, "sweep_range_empty"),
    (0.01, 100.0, 1, "sweep_too_few"),
    (0.01, 100.0, 0, "sweep_too_few"),
    (0.01, 100.0, -3, "sweep_too_few"),
    (0.01, 100.0, MAX_RATES + 1, "sweep_too_many"),
    (0.01, 100.0, 10**9, "sweep_too_many"),
    (1.0, 1.0001, MAX_RATES, "sweep_range_narrow"),
])
def test_a_range_that_cannot_be_swept_is_refused_by_name(lo, hi, k, key):
    with pytest.raises(SweepError) as err:
        log_grid(lo, hi, k)
    assert err.value.key == key


def test_the_limits_are_included_and_the_cap_too():
    assert log_grid(*RATE_LIMITS, 2) == RATE_LIMITS
    assert len(log_grid(0.01, 100.0, MAX_RATES)) == MAX_RATES
