"""2-D loss surfaces with exact analytic gradients (numpy, vectorised).

Each surface has ``f(x, y)``, ``grad(x, y) -> (df/dx, df/dy)``, a plot ``domain``
((xmin, xmax), (ymin, ymax)), its ``minima`` and a ``start`` that shows something interesting.
The LaTeX of each formula is in ``latex``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Surface:
    name: str
    latex: str
    f: Callable
    grad: Callable
    domain: tuple[tuple[float, float], tuple[float, float]]
    minima: list[tuple[float, float]] = field(default_factory=list)
    start: tuple[float, float] = (0.0, 0.0)
    lr: float = 0.1  # a learning rate at which plain GD is stable here (what the page starts with)

    def value(self, p) -> float:
        return float(self.f(p[0], p[1]))


def _exp(v):
    """exp for numpy arrays and torch tensors alike (the tests differentiate f with autograd)."""
    return v.exp() if hasattr(v, "requires_grad") else np.exp(v)


def _valley():
    # f = x^2/20 + y^2 : curvature 1/10 along x, 2 along y (condition number 20)
    return Surface(
        "valley", r"f(x,y) = \frac{x^2}{20} + y^2",
        lambda x, y: x ** 2 / 20 + y ** 2,
        lambda x, y: (x / 10, 2 * y),
        ((-10.0, 10.0), (-4.0, 4.0)), [(0.0, 0.0)], (-8.0, 3.0), 0.4)


def _rosenbrock():
    return Surface(
        "rosenbrock", r"f(x,y) = (1-x)^2 + 100\,(y-x^2)^2",
        lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
        lambda x, y: (-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)),
        ((-2.0, 2.0), (-1.0, 3.0)), [(1.0, 1.0)], (-1.5, 2.0), 0.001)


def _beale():
    def f(x, y):
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2

    def grad(x, y):
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y ** 2, 2.625 - x + x * y ** 3
        dx = 2 * a * (y - 1) + 2 * b * (y ** 2 - 1) + 2 * c * (y ** 3 - 1)
        dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y ** 2
        return dx, dy

    return Surface(
        "beale",
        r"f(x,y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        f, grad, ((-4.5, 4.5), (-4.5, 4.5)), [(3.0, 0.5)], (1.0, 1.5), 0.01)


def _saddle():
    # A saddle at the origin between two minima at (0, ±1): f = x^2/2 + y^4/4 - y^2/2
    return Surface(
        "saddle", r"f(x,y) = \tfrac12 x^2 + \tfrac14 y^4 - \tfrac12 y^2",
        lambda x, y: x ** 2 / 2 + y ** 4 / 4 - y ** 2 / 2,
        lambda x, y: (x, y ** 3 - y),
        ((-2.0, 2.0), (-2.0, 2.0)), [(0.0, 1.0), (0.0, -1.0)], (-1.8, 1e-3), 0.1)


def _plateau():
    # A well in a flat plateau: far from the well the gradient almost vanishes.
    def f(x, y):
        return 1 - _exp(-(x ** 2 + y ** 2) / 2)

    def grad(x, y):
        e = _exp(-(x ** 2 + y ** 2) / 2)
        return x * e, y * e

    return Surface(
        "plateau", r"f(x,y) = 1 - e^{-(x^2+y^2)/2}",
        f, grad, ((-5.0, 5.0), (-5.0, 5.0)), [(0.0, 0.0)], (3.5, 3.0), 1.0)


def _himmelblau():
    return Surface(
        "himmelblau", r"f(x,y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        lambda x, y: (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2,
        lambda x, y: (4 * x * (x ** 2 + y - 11) + 2 * (x + y ** 2 - 7),
                      2 * (x ** 2 + y - 11) + 4 * y * (x + y ** 2 - 7)),
        ((-5.0, 5.0), (-5.0, 5.0)),
        [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)], (0.0, 0.0), 0.01)


SURFACES: dict[str, Surface] = {s.name: s for s in
                                (_valley(), _rosenbrock(), _beale(), _saddle(), _plateau(), _himmelblau())}


def grid(surface: Surface, n: int = 100):
    """Values on an n×n grid over the domain: (xs, ys, Z) with Z[i, j] = f(xs[j], ys[i])."""
    (x0, x1), (y0, y1) = surface.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = np.asarray(surface.f(X, Y), dtype=np.float64) * np.ones_like(X)
    return xs, ys, Z


def nearest_minimum(surface: Surface, p) -> tuple[float, float] | None:
    if not surface.minima:
        return None
    m = np.asarray(surface.minima)
    return tuple(m[np.argmin(((m - np.asarray(p)) ** 2).sum(axis=1))])
