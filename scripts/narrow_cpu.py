"""Print the environment that runs numpy and torch on their baseline CPU kernels.

numpy picks, per operation, the widest kernel the CPU runs among its dispatch targets (AVX2,
AVX-512, …); torch picks one capability for the process. Results can differ in the last bit
from one width to another, so a test that holds only at one width passes on the machine that
wrote it and fails on another. scripts/test.sh runs tests/core once as the machine is and once
with this environment: every dispatch target this CPU has is disabled (numpy refuses to disable
a feature the CPU lacks or one of its baseline), and torch runs its default kernels.

Prints ``NPY_DISABLE_CPU_FEATURES=A,B ATEN_CPU_CAPABILITY=default`` for ``env``.
"""

import os

try:  # numpy 2
    from numpy._core import _multiarray_umath as umath
except ImportError:  # numpy 1.26
    from numpy.core import _multiarray_umath as umath


def lowered() -> dict[str, str]:
    """The environment; targets this process already runs without (its own environment's) stay off."""
    off = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    have = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name) or name in off]
    return {"NPY_DISABLE_CPU_FEATURES": ",".join(have), "ATEN_CPU_CAPABILITY": "default"}


if __name__ == "__main__":
    print(" ".join(f"{key}={value}" for key, value in lowered().items()))
