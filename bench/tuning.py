"""``python -m bench tuning``: the tuning page's server compute, batched vs one run after another."""

from __future__ import annotations

from bench.common import best_of, print_table
from bnviz.optimization import descent
from bnviz.optimization.surfaces import SURFACES
from bnviz.tuning import search


def core(steps: int = 300, n: int = 41) -> list[dict]:
    s = SURFACES["rosenbrock"]
    t_batch = best_of(lambda: search.landscape(s, "momentum", steps, n), repeat=3)
    cells = search.landscape(s, "momentum", steps, n)
    sample = cells.sample(100, random_state=0)  # one run after another: 100 of the cells, scaled up
    t_alone = best_of(lambda: [descent.run("momentum", s, s.start, steps, lr=a, beta=b)
                               for a, b in zip(sample.alpha, sample.beta)], repeat=1) * len(cells) / len(sample)
    t_page = best_of(lambda: (search.landscape(s, "momentum", steps, n),
                              search.strategies(s, "momentum", steps, 9, 20, 3)), repeat=3)
    points = search.strategies(s, "momentum", steps, 9, 20, 3)
    best = float(search.true_best(cells, points).score.iloc[0])
    by = search.summary(points, best).groupby("strategy").best.median()
    return [
        {"measure": f"landscape, {n}×{n} (α, β) × {steps} steps, one batch", "ms": f"{t_batch * 1e3:.0f}",
         "reference": f"one run after another ≈ {t_alone * 1e3:.0f} ms", "ratio": f"{t_batch / t_alone:.3f}"},
        {"measure": "the page's first computation: landscape + 3 strategies × 20 seeds", "ms": f"{t_page * 1e3:.0f}",
         "reference": "", "ratio": ""},
        {"measure": "median best score over 20 seeds (grid / random / coarse to fine)",
         "ms": f"{by['grid']:.2f} / {by['random']:.2f} / {by['fine']:.2f}",
         "reference": f"true best {best:.2f}", "ratio": ""},
    ]


def run() -> None:
    print_table("Tuning: server compute (momentum on Rosenbrock, best of runs)", core())
