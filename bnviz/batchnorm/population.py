r"""What BatchNorm uses at test time: the running (EWMA) estimates, or the population statistics.

The notes' "theoretical" method (and the BN paper's): put the whole training set through the
trained network and take, at every BN layer, the exact mean and variance of its input — with the
earlier BN layers already normalising by their own population statistics, as they will at test
time. :func:`population_stats` computes them layer by layer in float64, in chunks (the first
layer's input alone is 60 000 × 6 × 24 × 24 values). Practice uses the running averages instead:
they come free with training, while this needs another pass over all the data after it, and
again whenever the weights change.

.. math:: \mu = \frac{1}{n}\sum_i x_i,\qquad \sigma^2 = \frac{1}{n}\sum_i (x_i-\mu)^2,
          \qquad \sigma^2_\text{unbiased} = \frac{n}{n-1}\sigma^2
"""

from __future__ import annotations

import numpy as np

from bnviz.batchnorm.evaluation import as_input, forward
from bnviz.batchnorm.models import bn_layers
from bnviz.batchnorm.scratch import unbiased, values_per_channel

CHUNK = 2048
LATEX = {
    "population": r"\mu = \frac{1}{n}\sum_{i=1}^{n} x_i,\qquad \sigma^2 = \frac{1}{n}\sum_{i=1}^{n}(x_i-\mu)^2",
    "unbiased": r"\sigma^2_{\text{unbiased}} = \frac{n}{n-1}\,\sigma^2",
}


def population_stats(model, x_u8, *, chunk: int = CHUNK, progress=None) -> dict[str, dict]:
    """Per BN layer of ``model``: the ``mean``, biased ``var`` and ``var_unbiased`` of its input
    over all of ``x_u8`` (uint8 images), and ``n`` the values per channel. ``progress(done,
    total)`` is called after each chunk of each layer's pass."""
    import torch

    layers = list(bn_layers(model))
    stats: dict[str, tuple] = {}
    out = {}
    total = len(layers) * len(x_u8)
    with torch.no_grad():
        for li, layer in enumerate(layers):
            s = ss = None
            count = 0
            for i in range(0, len(x_u8), chunk):
                x = forward(model, as_input(x_u8[i:i + chunk]), until=layer, stats=stats).double()
                dims = (0,) if x.dim() == 2 else (0, 2, 3)
                part_s, part_ss = x.sum(dims), (x * x).sum(dims)
                s, ss = (part_s, part_ss) if s is None else (s + part_s, ss + part_ss)
                count += values_per_channel(x)
                if progress is not None:
                    progress(li * len(x_u8) + min(len(x_u8), i + chunk), total)
            mean = s / count
            var = (ss / count - mean * mean).clamp_min(0)
            dtype = next(model.parameters()).dtype
            stats[layer] = (mean.to(dtype), var.to(dtype))
            out[layer] = {"mean": mean.cpu().numpy(), "var": var.cpu().numpy(),
                          "var_unbiased": unbiased(var, count).cpu().numpy(), "n": count}
    return out


def gap(estimate_mean, estimate_var, population: dict, *, unbiased: bool = True) -> dict[str, float]:
    """How far running estimates are from the population statistics of one layer, averaged over
    channels: the mean's error in population standard deviations, and the variance's relative
    error against the unbiased (PyTorch) or biased (the scratch layer) population variance."""
    mean, var = np.asarray(estimate_mean, float), np.asarray(estimate_var, float)
    std = np.sqrt(population["var"]) + 1e-12
    reference = population["var_unbiased" if unbiased else "var"] + 1e-12
    return {"mean": float(np.mean(np.abs(mean - population["mean"]) / std)),
            "var": float(np.mean(np.abs(var / reference - 1)))}


def accuracy_with(model, x_u8, y, stats: dict[str, tuple]) -> float:
    """Test accuracy when every BN layer normalises with ``stats`` (layer → (mean, var))."""
    import torch

    dev = next(model.parameters()).device
    tensors = {layer: (torch.as_tensor(m, dtype=torch.float32, device=dev),
                       torch.as_tensor(v, dtype=torch.float32, device=dev)) for layer, (m, v) in stats.items()}
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), CHUNK):
            logits = forward(model, as_input(x_u8[i:i + CHUNK]), stats=tensors)
            correct += int((logits.argmax(1) == y[i:i + CHUNK]).sum())
    return correct / max(1, len(y))

