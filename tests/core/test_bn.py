"""The from-scratch BatchNorm against torch.nn.BatchNorm1d/2d (outputs, gradients, running stats)."""

import pytest
import torch
from torch import nn

from bnviz.batchnorm.scratch import BatchNormScratch, batch_stats, normalise

CASES = [(2, (32, 7)), (4, (16, 5, 6, 6))]


def pair(dims, channels, momentum=0.1, eps=1e-5):
    torch.manual_seed(0)
    ours = BatchNormScratch(channels, dims, eps=eps, momentum=momentum).double()
    ref = (nn.BatchNorm2d if dims == 4 else nn.BatchNorm1d)(channels, eps=eps, momentum=momentum).double()
    with torch.no_grad():  # non-trivial γ, β
        g, b = torch.randn(channels).double(), torch.randn(channels).double()
        ours.weight.copy_(g), ours.bias.copy_(b), ref.weight.copy_(g), ref.bias.copy_(b)
    return ours, ref


@pytest.mark.parametrize("dims, shape", CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_train_mode_outputs_gradients_and_running_mean_match_pytorch(dims, shape, momentum):
    ours, ref = pair(dims, shape[1], momentum)
    gen = torch.Generator().manual_seed(1)
    m = shape[0] * (shape[2] * shape[3] if dims == 4 else 1)  # values per channel
    for step in range(1, 6):
        x = (torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 2).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        w = torch.randn(shape, generator=gen, dtype=torch.float64)
        y, y_ref = ours(x), ref(x2)
        torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
        (y * w).sum().backward()
        (y_ref * w).sum().backward()
        torch.testing.assert_close(x.grad, x2.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ours.running_mean, ref.running_mean, rtol=1e-12, atol=1e-12)
        # PyTorch's running_var averages the unbiased variance: each EWMA term is m/(m−1) times
        # ours, the initial 1 is shared, so (ref − decay) = m/(m−1)·(ours − decay).
        decay = (1 - momentum) ** step
        torch.testing.assert_close(ref.running_var - decay, m / (m - 1) * (ours.running_var - decay),
                                   rtol=1e-12, atol=1e-12)
        assert not torch.allclose(ref.running_var, ours.running_var)  # the difference is real


@pytest.mark.parametrize("dims, shape", CASES)
def test_eval_mode_uses_running_statistics_like_pytorch(dims, shape):
    ours, ref = pair(dims, shape[1])
    with torch.no_grad():
        mean, var = torch.randn(shape[1]).double(), torch.rand(shape[1]).double() + 0.5
        for layer in (ours, ref):
            layer.running_mean.copy_(mean), layer.running_var.copy_(var)
    ours.eval(), ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.running_mean, mean)  # eval never updates


def test_train_mode_under_no_grad_still_uses_batch_statistics():
    """The notes switch on torch.is_grad_enabled(); we switch on .training, like PyTorch."""
    ours, ref = pair(2, 4)
    x = torch.randn(10, 4, dtype=torch.float64) + 5
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("dims, shape, group", [(2, (24, 5), 8), (4, (12, 3, 4, 4), 4),
                                                (2, (6, 5), 1)])
def test_grouped_batch_statistics_equal_separate_batches(dims, shape, group):
    """batch_stats/normalise with ``group`` = train-mode BN applied to each group on its own."""
    ours, ref = pair(dims, shape[1])
    x = torch.randn(shape, dtype=torch.float64)
    mean, var = batch_stats(x, group)
    y = normalise(x, mean, var, ours.weight, ours.bias, ours.eps, group)
    for g in range(shape[0] // group):
        chunk = x[g * group:(g + 1) * group]
        if group == 1 and dims == 2:  # PyTorch refuses a batch of one; the maths gives β
            expected = ref.bias.expand_as(chunk)
        else:
            expected = ref(chunk)
        torch.testing.assert_close(y[g * group:(g + 1) * group], expected, rtol=1e-10, atol=1e-10)


def test_bad_input_rank_is_refused():
    with pytest.raises(ValueError):
        BatchNormScratch(3, 3)
    with pytest.raises(ValueError):
        BatchNormScratch(3, 2)(torch.zeros(2, 3, 4, 4))
