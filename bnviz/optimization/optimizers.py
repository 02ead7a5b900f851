r"""The optimizers of the course, one class per algorithm (as ``torch/optim`` has one), in the
course's form: numpy, float64, any shape of θ (a batch of runs is rows of θ).

Each class holds all there is to know about its algorithm: the update rule (:meth:`Optimizer.update`,
a function of θ, g, the state and the hyper-parameters), its defaults, the β the page's live slider
moves, the hyper-parameters the sidebar shows, its LaTeX and its ``torch.optim`` equivalent.
``REGISTRY`` lists them in the page's order. Adding an optimizer is one class here, added to
``REGISTRY``, plus its label (``opt_<name>``) in ``bnviz/ui/strings``.

The course forms map to PyTorch like this (checked step by step in tests/core/test_optimizers.py):

* momentum  v = βv + (1−β)g, θ −= αv             ≡ ``SGD(lr=α(1−β), momentum=β)``
* nesterov  v = βv + (1−β)g, θ −= α((1−β)g + βv) ≡ ``SGD(lr=α(1−β), momentum=β, nesterov=True)``
* rmsprop   s = βs + (1−β)g², θ −= αg/(√s + ε)   ≡ ``RMSprop(lr=α, alpha=β, eps=ε)``
* adam      bias-corrected m̂, v̂, θ −= αm̂/(√v̂ + ε) ≡ ``Adam(lr=α, betas=(β₁, β₂), eps=ε)``
* adamw     θ −= αλθ, then the Adam step         ≡ ``AdamW(..., weight_decay=λ)``
* adagrad   G += g², θ −= αg/(√G + ε)            ≡ ``Adagrad(lr=α, eps=ε)``
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

# Settings every optimizer takes besides its own: the learning-rate schedule and mini-batch noise
# (bnviz.optimization.schedules).
COMMON = ("schedule", "noise", "batch_size", "seed")


class Optimizer:
    """One algorithm. ``update`` returns the new θ and updates ``state`` (a dict) in place; ``t`` is
    the step, 1, 2, …; ``lr`` and the values of ``hp`` are numbers or columns that broadcast
    against θ (one row per run of a batch)."""

    name: ClassVar[str]
    defaults: ClassVar[dict]
    latex: ClassVar[str]
    slider: ClassVar[str | None] = None  # the hyper-parameter the page's live β slider moves
    settings: ClassVar[tuple[str, ...]] = ()  # the hyper-parameters the page's sidebar shows

    def update(self, theta: np.ndarray, g: np.ndarray, state: dict, lr, hp: dict, t: int) -> np.ndarray:
        raise NotImplementedError

    def torch_spec(self, hp: dict) -> tuple[str, dict]:
        """(class name in ``torch.optim``, keyword arguments) of the same optimizer."""
        raise NotImplementedError


class GD(Optimizer):
    name = "gd"
    defaults = {"lr": 0.1}
    latex = r"\theta \leftarrow \theta - \alpha\, g"

    def update(self, theta, g, state, lr, hp, t):
        return theta - lr * g

    def torch_spec(self, hp):
        return "SGD", {"lr": hp["lr"]}


class Momentum(Optimizer):
    name = "momentum"
    defaults = {"lr": 0.1, "beta": 0.9}
    latex = r"v \leftarrow \beta v + (1-\beta)\, g,\qquad \theta \leftarrow \theta - \alpha v"
    slider = "beta"

    def update(self, theta, g, state, lr, hp, t):
        b = hp["beta"]
        v = state["v"] = b * state.get("v", 0.0) + (1 - b) * g
        return theta - lr * v

    def torch_spec(self, hp):
        return "SGD", {"lr": hp["lr"] * (1 - hp["beta"]), "momentum": hp["beta"], "nesterov": False}


class Nesterov(Momentum):
    name = "nesterov"
    latex = (r"v \leftarrow \beta v + (1-\beta)\, g,\qquad "
             r"\theta \leftarrow \theta - \alpha\big((1-\beta)\, g + \beta v\big)")

    def update(self, theta, g, state, lr, hp, t):
        b = hp["beta"]
        v = state["v"] = b * state.get("v", 0.0) + (1 - b) * g
        return theta - lr * ((1 - b) * g + b * v)

    def torch_spec(self, hp):
        return "SGD", {**super().torch_spec(hp)[1], "nesterov": True}


class RMSProp(Optimizer):
    name = "rmsprop"
    defaults = {"lr": 0.01, "beta": 0.99, "eps": 1e-8}
    latex = (r"s \leftarrow \beta s + (1-\beta)\, g^2,\qquad "
             r"\theta \leftarrow \theta - \alpha \frac{g}{\sqrt{s} + \varepsilon}")
    slider = "beta"
    settings = ("eps",)

    def update(self, theta, g, state, lr, hp, t):
        b = hp["beta"]
        s = state["s"] = b * state.get("s", 0.0) + (1 - b) * g * g
        return theta - lr * g / (np.sqrt(s) + hp["eps"])

    def torch_spec(self, hp):
        return "RMSprop", {"lr": hp["lr"], "alpha": hp["beta"], "eps": hp["eps"]}


class Adam(Optimizer):
    name = "adam"
    defaults = {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "bias_correction": True, "weight_decay": 0.0}
    latex = (r"m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad "
             r"\hat m = \frac{m}{1-\beta_1^t},\ \hat v = \frac{v}{1-\beta_2^t},\quad "
             r"\theta \leftarrow \theta - \alpha \frac{\hat m}{\sqrt{\hat v} + \varepsilon}")
    slider = "beta1"
    settings = ("beta2", "eps", "bias_correction")

    def update(self, theta, g, state, lr, hp, t):
        if hp.get("weight_decay"):
            g = g + hp["weight_decay"] * theta  # Adam's weight_decay is L2 on the gradient
        return self._adam_step(theta, g, state, lr, hp, t, hp.get("bias_correction", True))

    @staticmethod
    def _adam_step(theta, g, state, lr, hp, t, bias_correction: bool):
        b1, b2 = hp["beta1"], hp["beta2"]
        m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        if bias_correction:
            m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return theta - lr * m / (np.sqrt(v) + hp["eps"])

    def torch_spec(self, hp):
        if not hp.get("bias_correction", True):
            raise ValueError("torch.optim.Adam always corrects the bias: no equivalent without it")
        return "Adam", {"lr": hp["lr"], "betas": (hp["beta1"], hp["beta2"]), "eps": hp["eps"],
                        "weight_decay": hp["weight_decay"]}


class AdamW(Adam):
    name = "adamw"
    defaults = {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
    latex = r"\theta \leftarrow \theta - \alpha\lambda\theta,\ \text{then the Adam step}"
    settings = ("beta2", "eps", "weight_decay")

    def update(self, theta, g, state, lr, hp, t):
        theta = theta * (1 - lr * hp["weight_decay"])  # decoupled: the decay never enters m or v
        return self._adam_step(theta, g, state, lr, hp, t, True)

    def torch_spec(self, hp):
        return "AdamW", {"lr": hp["lr"], "betas": (hp["beta1"], hp["beta2"]), "eps": hp["eps"],
                         "weight_decay": hp["weight_decay"]}


class Adagrad(Optimizer):
    name = "adagrad"
    defaults = {"lr": 0.5, "eps": 1e-10}
    latex = r"G \leftarrow G + g^2,\qquad \theta \leftarrow \theta - \alpha \frac{g}{\sqrt{G} + \varepsilon}"
    settings = ("eps",)

    def update(self, theta, g, state, lr, hp, t):
        G = state["G"] = state.get("G", 0.0) + g * g
        return theta - lr * g / (np.sqrt(G) + hp["eps"])

    def torch_spec(self, hp):
        return "Adagrad", {"lr": hp["lr"], "eps": hp["eps"]}


REGISTRY: dict[str, Optimizer] = {o.name: o for o in (GD(), Momentum(), Nesterov(), RMSProp(), Adam(), AdamW(),
                                                        Adagrad())}
OPTIMIZERS = tuple(REGISTRY)


def get(name: str) -> Optimizer:
    """The optimizer called ``name``; an unknown name is a ValueError."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}") from None


def hyper(name: str, **hp) -> dict:
    """The optimizer's defaults overridden by ``hp`` (a name it does not take is an error)."""
    extra = set(hp) - set(get(name).defaults) - set(COMMON)
    if extra:
        raise ValueError(f"{name} takes no {sorted(extra)}")
    return {**get(name).defaults, **hp}


def torch_spec(name: str, **hp) -> tuple[str, dict]:
    """(class name, kwargs) of the ``torch.optim`` optimizer equivalent to the course form."""
    return get(name).torch_spec(hyper(name, **hp))


def torch_call(name: str, **hp) -> str:
    """The equivalent call as code a student can paste, e.g. ``torch.optim.SGD([theta], lr=0.01, ...)``."""
    cls, kw = torch_spec(name, **hp)
    args = ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={v:.6g}" for k, v in kw.items()
                     if not (k == "nesterov" and not v))
    return f"torch.optim.{cls}([theta], {args})"
