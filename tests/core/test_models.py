"""The d2l LeNet with and without BatchNorm."""

import pytest
import torch
from torch import nn

from bnviz.batchnorm import models


@pytest.mark.parametrize("impl", models.BN_IMPLS)
@pytest.mark.parametrize("position", models.BN_POSITIONS)
@pytest.mark.parametrize("activation", models.ACTIVATIONS)
def test_parameter_counts_and_output_shape(impl, position, activation):
    plain = models.lenet(False, activation=activation)
    bn = models.lenet(True, activation=activation, bn_position=position, bn_impl=impl)
    assert models.n_params(plain) == 44_426
    assert models.n_params(bn) == 44_878
    assert bn(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_layer_order_matches_the_notes():
    names = [n for n, _ in models.lenet(True).named_children()]
    assert names == ["conv1", "conv1_bn", "conv1_act", "pool1", "conv2", "conv2_bn", "conv2_act",
                     "pool2", "flatten", "fc1", "fc1_bn", "fc1_act", "fc2", "fc2_bn", "fc2_act", "fc3"]
    after = [n for n, _ in models.lenet(True, bn_position="after").named_children()]
    assert after[:3] == ["conv1", "conv1_act", "conv1_bn"]
    kinds = [type(m) for m in models.lenet(True).children()]
    assert kinds.count(nn.BatchNorm2d) == 2 and kinds.count(nn.BatchNorm1d) == 2
    assert isinstance(models.lenet(True).conv1_act, nn.Sigmoid)
    assert isinstance(models.lenet(False, activation="relu").fc1_act, nn.ReLU)


def test_same_seed_gives_identical_shared_layers_and_xavier_scale():
    plain, bn = models.lenet(False), models.lenet(True, bn_impl="scratch")
    models.init_weights(plain, 7)
    models.init_weights(bn, 7)
    for name, layer in models.weighted_layers(plain).items():
        other = models.weighted_layers(bn)[name]
        assert torch.equal(layer.weight, other.weight) and torch.equal(layer.bias, other.bias)
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
        bound = (6 / (fan_in + fan_out)) ** 0.5  # Xavier-uniform
        assert layer.weight.abs().max() <= bound
        assert layer.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.25)
    other = models.lenet(False)
    models.init_weights(other, 8)
    assert not torch.equal(other.conv1.weight, plain.conv1.weight)


def test_scratch_and_torch_bn_models_agree_in_train_mode():
    a, b = models.lenet(True, bn_impl="torch").double(), models.lenet(True, bn_impl="scratch").double()
    models.init_weights(a, 0)
    models.init_weights(b, 0)
    b.load_state_dict({k: v for k, v in a.state_dict().items() if "num_batches" not in k})
    x = torch.rand(16, 1, 28, 28, dtype=torch.float64)
    torch.testing.assert_close(a(x), b(x), rtol=1e-10, atol=1e-10)


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        models.lenet(activation="tanh")
    with pytest.raises(ValueError):
        models.lenet(True, bn_position="middle")
