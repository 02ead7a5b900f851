"""Presets and the tidy tables behind the optimizer page (pandas, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bnviz.optimization import descent, optimizers
from bnviz.optimization.surfaces import Surface, grid

# The grids of the page's sliders: learning rates on a roughly logarithmic grid, and the β of
# momentum, Nesterov, RMSProp (β) and Adam, AdamW (β₁). The page precomputes every value of them.
LRS = (1e-4, 2e-4, 5e-4, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 2.0, 5.0, 10.0)
BETAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)

# One click reproduces a figure of the notes. "lr" is the shared α; "lrs" gives each optimizer its own.
PRESETS = {
    "zigzag": {"surface": "valley", "optimizers": ["gd", "momentum"], "lr": 0.9, "steps": 60, "start": (-8.0, 3.0)},
    "rmsprop": {"surface": "valley", "optimizers": ["gd", "rmsprop"], "lrs": {"gd": 0.9, "rmsprop": 0.1},
                "steps": 80, "start": (-8.0, 3.0)},
    "adam": {"surface": "rosenbrock", "optimizers": ["momentum", "rmsprop", "adam"],
             "lrs": {"momentum": 0.005, "rmsprop": 0.01, "adam": 0.05}, "steps": 500, "start": (-1.5, 2.0)},
    "saddle": {"surface": "saddle", "optimizers": ["gd", "momentum", "adam"], "lr": 0.1, "steps": 150,
               "start": (-1.8, 0.001)},
    "plateau": {"surface": "plateau", "optimizers": ["gd", "adam"], "lr": 0.5, "steps": 150, "start": (3.5, 3.0)},
    "decay": {"surface": "valley", "optimizers": ["gd", "momentum"], "lr": 0.4, "steps": 300, "start": (-8.0, 3.0),
              "noise": 2.0, "batch_size": 1, "schedule": {"kind": "inverse", "k": 0.05}},
}


def lowest_value(surface: Surface, n: int = 70) -> float:
    """f*: the loss at the surface's known minima, or (a typed formula) the lowest on the grid."""
    if surface.minima:
        return float(min(surface.f(x, y) for x, y in surface.minima))
    _, _, z = grid(surface, n)
    finite = z[np.isfinite(z)]
    return float(finite.min()) if finite.size else 0.0


def gap_floor(surface: Surface, fstar: float, n: int = 70) -> float:
    """A positive floor for f − f* on a log axis: 10⁻⁹ of the grid's median gap."""
    _, _, z = grid(surface, n)
    finite = z[np.isfinite(z)]
    spread = float(np.median(finite) - fstar) if finite.size else 1.0
    return 1e-9 * spread if spread > 0 else 1e-12


# The widths over heights a chart of the surface may have: the chart keeps x and y in the same
# units per pixel, so a wide screen shows more x than the domain and a phone more y (a 1920 px
# projector over a 460 px chart is 4.2; a 390 px phone 0.85). The cells cover what any of them shows.
SCREEN_ASPECTS = (1.4, 4.5)
PHONE_ASPECTS = (0.6, 1.2)


def _view(domain, aspect: float) -> tuple[float, float]:
    """Half the width and height a view of ``aspect`` shows around the domain's centre."""
    (xa, xb), (ya, yb) = domain
    w, h = xb - xa, yb - ya
    return (max(w, h * aspect) / 2, max(h, w / aspect) / 2)


CELLS = 2400  # about this many cells over the domain itself (Vega draws them all on every frame of Play)
OUTER = 4  # cells outside the domain are this many times as wide and tall


def _lattice(lo: float, step: float, first: int, last: int) -> np.ndarray:
    return lo + (np.arange(first, last) + 0.5) * step


def _inside(x, y, domain):
    """Which points (x, y) lie strictly inside ``domain``."""
    (xa, xb), (ya, yb) = domain
    return (x > xa) & (x < xb) & (y > ya) & (y < yb)


