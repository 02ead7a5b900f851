"""Optimizers in the course's form (numpy, float64), learning-rate schedules, mini-batch noise,
and a ``torch.optim`` reference runner that must follow the very same path.

One functional core, :func:`update`, holds every rule; its LaTeX is in ``LATEX``. The course forms
map to PyTorch like this (checked step by step in the tests):

* momentum  v = βv + (1−β)g, θ −= αv          ≡ ``SGD(lr=α(1−β), momentum=β)``
* nesterov  v = βv + (1−β)g, θ −= α((1−β)g + βv) ≡ ``SGD(lr=α(1−β), momentum=β, nesterov=True)``
* rmsprop   s = βs + (1−β)g², θ −= αg/(√s + ε)  ≡ ``RMSprop(lr=α, alpha=β, eps=ε)``
* adam      bias-corrected m̂, v̂, θ −= αm̂/(√v̂ + ε) ≡ ``Adam(lr=α, betas=(β₁, β₂), eps=ε)``
* adamw     θ −= αλθ, then the Adam step        ≡ ``AdamW(..., weight_decay=λ)``
* adagrad   G += g², θ −= αg/(√G + ε)            ≡ ``Adagrad(lr=α, eps=ε)``
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bnviz.surfaces import Surface, nearest_minimum

OPTIMIZERS = ("gd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "adagrad")

DEFAULTS = {
    "gd": {"lr": 0.1},
    "momentum": {"lr": 0.1, "beta": 0.9},
    "nesterov": {"lr": 0.1, "beta": 0.9},
    "rmsprop": {"lr": 0.01, "beta": 0.99, "eps": 1e-8},
    "adam": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True, "weight_decay": 0.0},
    "adamw": {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
    "adagrad": {"lr": 0.5, "eps": 1e-10},
}

LATEX = {
    "gd": r"\theta \leftarrow \theta - \alpha\, g",
    "momentum": r"v \leftarrow \beta v + (1-\beta)\, g,\qquad \theta \leftarrow \theta - \alpha v",
    "nesterov": r"v \leftarrow \beta v + (1-\beta)\, g,\qquad "
                r"\theta \leftarrow \theta - \alpha\big((1-\beta)\, g + \beta v\big)",
    "rmsprop": r"s \leftarrow \beta s + (1-\beta)\, g^2,\qquad \theta \leftarrow \theta - \alpha \frac{g}{\sqrt{s} + \varepsilon}",
    "adam": r"m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad "
            r"\hat m = \frac{m}{1-\beta_1^t},\ \hat v = \frac{v}{1-\beta_2^t},\quad "
            r"\theta \leftarrow \theta - \alpha \frac{\hat m}{\sqrt{\hat v} + \varepsilon}",
    "adamw": r"\theta \leftarrow \theta - \alpha\lambda\theta,\ \text{then the Adam step}",
    "adagrad": r"G \leftarrow G + g^2,\qquad \theta \leftarrow \theta - \alpha \frac{g}{\sqrt{G} + \varepsilon}",
    "noise": r"\tilde g = \nabla f(\theta) + \frac{\sigma}{\sqrt{b}}\,\xi,\qquad \xi \sim \mathcal N(0, I)",
}

SCHEDULES = ("constant", "inverse", "exp", "sqrt", "staircase")
SCHEDULE_LATEX = {
    "constant": r"\alpha = \alpha_0",
    "inverse": r"\alpha = \frac{\alpha_0}{1 + k\cdot\text{epoch}}",
    "exp": r"\alpha = 0.95^{\text{epoch}}\,\alpha_0",
    "sqrt": r"\alpha = \frac{k}{\sqrt{\text{epoch}+1}}\,\alpha_0",
    "staircase": r"\alpha = \alpha_0\,\gamma^{\lfloor \text{epoch}/n \rfloor}",
}


def lr_factor(schedule: dict | None, step: int) -> float:
    r"""Multiplier of α₀ at optimizer step ``step`` (0-based); formulas in ``SCHEDULE_LATEX``.

    ``schedule``: {"kind": one of SCHEDULES, "k": float, "rate": base of "exp" (0.95),
    "gamma"/"every": staircase factor and length, "steps_per_epoch": int}.
    """
    if not schedule or schedule.get("kind", "constant") == "constant":
        return 1.0
    epoch = step // max(1, int(schedule.get("steps_per_epoch", 1)))
    kind, k = schedule["kind"], float(schedule.get("k", 1.0))
    if kind == "inverse":
        return 1.0 / (1.0 + k * epoch)
    if kind == "exp":
        return float(schedule.get("rate", 0.95)) ** epoch
    if kind == "sqrt":
        return k / math.sqrt(epoch + 1)
    if kind == "staircase":
        return float(schedule.get("gamma", 0.5)) ** (epoch // max(1, int(schedule.get("every", 10))))
    raise ValueError(f"unknown schedule {kind!r}")


def hyper(name: str, **hp) -> dict:
    """The optimizer's defaults overridden by ``hp`` (unknown names are an error)."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown optimizer {name!r}")
    common = {"schedule", "noise", "batch_size", "seed"}
    extra = set(hp) - set(DEFAULTS[name]) - common
    if extra:
        raise ValueError(f"{name} takes no {sorted(extra)}")
    return {**DEFAULTS[name], **hp}


