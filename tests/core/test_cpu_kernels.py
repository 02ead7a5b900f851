"""The lowered pass of scripts/test.sh really runs numpy and torch on other kernels."""

import os
import subprocess
import sys

from scripts.narrow_cpu import lowered, umath


def test_the_environment_sets_the_kernels_it_names():
    """In a process started with scripts/narrow_cpu.py's environment, every dispatch target it
    names is off and torch reports its default capability (else the second pass would silently
    repeat the first)."""
    env = {**os.environ, **lowered()}
    code = ("from scripts.narrow_cpu import umath; import torch; "
            "print(sorted(k for k in umath.__cpu_dispatch__ if umath.__cpu_features__.get(k))); "
            "print(torch.backends.cpu.get_cpu_capability())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__)))).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "DEFAULT"


def test_this_process_runs_at_the_width_its_environment_says():
    disabled = [name for name in os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split() if name]
    assert not any(umath.__cpu_features__.get(name) for name in disabled)
    if os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        import torch

        assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
