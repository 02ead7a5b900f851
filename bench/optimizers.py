"""Optimizer-page benchmarks: what the server computes once per setting, course form vs torch.optim."""

from __future__ import annotations

from bench.common import best_of, print_table
from bnviz.optimization import descent, optimizers, path_frames
from bnviz.optimization.surfaces import SURFACES


def core(steps: int = 1000) -> list[dict]:
    s = SURFACES["rosenbrock"]
    fstar = path_frames.lowest_value(s)
    default = {"gd": {"lr": 0.001}, "momentum": {"lr": 0.001, "beta": 0.9}}
    sliders = {name: optimizers.get(name).slider for name in optimizers.OPTIMIZERS}
    every = {name: {"lr": 0.001, **({field: optimizers.get(name).defaults[field]} if field else {})}
             for name, field in sliders.items()}
    n_default = len(path_frames.LRS) * 2 + len(path_frames.BETAS) - 1
    n_every = sum(len(path_frames.LRS) + (len(path_frames.BETAS) - 1 if field else 0) for field in sliders.values())

    t_default = best_of(lambda: path_frames.trajectory_table(s, s.start, 150, default, fstar), repeat=5)
    t_every = best_of(lambda: path_frames.trajectory_table(s, s.start, steps, every, fstar), repeat=2)
    t_frame = best_of(lambda: path_frames.grid_frame(s, fstar), repeat=5)
    t_ours = best_of(lambda: [descent.run(n, s, s.start, steps, lr=0.001) for n in optimizers.OPTIMIZERS], repeat=3)
    t_torch = best_of(lambda: [descent.torch_trajectory(n, s, s.start, steps, lr=0.001) for n in optimizers.OPTIMIZERS],
                      repeat=3)
    return [
        {"measure": f"default view: GD + momentum, every α and β of the sliders ({n_default} paths × 150 steps)",
         "ms": f"{t_default * 1e3:.0f}", "reference": "goal < 100 ms", "ratio": f"{t_default / 0.1:.2f} of goal"},
        {"measure": f"all 7 optimizers, every α and β ({n_every} paths × {steps} steps)", "ms": f"{t_every * 1e3:.0f}",
         "reference": "", "ratio": ""},
        {"measure": "70×70 heatmap frame (what the page draws)", "ms": f"{t_frame * 1e3:.1f}", "reference": "",
         "ratio": ""},
        {"measure": f"course form, 7 optimizers × {steps} steps", "ms": f"{t_ours * 1e3:.0f}",
         "reference": f"torch.optim loop {t_torch * 1e3:.0f} ms", "ratio": f"{t_ours / t_torch:.2f} (ours / torch)"},
    ]


def run() -> None:
    print_table("Optimizers: server compute and course form vs torch.optim (best of runs)", core())
