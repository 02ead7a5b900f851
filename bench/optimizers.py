"""Optimizer-page benchmarks: server compute, course form vs torch.optim, slider-to-redraw in Chromium."""

from __future__ import annotations

from bench.common import best_of, print_table, redraw_row, slider_to_redraw
from bnviz import optimizers
from bnviz.opt_frames import grid_frame
from bnviz.surfaces import SURFACES, grid

# 8 runs: all seven optimizers, plus Adam without bias correction.
RUNS = [(name, {}) for name in optimizers.OPTIMIZERS] + [("adam", {"bias_correction": False})]


def core(steps: int = 1000) -> list[dict]:
    s = SURFACES["rosenbrock"]
    hp = {"lr": 0.001}

    def server():
        for name, extra in RUNS:
            optimizers.run(name, s, s.start, steps, **{**hp, **extra})
        grid(s, 200)

    t_server = best_of(server, repeat=5)
    t_grid = best_of(lambda: grid(s, 200), repeat=5)
    t_frame = best_of(lambda: grid_frame(s, 70), repeat=5)
    t_ours = best_of(lambda: [optimizers.run(n, s, s.start, steps, lr=0.001) for n in optimizers.OPTIMIZERS], repeat=3)
    t_torch = best_of(lambda: [optimizers.torch_trajectory(n, s, s.start, steps, lr=0.001) for n in optimizers.OPTIMIZERS], repeat=3)
    return [
        {"measure": f"8 optimizer runs × {steps} steps + 200×200 grid (server)", "ms": f"{t_server * 1e3:.0f}",
         "reference": "goal < 100 ms", "ratio": f"{t_server / 0.1:.2f} of goal"},
        {"measure": "200×200 surface grid alone", "ms": f"{t_grid * 1e3:.1f}", "reference": "", "ratio": ""},
        {"measure": "70×70 heatmap frame (what the page draws)", "ms": f"{t_frame * 1e3:.1f}", "reference": "",
         "ratio": ""},
        {"measure": f"course form, 7 optimizers × {steps} steps", "ms": f"{t_ours * 1e3:.0f}",
         "reference": f"torch.optim loop {t_torch * 1e3:.0f} ms", "ratio": f"{t_ours / t_torch:.2f} (ours / torch)"},
    ]


def browser(trials: int = 10) -> list[dict]:
    """Median time from an α-slider key press to the charts being redrawn (default view)."""
    times = slider_to_redraw("optimizers", "Optimizers on a loss surface", ["ArrowLeft", "ArrowRight"], trials)
    return [redraw_row("α slider → charts redrawn (valley, GD + momentum, 150 steps)", times, "< 300 ms")]


def run() -> None:
    print_table("Optimizers: server compute and course form vs torch.optim (best of runs)", core())
    print_table("Optimizer page in Chromium", browser())