def update(name: str, theta: np.ndarray, g: np.ndarray, state: dict, lr: float, hp: dict, t: int) -> np.ndarray:
    """One course-form step (t = 1, 2, …) of optimizer ``name``; ``state`` is updated in place."""
    if name == "gd":
        return theta - lr * g
    if name in ("momentum", "nesterov"):
        b = hp["beta"]
        v = state["v"] = b * state.get("v", 0.0) + (1 - b) * g
        return theta - lr * v if name == "momentum" else theta - lr * ((1 - b) * g + b * v)
    if name == "rmsprop":
        b = hp["beta"]
        s = state["s"] = b * state.get("s", 0.0) + (1 - b) * g * g
        return theta - lr * g / (np.sqrt(s) + hp["eps"])
    if name in ("adam", "adamw"):
        b1, b2 = hp["beta1"], hp["beta2"]
        if name == "adamw":
            theta = theta * (1 - lr * hp["weight_decay"])
        elif hp.get("weight_decay"):
            g = g + hp["weight_decay"] * theta  # Adam's weight_decay is L2 on the gradient
        m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        if name == "adamw" or hp.get("bias_correction", True):
            m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return theta - lr * m / (np.sqrt(v) + hp["eps"])
    if name == "adagrad":
        G = state["G"] = state.get("G", 0.0) + g * g
        return theta - lr * g / (np.sqrt(G) + hp["eps"])
    raise ValueError(f"unknown optimizer {name!r}")


def noise_sequence(steps: int, hp: dict) -> np.ndarray:
    """Seeded mini-batch noise σ/√b·ξ for every step (zeros without noise), shape (steps, 2)."""
    sigma = float(hp.get("noise") or 0.0)
    if sigma <= 0:
        return np.zeros((steps, 2))
    b = max(1, int(hp.get("batch_size") or 1))
    return np.random.default_rng(hp.get("seed", 0)).normal(0.0, sigma / math.sqrt(b), size=(steps, 2))


def _escaped(theta: np.ndarray, surface: Surface) -> np.ndarray:
    """Per row of ``theta`` (…, 2): non-finite, or further from the domain's centre than 10 spans
    (counted as diverged). NaN fails the ``<=`` test, so it counts too."""
    (x0, x1), (y0, y1) = surface.domain
    near = (np.abs(theta[..., 0] - (x0 + x1) / 2) <= 10 * (x1 - x0)) & \
           (np.abs(theta[..., 1] - (y0 + y1) / 2) <= 10 * (y1 - y0))
    return ~near


@dataclass(frozen=True)
class Run:
    path: np.ndarray  # (steps+1, 2); NaN from the diverged step on
    lr: np.ndarray  # learning rate used at each step, (steps,)
    diverged_at: int | None  # first step whose result was non-finite / far away


@dataclass(frozen=True)
class Batch:
    """K runs of one optimizer from one start that differ only in ``BATCHED`` hyper-parameters."""

    paths: np.ndarray  # (K, steps+1, 2); NaN from each row's diverged step on
    lr: np.ndarray  # (K, steps) learning rate of each row at each step
    diverged_at: tuple  # per row: first step whose result was non-finite / far away, or None

    def run(self, k: int) -> Run:
        return Run(self.paths[k], self.lr[k], self.diverged_at[k])


