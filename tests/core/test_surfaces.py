"""Every surface's analytic gradient against torch.autograd, and the registry's promises."""

import numpy as np
import pytest
import torch

from bnviz.optimization.surfaces import SURFACES, grid, nearest_minimum


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_gradient_matches_autograd(name):
    s = SURFACES[name]
    (x0, x1), (y0, y1) = s.domain
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(x0, x1, 200), rng.uniform(y0, y1, 200)
    xt = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
    gx_ref, gy_ref = torch.autograd.grad(s.f(xt, yt).sum(), (xt, yt))
    gx, gy = s.grad(xs, ys)
    np.testing.assert_allclose(gx, gx_ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy, gy_ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.f(xs, ys), s.f(xt, yt).detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_minima_are_stationary_and_lowest(name):
    s = SURFACES[name]
    _, _, Z = grid(s, 120)
    for mx, my in s.minima:
        g = np.hypot(*s.grad(mx, my))
        assert g < 1e-4, (mx, my, g)
        assert s.f(mx, my) <= Z.min() + 1e-6
    (x0, x1), (y0, y1) = s.domain
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    assert np.hypot(*s.grad(*s.start)) > 0  # the start is not already stationary


def test_registry_names_and_nearest_minimum():
    assert set(SURFACES) == {"valley", "rosenbrock", "beale", "saddle", "plateau", "himmelblau"}
    assert nearest_minimum(SURFACES["himmelblau"], (2.9, 2.1)) == (3.0, 2.0)
    assert nearest_minimum(SURFACES["saddle"], (0.1, -0.5)) == (0.0, -1.0)


def test_grid_shape_and_orientation():
    xs, ys, Z = grid(SURFACES["valley"], 50)
    assert Z.shape == (50, 50)
    assert Z[0, -1] == pytest.approx(SURFACES["valley"].f(xs[-1], ys[0]))