def grid_frame(surface: Surface, fstar: float, aspects=SCREEN_ASPECTS, cells: int = CELLS) -> pd.DataFrame:
    """Heatmap cells: about ``cells`` over the domain, and cells ``OUTER`` times as large over what
    else a chart of width/height between ``aspects`` shows (the domain, widened). Rows: centre
    (cx, cy), half width and height (hx, hy), loss f and z = log10(f − f*), f − f* floored by
    :func:`gap_floor`; f, z and the halves in float32 (colours, a 4-digit tooltip: fewer bytes);
    cells where f is not finite are left out."""
    (xa, xb), (ya, yb) = surface.domain
    w, h = xb - xa, yb - ya
    size = np.sqrt(w * h / cells)
    nx, ny = (OUTER * max(1, round(extent / size / OUTER)) for extent in (w, h))
    dx, dy = w / nx, h / ny
    X, Y = np.meshgrid(_lattice(xa, dx, 0, nx), _lattice(ya, dy, 0, ny))
    inner = pd.DataFrame({"cx": X.ravel(), "cy": Y.ravel(), "hx": dx / 2, "hy": dy / 2})
    (wide_x, wide_y), (tall_x, tall_y) = _view(surface.domain, max(aspects)), _view(surface.domain, min(aspects))
    big_x, big_y = OUTER * dx, OUTER * dy
    kx, ky = int(np.ceil((wide_x - w / 2) / big_x)), int(np.ceil((tall_y - h / 2) / big_y))
    X, Y = np.meshgrid(_lattice(xa, big_x, -kx, nx // OUTER + kx), _lattice(ya, big_y, -ky, ny // OUTER + ky))
    mx, my = (xa + xb) / 2, (ya + yb) / 2

    def seen(half_x: float, half_y: float):  # cells that reach into a view of that half size
        return (np.abs(X - mx) < half_x + big_x / 2) & (np.abs(Y - my) < half_y + big_y / 2)

    kept = ~_inside(X, Y, surface.domain) & (seen(wide_x, wide_y) | seen(tall_x, tall_y))
    outer = pd.DataFrame({"cx": X[kept], "cy": Y[kept], "hx": big_x / 2, "hy": big_y / 2})
    df = pd.concat([inner, outer], ignore_index=True)
    with np.errstate(all="ignore"):
        f = np.asarray(surface.f(df.cx.to_numpy(), df.cy.to_numpy()), dtype=np.float64) * np.ones(len(df))
        z = np.log10(np.maximum(f - fstar, gap_floor(surface, fstar)))
    df = df.assign(f=f, z=z)
    df = df[np.isfinite(df.f) & np.isfinite(df.z)].reset_index(drop=True)
    return df.astype({"hx": np.float32, "hy": np.float32, "f": np.float32, "z": np.float32})


def colour_range(cells: pd.DataFrame, domain) -> tuple[float, float]:
    """The heatmap's colours span z over the domain's cells from its 0.5th percentile to its
    largest: the cell that happens to sit nearest a minimum (z down to −8) would take most of
    the bands, and the cells outside the domain show the top colour where they rise above it."""
    inner = cells.z[_inside(cells.cx, cells.cy, domain)].to_numpy(np.float64)
    if not inner.size:
        return 0.0, 1.0
    lo, hi = float(np.percentile(inner, 0.5)), float(inner.max())
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def _position(grid_values, value) -> int:
    return min(range(len(grid_values)), key=lambda i: abs(grid_values[i] - value))


def trajectory_table(surface: Surface, start, steps: int, settings: dict[str, dict], fstar: float,
                     max_points: int = 500) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, descent.Trajectory]]:
    """Every path the page's sliders can pick, computed once.

    For each optimizer and its settings ``hp`` (α and β on the grids): the run at every α of
    ``LRS`` (β as set) and at every β of ``BETAS`` (α as set), in one batch each. Returns
    (paths, rates, runs): ``paths`` rows (optimizer, li, bi, step, x, y, loss, gap, last) — li, bi
    the α and β positions (bi = −1 without a β slider), ``last`` the path's last finite step, at
    most ``max_points`` steps per path (evenly thinned, the last finite one kept); ``rates`` rows
    (optimizer, li, step, lr) of the learning rate at every α; ``runs`` the run as set.
    """
    stride = max(1, -(-int(steps) // max_points))
    floor = gap_floor(surface, fstar)
    parts, rates, runs = [], [], {}
    for name, hp in settings.items():
        field = optimizers.get(name).slider
        li0 = _position(LRS, hp["lr"])
        bi0 = _position(BETAS, hp[field]) if field else -1
        by_lr = descent.run_batch(name, surface, start, steps, **{**hp, "lr": LRS})
        picks = [(li, bi0, by_lr.row(li)) for li in range(len(LRS))]
        if field:
            by_beta = descent.run_batch(name, surface, start, steps, **{**hp, "lr": LRS[li0], field: BETAS})
            picks += [(li0, bi, by_beta.row(bi)) for bi in range(len(BETAS)) if bi != bi0]
        runs[name] = by_lr.row(li0)
        for li, bi, r in picks:
            finite = np.flatnonzero(np.isfinite(r.path).all(axis=1))
            if not finite.size:
                continue
            last = int(finite[-1])
            keep = finite[(finite % stride == 0) | (finite == last)]
            loss = descent.losses(surface, r.path[keep])
            parts.append(pd.DataFrame({
                "optimizer": name, "li": np.int16(li), "bi": np.int16(bi), "step": keep.astype(np.int32),
                "x": r.path[keep, 0].astype(np.float32), "y": r.path[keep, 1].astype(np.float32),
                "loss": loss.astype(np.float32), "gap": np.maximum(loss - fstar, floor).astype(np.float32),
                "last": np.int32(last)}))
        for li in range(len(LRS)):
            rates.append(pd.DataFrame({"optimizer": name, "li": np.int16(li), "step": np.arange(1, steps + 1),
                                       "lr": by_lr.lr[li].astype(np.float32)}))
    columns = ["optimizer", "li", "bi", "step", "x", "y", "loss", "gap", "last"]
    paths = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    rate = pd.concat(rates, ignore_index=True) if rates else pd.DataFrame(columns=["optimizer", "li", "step", "lr"])
    return paths, rate, runs


def summary_frame(surface: Surface, runs: dict[str, descent.Trajectory]) -> pd.DataFrame:
    rows = []
    for name, r in runs.items():
        s = descent.summary(surface, r)
        rows.append({"optimizer": name, "final_loss": s["final_loss"], "steps_to_min": s["steps_to_min"],
                     "diverged_at": s["diverged_at"]})
    return pd.DataFrame(rows)


def export_frame(surface: Surface, runs: dict[str, descent.Trajectory]) -> pd.DataFrame:
    """One row per (optimizer, step): position, loss, learning rate; NaN after a divergence."""
    parts = []
    for name, r in runs.items():
        parts.append(pd.DataFrame({"optimizer": name, "step": np.arange(len(r.path)), "x": r.path[:, 0],
                                   "y": r.path[:, 1], "loss": descent.losses(surface, r.path),
                                   "lr": np.append(r.lr, np.nan)}))
    return pd.concat(parts, ignore_index=True)
