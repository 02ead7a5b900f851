"""Two parts of the wide networks' speed on a CPU, each checked against what it replaces:
bnviz.training.pooling (LeNet's 2×2 mean, against ``nn.AvgPool2d`` and numerical gradients) and
bnviz.training.allocator (glibc keeping a step's freed memory: page faults counted in a fresh
process, with and without it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from bnviz.training import pooling

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shape", [(64, 18, 24, 24), (5, 48, 8, 8), (1, 1, 2, 2)])
def test_the_mean_pool_is_avg_pool_forward_and_backward(shape):
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    ours, theirs = pooling.mean_pool2(x), nn.AvgPool2d(2)(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)  # another order of the sum: a few ulps
    grad = torch.randn_like(ours)
    mine, = torch.autograd.grad(ours, x, grad)
    ref, = torch.autograd.grad(theirs, x, grad)
    # ¼ of the output's gradient in each of the four places (two code paths: a tolerance, not
    # equality; a gradient without the ¼, or in the wrong places, is off by ~1)
    torch.testing.assert_close(mine, ref, rtol=1e-12, atol=1e-12)
    x32 = x.detach().float()
    torch.testing.assert_close(pooling.mean_pool2(x32), nn.AvgPool2d(2)(x32), rtol=1e-6, atol=1e-6)


def test_the_mean_pools_gradient_is_the_numerical_one():
    x = torch.randn(2, 3, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pooling.mean_pool2, (x,))


def test_a_mean_pool_without_the_quarter_in_its_gradient_is_caught():
    class Broken(pooling.MeanPool2):
        @staticmethod
        def backward(ctx, grad):
            return pooling.MeanPool2.backward(ctx, grad) * 4

    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert not torch.autograd.gradcheck(Broken.apply, (x,), raise_exception=False)


# A class of 6 in networks of 2 on two threads, as on a CPU by default: page faults a step after
# two warm-up steps, and whether the thresholds were set.
FAULTS = """
import resource, torch
from bnviz.training import wide
torch.manual_seed(0)
x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
members = [wide.Member(0.05 * (k + 1), batch_norm=k % 2 == 0, seed=k) for k in range(6)]
net = wide.Ensemble(members, width=2, threads=2)
for step in (1, 2):
    net.step(x, y, step)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for step in range(3, 9):
    net.step(x, y, step)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 6)
"""


def faults_a_step(**env) -> float:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**base, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2", **env}, check=True)
    return float(out.stdout.split()[-1])


def test_a_step_does_not_fault_its_memory_in_again():
    kept = faults_a_step()
    given_back = faults_a_step(MALLOC_TRIM_THRESHOLD_="131072", MALLOC_MMAP_THRESHOLD_="131072")  # glibc's defaults
    assert kept < 1_500, kept  # 0–280 here: what the heaps still grow by
    assert given_back > 10 * max(kept, 150), (kept, given_back)  # ~15,000 here: the activations, page by page


def test_the_thresholds_are_set_unless_the_environment_sets_them(monkeypatch):
    from bnviz.training import allocator

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert allocator.keep_freed_memory()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not allocator.keep_freed_memory()
