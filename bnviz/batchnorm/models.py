"""LeNet as in d2l (and the course notes), with or without BatchNorm.

Conv(1→6, 5) · [BN] · act · AvgPool(2) · Conv(6→16, 5) · [BN] · act · AvgPool(2) · Flatten ·
Linear(256→120) · [BN] · act · Linear(120→84) · [BN] · act · Linear(84→10).
44,426 parameters without BN, 44,878 with (γ and β for 6 + 16 + 120 + 84 channels).

Children are named so that the trainer can find each hidden layer's pieces: ``conv1``,
``conv1_bn``, ``conv1_act``, ... The input of a ``*_act`` module is the layer's pre-activation
(what the sigmoid sees), its output the activation.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from bnviz.batchnorm.choices import ACTIVATIONS, BN_IMPLS, BN_POSITIONS
from bnviz.batchnorm.scratch import BatchNormScratch

MODELS = ("lenet", "lenet_bn")  # the pair trained side by side: without and with BatchNorm
LABELS = {"lenet": "LeNet", "lenet_bn": "LeNet-BN"}  # language-neutral names on every chart
HIDDEN_LAYERS = ("conv1", "conv2", "fc1", "fc2")  # layers followed by an activation (and BN)
WEIGHTED = (*HIDDEN_LAYERS, "fc3")  # layers with weights
WIDTHS = {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}  # channels of each hidden layer (BN's γ, β)


def _bn(impl: str, channels: int, dims: int, eps: float, momentum: float) -> nn.Module:
    if impl == "scratch":
        return BatchNormScratch(channels, dims, eps=eps, momentum=momentum)
    cls = nn.BatchNorm2d if dims == 4 else nn.BatchNorm1d
    return cls(channels, eps=eps, momentum=momentum)


def lenet(batch_norm: bool = False, *, activation: str = "sigmoid", bn_position: str = "before",
          bn_impl: str = "torch", bn_momentum: float = 0.1, bn_eps: float = 1e-5) -> nn.Sequential:
    """The d2l LeNet; ``batch_norm`` inserts a BN layer before (default) or after each activation."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}")
    if bn_position not in BN_POSITIONS or bn_impl not in BN_IMPLS:
        raise ValueError("bad BatchNorm position or implementation")
    act = nn.Sigmoid if activation == "sigmoid" else nn.ReLU
    parts: list[tuple[str, nn.Module]] = []

    def hidden(name: str, layer: nn.Module, channels: int, dims: int) -> None:
        parts.append((name, layer))
        norm = [(f"{name}_bn", _bn(bn_impl, channels, dims, bn_eps, bn_momentum))] if batch_norm else []
        activation_part = [(f"{name}_act", act())]
        parts.extend(norm + activation_part if bn_position == "before" else activation_part + norm)

    w = WIDTHS
    hidden("conv1", nn.Conv2d(1, w["conv1"], kernel_size=5), w["conv1"], 4)
    parts.append(("pool1", nn.AvgPool2d(kernel_size=2, stride=2)))
    hidden("conv2", nn.Conv2d(w["conv1"], w["conv2"], kernel_size=5), w["conv2"], 4)
    parts.append(("pool2", nn.AvgPool2d(kernel_size=2, stride=2)))
    parts.append(("flatten", nn.Flatten()))
    hidden("fc1", nn.Linear(w["conv2"] * 4 * 4, w["fc1"]), w["fc1"], 2)
    hidden("fc2", nn.Linear(w["fc1"], w["fc2"]), w["fc2"], 2)
    parts.append(("fc3", nn.Linear(w["fc2"], 10)))
    return nn.Sequential(OrderedDict(parts))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_weights(model: nn.Module, seed: int) -> None:
    """d2l's init: Xavier-uniform weights; biases uniform(±1/√fan_in) as PyTorch's default.

    Draws from one generator in layer order, so the no-BN and BN models built with the same seed
    get identical weights in every layer they share. BN layers start at γ = 1, β = 0.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight, generator=gen)
                bound = 1 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.bias, -bound, bound, generator=gen)


def bn_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Hidden-layer name → its BN module (empty for a model without BN)."""
    return {name[:-3]: m for name, m in model.named_children() if name.endswith("_bn")}


def weighted_layers(model: nn.Module) -> dict[str, nn.Module]:
    """conv1 … fc3 → the Conv/Linear module (for gradient norms)."""
    return {name: m for name, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))}
