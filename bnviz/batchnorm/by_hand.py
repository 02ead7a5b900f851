r"""One batch through one BatchNorm layer, by hand: the numbers behind every formula.

For a BN layer and one of its channels, on the batch about to be trained on: a few of the
batch's values, their mean μ_B and variance σ²_B, each value normalised and then scaled and
shifted, and the running statistics before and after this batch's update — computed with the
core's own :func:`bnviz.batchnorm.scratch.batch_stats`, :func:`bnviz.batchnorm.scratch.normalise` and
:func:`bnviz.batchnorm.scratch.running_update`, never a copy of them. Nothing in the model changes.
"""

from __future__ import annotations

from bnviz.batchnorm.evaluation import forward
from bnviz.batchnorm.models import bn_layers
from bnviz.batchnorm.scratch import batch_stats, normalise, running_update, unbiased, values_per_channel


def one_batch(model, xb, layer: str, channel: int, *, shown: int = 6, unbiased_running: bool = True) -> dict:
    """The worked example for ``layer``/``channel`` on the input batch ``xb`` (N, 1, 28, 28).

    Earlier BN layers normalise with this batch's own statistics, as in training (nothing is
    updated). ``unbiased_running``: the running variance averages m/(m−1)·σ²_B (PyTorch) or
    σ²_B itself (the scratch layer). Returns plain floats and lists."""
    import torch

    module = bn_layers(model)[layer]
    with torch.no_grad():
        x = forward(model, xb, bn_group=len(xb), until=layer)
        mean, var = batch_stats(x)
        mean, var = mean[0], var[0]
        y = normalise(x, mean, var, module.weight, module.bias, module.eps)
        x_hat = normalise(x, mean, var, torch.ones_like(mean), torch.zeros_like(mean), module.eps)
        m = values_per_channel(x)
        to_running = unbiased(var, m) if unbiased_running else var
        new_mean = running_update(module.running_mean.clone(), mean, module.momentum)
        new_var = running_update(module.running_var.clone(), to_running, module.momentum)

        def first(t):  # the first ``shown`` values of the channel (one position per image)
            return (t[:, channel].reshape(len(xb), -1)[:shown, 0] if t.dim() == 4 else t[:shown, channel]).tolist()

        c = channel  # the short name keeps the table below readable
        return {
            "layer": layer, "channel": c, "m": m, "eps": module.eps, "momentum": module.momentum,
            "x": first(x), "mean": float(mean[c]), "var": float(var[c]), "x_hat": first(x_hat),
            "gamma": float(module.weight[c]), "beta": float(module.bias[c]), "y": first(y),
            "running_mean": float(module.running_mean[c]), "running_var": float(module.running_var[c]),
            "batch_var_to_running": float(to_running[c]), "new_running_mean": float(new_mean[c]),
            "new_running_var": float(new_var[c]), "unbiased": unbiased_running,
        }
