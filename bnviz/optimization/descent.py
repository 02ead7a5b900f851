"""Running an optimizer down a surface: one path, or a batch of paths that differ in one
hyper-parameter (the page precomputes every value of a slider's grid), and the same run with
``torch.optim``, which must follow the very same path.

Every step of every row is :meth:`bnviz.optimization.optimizers.Optimizer.update`, fed the surface's
exact gradient plus the seeded mini-batch noise, at the scheduled learning rate
(:mod:`bnviz.optimization.schedules`). A row that leaves the surface diverges: it stops there,
NaN from that step on, while the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnviz.optimization.optimizers import get, hyper, torch_spec
from bnviz.optimization.schedules import lr_factor, noise_sequence
from bnviz.optimization.surfaces import Surface, nearest_minimum


def _escaped(theta: np.ndarray, surface: Surface) -> np.ndarray:
    """Per row of ``theta`` (…, 2): non-finite, or further from the domain's centre than 10 spans
    (counted as diverged). NaN fails the ``<=`` test, so it counts too."""
    (x0, x1), (y0, y1) = surface.domain
    near = (np.abs(theta[..., 0] - (x0 + x1) / 2) <= 10 * (x1 - x0)) & \
           (np.abs(theta[..., 1] - (y0 + y1) / 2) <= 10 * (y1 - y0))
    return ~near


@dataclass(frozen=True)
class Trajectory:
    path: np.ndarray  # (steps+1, 2); NaN from the diverged step on
    lr: np.ndarray  # learning rate used at each step, (steps,)
    diverged_at: int | None  # first step whose result was non-finite / far away


@dataclass(frozen=True)
class Batch:
    """K runs of one optimizer from one start that differ only in ``BATCHED`` hyper-parameters."""

    paths: np.ndarray  # (K, steps+1, 2); NaN from each row's diverged step on
    lr: np.ndarray  # (K, steps) learning rate of each row at each step
    diverged_at: tuple  # per row: first step whose result was non-finite / far away, or None

    def row(self, k: int) -> Trajectory:
        return Trajectory(self.paths[k], self.lr[k], self.diverged_at[k])


BATCHED = ("lr", "beta", "beta1", "eps")  # the hyper-parameters a batch may vary from row to row


def _gradient(surface: Surface, theta: np.ndarray) -> np.ndarray:
    """The exact gradient at every row of ``theta`` (K, 2)."""
    g = np.empty_like(theta)
    g[:, 0], g[:, 1] = surface.grad(theta[:, 0], theta[:, 1])
    return g


def run_batch(name: str, surface: Surface, start, steps: int, **hp) -> Batch:
    """Course-form runs, one per row: any of ``BATCHED`` may be a sequence of K values (the
    others are shared). Every row follows :func:`update` exactly as a run of its own would."""
    optimizer, hp = get(name), hyper(name, **hp)
    steps = int(steps)
    rows = {k: np.asarray(v, dtype=np.float64).reshape(-1, 1) for k, v in hp.items()
            if k in BATCHED and np.ndim(v) > 0}
    n = max((len(v) for v in rows.values()), default=1)
    row_hp = {**hp, **rows}  # (K, 1) columns broadcast against the (K, 2) positions
    factors = np.array([lr_factor(hp.get("schedule"), i) for i in range(steps)])
    lrs = np.broadcast_to(np.asarray(hp["lr"], dtype=np.float64).reshape(-1, 1), (n, 1)) * factors
    paths = np.full((n, steps + 1, 2), np.nan)
    theta = np.tile(np.asarray(start, dtype=np.float64), (n, 1))
    if _escaped(theta[0], surface):  # a start that is not finite, or absurdly far away
        return Batch(paths, lrs, (0,) * n)
    paths[:, 0] = theta
    noise = noise_sequence(steps, hp)
    state: dict = {}
    diverged = np.full(n, -1)
    alive = np.ones(n, dtype=bool)
    with np.errstate(all="ignore"):
        for i in range(steps):
            g = _gradient(surface, theta) + noise[i]
            theta = optimizer.update(theta, g, state, lrs[:, i:i + 1], row_hp, i + 1)
            lost = alive & _escaped(theta, surface)
            if lost.any():
                diverged[lost] = i + 1
                alive &= ~lost
                theta[~alive] = np.nan
                if not alive.any():
                    break
            paths[:, i + 1] = theta
    return Batch(paths, lrs, tuple(None if d < 0 else int(d) for d in diverged))


def run(name: str, surface: Surface, start, steps: int, **hp) -> Trajectory:
    """Course-form run: every step's position, learning rate, and where it diverged."""
    return run_batch(name, surface, start, steps, **hp).row(0)


def trajectory(name: str, surface: Surface, start, steps: int, **hp) -> np.ndarray:
    """Positions (steps+1, 2) of the course-form optimizer; rows after a divergence are NaN."""
    return run(name, surface, start, steps, **hp).path


def torch_trajectory(name: str, surface: Surface, start, steps: int, **hp) -> np.ndarray:
    """The same run with ``torch.optim`` (float64), fed the surface's exact gradient and the same noise."""
    import torch

    hp = hyper(name, **hp)
    cls, kw = torch_spec(name, **hp)
    theta = torch.tensor(np.asarray(start, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, cls)([theta], **kw)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(hp.get("schedule"), i))
    noise = noise_sequence(int(steps), hp)
    path = np.full((int(steps) + 1, 2), np.nan)
    path[0] = theta.detach().numpy()
    for i in range(int(steps)):
        g = _gradient(surface, theta.detach().numpy().reshape(1, 2))[0] + noise[i]
        theta.grad = torch.from_numpy(g)
        opt.step()
        sched.step()
        now = theta.detach().numpy().copy()
        if _escaped(now, surface):
            break
        path[i + 1] = now
    return path


def max_deviation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a − b| over the rows both paths reached (NaN if they share none)."""
    both = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    return float(np.abs(a[both] - b[both]).max()) if both.any() else float("nan")


# --- what the page's table shows ---------------------------------------------------------------

def losses(surface: Surface, path: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(surface.f(path[:, 0], path[:, 1]), dtype=np.float64) * np.ones(len(path))


def steps_to_reach(surface: Surface, path: np.ndarray, tol: float = 1e-3) -> int | None:
    """First step whose distance to the nearest minimum is below ``tol`` (None if never)."""
    if not surface.minima:
        return None
    m = np.asarray(surface.minima)
    d = np.sqrt(((path[:, None, :] - m[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    hit = np.nonzero(d < tol)[0]
    return int(hit[0]) if hit.size else None


def summary(surface: Surface, r: Trajectory, tol: float = 1e-3) -> dict:
    """Final loss and point (the last finite row), steps to a minimum, where it diverged."""
    finite = r.path[np.isfinite(r.path).all(axis=1)]
    if not len(finite):  # not even the start was finite
        return {"final_loss": float("nan"), "steps_to_min": None, "diverged_at": r.diverged_at,
                "final_point": None, "nearest_min": None}
    last = finite[-1]
    return {"final_loss": float(surface.f(last[0], last[1])), "steps_to_min": steps_to_reach(surface, r.path, tol),
            "diverged_at": r.diverged_at, "final_point": tuple(last), "nearest_min": nearest_minimum(surface, last)}
