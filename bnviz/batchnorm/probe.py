r"""Does BatchNorm smooth the loss? Santurkar et al. (2018) measure the loss landscape along the
gradient step: at θ with gradient g and learning rate η, on the training batch,

.. math:: \text{loss variation} = \max_k L(\theta - k\eta g) - \min_k L(\theta - k\eta g),\ k \in (0, 2],
          \qquad \text{gradient predictiveness} = \lVert \nabla L(\theta) - \nabla L(\theta - \eta g) \rVert

A smoother landscape varies less along the step and its gradient changes less. BatchNorm layers
use the batch's own statistics (as in training) and update nothing; the model ends as it began.

Each model's own step η·g differs in length between two models (their η and their gradients
differ), which can decide the comparison by itself. With a step length s, every model is probed
along its gradient's direction by the same distance instead: η·g is replaced by s·g / ‖g‖.
"""

from __future__ import annotations

KS = (0.25, 0.5, 1.0, 1.5, 2.0)
LATEX = {
    "variation": r"\Delta L = \max_{k \in (0,2]} L(\theta - k\eta g) - \min_{k \in (0,2]} L(\theta - k\eta g)",
    "predictiveness": r"\lVert \nabla L(\theta) - \nabla L(\theta - \eta g) \rVert_2",
}


def _loss(model, xb, yb):
    import torch.nn.functional as functional

    from bnviz.batchnorm.evaluation import forward

    return functional.cross_entropy(forward(model, xb, bn_group=len(xb)), yb)


def landscape(model, xb, yb, lr: float, ks=KS, step_length: float = 0.0):
    """On a model whose ``.grad`` holds g = ∇L(θ) of this batch: a device vector of the losses
    at θ − k·η·g for each k, then ‖∇L(θ) − ∇L(θ − η·g)‖ and ‖∇L(θ)‖; with ``step_length`` s > 0,
    η is s / ‖g‖ (the same distance for every model). Parameters and gradients are restored;
    nothing waits for the device."""
    import torch

    params = [p for p in model.parameters() if p.grad is not None]
    theta = [p.detach().clone() for p in params]
    g = [p.grad.detach().clone() for p in params]
    if step_length > 0:
        lr = step_length / torch.sqrt(sum((d ** 2).sum() for d in g)).clamp_min(1e-12)
    out = []
    try:
        with torch.no_grad():
            for k in ks:
                for p, t, d in zip(params, theta, g):
                    p.copy_(t - k * lr * d)
                out.append(_loss(model, xb, yb).detach())
            for p, t, d in zip(params, theta, g):
                p.copy_(t - lr * d)
        model.zero_grad(set_to_none=True)
        _loss(model, xb, yb).backward()
        diff = torch.sqrt(sum(((p.grad - d) ** 2).sum() for p, d in zip(params, g)))
        norm = torch.sqrt(sum((d ** 2).sum() for d in g))
    finally:
        with torch.no_grad():
            for p, t, d in zip(params, theta, g):
                p.copy_(t)
                p.grad = d
    return torch.stack([*out, diff, norm]).float()


def summary(vec) -> dict[str, float]:
    """The host-side reading of one :func:`landscape` vector."""
    losses = [float(v) for v in vec[:len(KS)]]
    return {"variation": max(losses) - min(losses), "predictiveness": float(vec[len(KS)]),
            "grad_norm": float(vec[len(KS) + 1]), "losses": losses}
