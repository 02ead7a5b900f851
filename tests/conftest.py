"""Shared by every level: the header says at which vector width numpy and torch run (the README
test command runs tests/core twice: as the machine is, then on baseline kernels)."""

from scripts.narrow_cpu import umath


def pytest_report_header(config):
    import torch

    widest = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    return (f"numpy kernels: baseline {'+'.join(umath.__cpu_baseline__) or '-'}, "
            f"dispatch {'+'.join(widest) or 'none'}; torch: {torch.backends.cpu.get_cpu_capability()}")
