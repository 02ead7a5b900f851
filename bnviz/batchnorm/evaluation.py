"""Forward passes of a LeNet that can look inside, accuracy, and what BatchNorm uses at test time.

:func:`forward` runs a :func:`bnviz.batchnorm.models.lenet` child by child, so it can record each hidden
layer's pre-activation and activation, and evaluate BatchNorm with batch statistics of groups of
any size (train-mode BN at batch size 1, 8, 256) without touching the running statistics.
"""

from __future__ import annotations

import math

from bnviz.errors import ConfigError

EVAL_CHUNK = 1024

LATEX = {
    "loss": r"\ell = -\frac{1}{|\mathcal{B}|}\sum_{i\in\mathcal{B}} \log \mathrm{softmax}(z_i)_{y_i}",
    "sigmoid": r"\sigma(z) = \frac{1}{1+e^{-z}}",
    "relu": r"\mathrm{ReLU}(z) = \max(0, z)",
}


def forward(model, x, *, capture: dict | None = None, bn_group: int | None = None, until: str | None = None,
            stats: dict | None = None):
    """Run ``model`` (a :func:`bnviz.batchnorm.models.lenet`) child by child.

    ``capture``: a dict filled with, per hidden layer, the first ``capture['samples']`` examples'
    pre-activation and activation (``(layer, 'pre'|'act') → tensor``) and each BN layer's batch
    mean/variance (``(layer, 'batch') → (mean, var)``).
    ``bn_group``: BN layers use batch statistics of consecutive groups of that many examples
    (train-mode BN at that batch size, nothing updated) instead of their own mode.
    ``stats``: BN layers normalise with these statistics instead (layer → (mean, var)).
    ``until``: stop at the BN layer of hidden layer ``until`` and return its input.
    """
    from bnviz.batchnorm.scratch import batch_stats, normalise

    n = capture.get("samples") if capture is not None else None
    for name, module in model.named_children():
        if name == f"{until}_bn":
            return x
        if name.endswith("_bn") and stats is not None and name[:-3] in stats:
            mean, var = stats[name[:-3]]
            x = normalise(x, mean, var, module.weight, module.bias, module.eps)
            continue
        if name.endswith("_bn"):
            if bn_group is not None:
                mean, var = batch_stats(x, bn_group)
                x = normalise(x, mean, var, module.weight, module.bias, module.eps, bn_group)
                continue
            if capture is not None:
                mean, var = batch_stats(x.detach())
                capture[(name[:-3], "batch")] = (mean[0], var[0])
        y = module(x)
        if capture is not None and name.endswith("_act"):
            capture[(name[:-4], "pre")] = x[:n]
            capture[(name[:-4], "act")] = y[:n]
        x = y
    return x


def as_input(images_u8):
    """uint8 (N, 28, 28) → float (N, 1, 28, 28) in [0, 1]."""
    return images_u8.unsqueeze(1).float().mul_(1 / 255)


def accuracy(model, x_u8, y, *, bn_group: int | None = None, chunk: int = EVAL_CHUNK) -> float:
    """Share of correct predictions. ``bn_group=None``: the model's current mode decides the BN
    statistics; otherwise batch statistics over groups of ``bn_group`` examples."""
    import torch

    if bn_group:
        chunk = max(bn_group, chunk // bn_group * bn_group)
    correct = torch.zeros((), dtype=torch.int64, device=y.device)
    with torch.no_grad():
        for i in range(0, len(y), chunk):
            logits = forward(model, as_input(x_u8[i:i + chunk]), bn_group=bn_group)
            correct += (logits.argmax(1) == y[i:i + chunk]).sum()
    return correct.item() / max(1, len(y))


def test_time_accuracy(model, x_u8, y, batch_sizes=(1, 8, 256)) -> dict:
    """BN model on test data: eval mode (running statistics) vs train mode (batch statistics) at
    each batch size. Uses the first n examples, n divisible by every batch size, for all rows."""
    lcm = math.lcm(*batch_sizes)
    n = len(y) - len(y) % lcm
    if n == 0:
        raise ConfigError("test_set_too_small", n=len(y), batch=lcm)
    was_training = model.training
    model.eval()
    try:
        eval_acc = accuracy(model, x_u8[:n], y[:n])
        rows = [{"batch": b, "eval": eval_acc, "train": accuracy(model, x_u8[:n], y[:n], bn_group=b)}
                for b in batch_sizes]
    finally:
        model.train(was_training)
    return {"n": n, "rows": tuple(rows)}