BATCHED = ("lr", "beta", "beta1")  # the hyper-parameters a batch may vary from row to row


def _gradient(surface: Surface, theta: np.ndarray) -> np.ndarray:
    """The exact gradient at every row of ``theta`` (K, 2)."""
    g = np.empty_like(theta)
    g[:, 0], g[:, 1] = surface.grad(theta[:, 0], theta[:, 1])
    return g


def run_batch(name: str, surface: Surface, start, steps: int, **hp) -> Batch:
    """Course-form runs, one per row: any of ``BATCHED`` may be a sequence of K values (the
    others are shared). Every row follows :func:`update` exactly as a run of its own would."""
    hp = hyper(name, **hp)
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
            theta = update(name, theta, g, state, lrs[:, i:i + 1], row_hp, i + 1)
            lost = alive & _escaped(theta, surface)
            if lost.any():
                diverged[lost] = i + 1
                alive &= ~lost
                theta[~alive] = np.nan
                if not alive.any():
                    break
            paths[:, i + 1] = theta
    return Batch(paths, lrs, tuple(None if d < 0 else int(d) for d in diverged))


def run(name: str, surface: Surface, start, steps: int, **hp) -> Run:
    """Course-form run: every step's position, learning rate, and where it diverged."""
    return run_batch(name, surface, start, steps, **hp).run(0)


def trajectory(name: str, surface: Surface, start, steps: int, **hp) -> np.ndarray:
    """Positions (steps+1, 2) of the course-form optimizer; rows after a divergence are NaN."""
    return run(name, surface, start, steps, **hp).path


# --- torch.optim reference ---------------------------------------------------------------------

def torch_spec(name: str, **hp) -> tuple[str, dict]:
    """(class name, kwargs) of the ``torch.optim`` optimizer equivalent to the course form."""
    hp = hyper(name, **hp)
    lr = hp["lr"]
    if name == "gd":
        return "SGD", {"lr": lr}
    if name in ("momentum", "nesterov"):
        return "SGD", {"lr": lr * (1 - hp["beta"]), "momentum": hp["beta"], "nesterov": name == "nesterov"}
    if name == "rmsprop":
        return "RMSprop", {"lr": lr, "alpha": hp["beta"], "eps": hp["eps"]}
    if name == "adam":
        if not hp.get("bias_correction", True):
            raise ValueError("torch.optim.Adam always corrects the bias: no equivalent without it")
        return "Adam", {"lr": lr, "betas": (hp["beta1"], hp["beta2"]), "eps": hp["eps"],
                        "weight_decay": hp["weight_decay"]}
    if name == "adamw":
        return "AdamW", {"lr": lr, "betas": (hp["beta1"], hp["beta2"]), "eps": hp["eps"],
                         "weight_decay": hp["weight_decay"]}
    if name == "adagrad":
        return "Adagrad", {"lr": lr, "eps": hp["eps"]}
    raise ValueError(f"unknown optimizer {name!r}")


def torch_call(name: str, **hp) -> str:
    """The equivalent call as code a student can paste, e.g. ``torch.optim.SGD([θ], lr=0.01, ...)``."""
    cls, kw = torch_spec(name, **hp)
    args = ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={v:.6g}" for k, v in kw.items()
                     if not (k == "nesterov" and not v))
    return f"torch.optim.{cls}([theta], {args})"


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


def summary(surface: Surface, r: Run, tol: float = 1e-3) -> dict:
    """Final loss and point (the last finite row), steps to a minimum, where it diverged."""
    finite = r.path[np.isfinite(r.path).all(axis=1)]
    if not len(finite):  # not even the start was finite
        return {"final_loss": float("nan"), "steps_to_min": None, "diverged_at": r.diverged_at,
                "final_point": None, "nearest_min": None}
    last = finite[-1]
    return {"final_loss": float(surface.f(last[0], last[1])), "steps_to_min": steps_to_reach(surface, r.path, tol),
            "diverged_at": r.diverged_at, "final_point": tuple(last), "nearest_min": nearest_minimum(surface, last)}
