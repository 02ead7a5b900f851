"""Hyper-parameter search on the right scale (the course notes' tuning chapter).

The objective is cheap and exact: an optimizer of :mod:`bnviz.optimization.optimizers` run for ``steps`` steps
from a surface's start, scored by how far it still is from the lowest loss,

    score(α, β) = log₁₀( f(θ_N) − f* )        (lower is better; NaN where the run diverged),

so the whole landscape of the score over log α × log(1 − β) can be drawn and every search
strategy compared with the true best:

* the notes' grid, α ∈ {0.1, 0.01, 0.001} × β ∈ {0.8, 0.88, 0.9}: 9 runs, but only 3 distinct α;
* random search with the same budget in the same region: 9 distinct α and 9 distinct β;
* where samples land: β uniform in [0.9, 0.999] puts nine in ten below 0.99, while 1 − β uniform
  on a log scale spreads them evenly over the effective windows 1/(1 − β) from 10 to 1000;
* coarse to fine: search a box, shrink it around the best point found, search again;
* when random search wins (:func:`regimes`): over many seeds, the grid against random points
  where both hyper-parameters matter (α and β) and where one barely does (α and Adam's ε, the
  notes' example): there the grid's 9 runs try only 3 distinct values of the one that matters.

Everything is computed in one batch of runs (:func:`bnviz.optimization.optimizers.run_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bnviz.optimization import descent, optimizers
from bnviz.optimization.path_frames import lowest_value
from bnviz.optimization.surfaces import Surface

LATEX = {
    "score": r"\text{score}(\alpha, \beta) = \log_{10}\big(f(\theta_N) - f^*\big)",
    "log_sample": r"r \sim U[\log_{10} a,\ \log_{10} b],\qquad \alpha = 10^{r}",
    "beta_sample": r"r \sim U[-3,\ -1],\qquad 1 - \beta = 10^{r},\qquad \beta \in [0.9,\ 0.999]",
}
ALPHA_RANGE = (1e-4, 10.0)  # α searched over five orders of magnitude
ONE_MINUS_BETA_RANGE = (1e-3, 0.5)  # β from 0.5 to 0.999, on the scale of 1 − β
NOTES_GRID = ((0.1, 0.01, 0.001), (0.8, 0.88, 0.9))  # α values × β values of the notes' example
FLOOR = -12.0  # the score of a run that reached f* to 12 digits (float64 leaves nothing below)
OPTIMIZERS = ("momentum", "adam")


def scores(surface: Surface, optimizer: str, steps: int, alphas, betas) -> np.ndarray:
    """The score of each (α, β) pair (equal-length sequences), NaN where the run diverged."""
    slider = optimizers.get(optimizer).slider
    return _score_runs(surface, optimizer, steps, alphas, **{slider: np.asarray(betas, float)})


def _score_runs(surface: Surface, optimizer: str, steps: int, alphas, **hp) -> np.ndarray:
    """The score of one run per α (and per row of any batched ``hp``), NaN where it diverged."""
    batch = descent.run_batch(optimizer, surface, surface.start, steps, lr=np.asarray(alphas, float), **hp)
    last = batch.paths[:, -1]
    with np.errstate(all="ignore"):
        gap = surface.f(last[:, 0], last[:, 1]) - lowest_value(surface)
        out = np.log10(np.maximum(gap, 10.0 ** FLOOR))
    out[[d is not None for d in batch.diverged_at]] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def landscape(surface: Surface, optimizer: str, steps: int, n: int = 41) -> pd.DataFrame:
    """The score on an ``n`` × ``n`` grid, log-spaced in α and in 1 − β (cells for a heatmap):
    :func:`regime_landscape` over the whole range, its y read as β (ld = log₁₀(1 − β))."""
    whole = Regime("whole", optimizer, optimizers.get(optimizer).slider, (ALPHA_RANGE, ONE_MINUS_BETA_RANGE), ())
    cells = regime_landscape(surface, whole, steps, n)
    return cells.rename(columns={"ly": "ld", "ly0": "ld0", "ly1": "ld1"}).assign(beta=1 - cells.y).drop(columns="y")


def grid_points() -> tuple[np.ndarray, np.ndarray]:
    """The notes' 3 × 3 grid as 9 (α, β) pairs."""
    a, b = np.meshgrid(*NOTES_GRID, indexing="ij")
    return a.ravel(), b.ravel()


def _log_uniform(rng: np.random.Generator, n: int, box) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs, each coordinate uniform on a log scale within ``box`` ((x lo, x hi), (y lo, y hi))."""
    (alo, ahi), (dlo, dhi) = box
    la = rng.uniform(np.log10(alo), np.log10(ahi), n)
    ld = rng.uniform(np.log10(dlo), np.log10(dhi), n)
    return 10.0 ** la, 10.0 ** ld


def sample(rng: np.random.Generator, n: int, box=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (α, β) pairs, α and 1 − β each uniform on a log scale within ``box``
    ((α lo, α hi), (1−β lo, 1−β hi)); the whole range by default."""
    alphas, gaps = _log_uniform(rng, n, (ALPHA_RANGE, ONE_MINUS_BETA_RANGE) if box is None else box)
    return alphas, 1 - gaps


def beta_samples(seed: int, n: int, lo: float = 0.9, hi: float = 0.999) -> pd.DataFrame:
    """``n`` β in [lo, hi] drawn both ways — uniform in β, and uniform in log₁₀(1 − β) — with the
    effective window 1/(1 − β) of each."""
    rng = np.random.default_rng(seed)
    linear = rng.uniform(lo, hi, n)
    log = 1 - 10.0 ** rng.uniform(np.log10(1 - hi), np.log10(1 - lo), n)
    rows = [pd.DataFrame({"scale": name, "beta": b, "window": 1 / (1 - b)})
            for name, b in (("linear", linear), ("log", log))]
    return pd.concat(rows, ignore_index=True)


def grid_box() -> tuple[tuple[float, float], tuple[float, float]]:
    """The region the notes' grid covers: α from 0.001 to 0.1, 1 − β from 0.1 to 0.2."""
    (alphas, betas) = NOTES_GRID
    return (min(alphas), max(alphas)), (1 - max(betas), 1 - min(betas))


def coarse_to_fine(surface: Surface, optimizer: str, steps: int, budget: int, rounds: int, seeds,
                   shrink: float = 0.3) -> pd.DataFrame:
    """For each seed, ``rounds`` random searches of ``budget`` points: the first over the whole
    range, each next one in a box around the best point that seed has found so far, ``shrink``
    times as wide (in decades) and kept inside the range. One batch of runs per round.
    Rows: seed, round, alpha, beta, score and the round's box (in decades)."""
    full = np.log10(np.array([ALPHA_RANGE, ONE_MINUS_BETA_RANGE]))  # [[α lo, α hi], [1−β lo, 1−β hi]]
    rngs = {seed: np.random.default_rng(10_000 + seed) for seed in seeds}
    boxes = {seed: full.copy() for seed in seeds}
    parts = []
    for r in range(rounds):
        drawn = {seed: sample(rngs[seed], budget, 10.0 ** boxes[seed]) for seed in seeds}
        a = np.concatenate([drawn[seed][0] for seed in seeds])
        b = np.concatenate([drawn[seed][1] for seed in seeds])
        part = pd.DataFrame({"seed": np.repeat(list(seeds), budget), "round": r + 1, "alpha": a, "beta": b,
                             "score": scores(surface, optimizer, steps, a, b)})
        part[["box_a0", "box_a1", "box_d0", "box_d1"]] = np.stack([boxes[seed].ravel() for seed in part.seed])
        parts.append(part)
        found = pd.concat(parts, ignore_index=True).dropna(subset=["score"])
        for seed, g in found.groupby("seed"):
            best = g.loc[g.score.idxmin()]
            centre = np.log10([best.alpha, 1 - best.beta])
            half = (boxes[seed][:, 1] - boxes[seed][:, 0]) * shrink / 2
            lo = np.clip(centre - half, full[:, 0], full[:, 1] - 2 * half)
            boxes[seed] = np.stack([lo, lo + 2 * half], axis=1)
    return pd.concat(parts, ignore_index=True)


def strategies(surface: Surface, optimizer: str, steps: int, budget: int, seeds: int, rounds: int) -> pd.DataFrame:
    """Every point each strategy tries, for every seed the page offers: the notes' grid (the
    same for every seed); random search with the same budget in the same region (:func:`grid_box`),
    α and 1 − β on log scales; and coarse to fine over the whole range (``rounds`` rounds of
    ``budget`` points). Rows: strategy, seed, round, alpha, beta, score, la (log₁₀ α), ld (log₁₀(1 − β))."""
    ga, gb = grid_points()
    drawn = [sample(np.random.default_rng(seed), len(ga), grid_box()) for seed in range(seeds)]
    ra, rb = np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn])
    out = pd.concat([
        pd.DataFrame({"strategy": "grid", "seed": np.repeat(range(seeds), len(ga)), "round": 1,
                      "alpha": np.tile(ga, seeds), "beta": np.tile(gb, seeds),
                      "score": np.tile(scores(surface, optimizer, steps, ga, gb), seeds)}),
        pd.DataFrame({"strategy": "random", "seed": np.repeat(range(seeds), len(ga)), "round": 1, "alpha": ra,
                      "beta": rb, "score": scores(surface, optimizer, steps, ra, rb)}),
        coarse_to_fine(surface, optimizer, steps, budget, rounds, range(seeds)).assign(strategy="fine"),
    ], ignore_index=True)
    return out.assign(la=np.log10(out.alpha), ld=np.log10(1 - out.beta))


def summary(points: pd.DataFrame, true_best: float) -> pd.DataFrame:
    """Per strategy and seed: runs, distinct α and β tried, the best score found and how far
    it is from the true best (in decades of the gap), and where it was found."""
    rows = []
    for (strategy, seed), g in points.groupby(["strategy", "seed"], sort=False):
        ok = g.dropna(subset=["score"])
        top = ok.loc[ok.score.idxmin()] if not ok.empty else None
        rows.append({"strategy": strategy, "seed": seed, "runs": len(g), "distinct_alpha": g.alpha.nunique(),
                     "distinct_beta": g.beta.nunique(), "diverged": int(g.score.isna().sum()),
                     "best": np.nan if top is None else top.score,
                     "behind": np.nan if top is None else top.score - true_best,
                     "best_alpha": np.nan if top is None else top.alpha,
                     "best_beta": np.nan if top is None else top.beta})
    return pd.DataFrame(rows)


def true_best(cells: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """The lowest score on the landscape or among every point tried, as one row (alpha, beta,
    score, la, ld); no row when every run diverged."""
    pool = pd.concat([cells[["alpha", "beta", "score"]], points[["alpha", "beta", "score"]]],
                     ignore_index=True).dropna()
    top = pool.nsmallest(1, "score")
    return top.assign(la=np.log10(top.alpha), ld=np.log10(1 - top.beta)).reset_index(drop=True)


def better_than_grid(table: pd.DataFrame) -> dict:
    """For each other strategy of a :func:`summary`, on how many seeds it found a better score
    than the notes' grid."""
    by = table.pivot(index="seed", columns="strategy", values="best")
    return {s: int((by[s] < by["grid"]).sum()) for s in by.columns if s != "grid"}


def share_below(draws: pd.DataFrame, beta: float = 0.99) -> dict:
    """The share of each way's β samples (:func:`beta_samples`) that fall below ``beta``."""
    return {scale: float((g.beta < beta).mean()) for scale, g in draws.groupby("scale")}



# The notes' example of a hyper-parameter that barely matters: Adam's ε next to α. A 3 × 3 grid
# over this box (ends and middle of each axis, as the notes' grid) against 9 random points in it.
EPS_BOX = ((0.01, 10.0), (1e-8, 1e-4))  # (α lo, α hi), (ε lo, ε hi)
REGIME_SEEDS = 200
TIE = 0.01  # decades: two best scores closer than this are as good as each other


@dataclass(frozen=True)
class Regime:
    """A landscape over α and one more hyper-parameter ``second`` of ``optimizer``. The second
    axis is stored as y: 1 − β for a β (on its log scale), the value itself otherwise (ε)."""

    name: str
    optimizer: str
    second: str
    box: tuple  # ((α lo, α hi), (y lo, y hi))
    grid: tuple  # (3 values of α, 3 values of y)

    def param(self, y):
        return 1 - np.asarray(y) if self.second.startswith("beta") else np.asarray(y)


def regimes(optimizer: str) -> tuple[Regime, Regime]:
    """The page's landscape (α and the optimizer's β, the notes' grid and its region), and α with
    Adam's ε, where ε barely matters."""
    alphas, betas = NOTES_GRID
    both = Regime("both", optimizer, optimizers.get(optimizer).slider, grid_box(),
                  (alphas, tuple(1 - b for b in betas)))
    (alo, ahi), (elo, ehi) = EPS_BOX
    eps = Regime("eps", "adam", "eps", EPS_BOX, (tuple(np.geomspace(alo, ahi, 3)), tuple(np.geomspace(elo, ehi, 3))))
    return both, eps


def _regime_scores(surface: Surface, regime: Regime, steps: int, alphas, ys) -> np.ndarray:
    return _score_runs(surface, regime.optimizer, steps, alphas, **{regime.second: regime.param(ys)})


def grid_vs_random(surface: Surface, regime: Regime, steps: int, seeds: int = REGIME_SEEDS) -> pd.DataFrame:
    """Every point of the regime's 3 × 3 grid (seed −1) and of 9 random points per seed, α and
    y uniform on log scales in the regime's box (seed s draws as :func:`strategies` does, so the
    page's seeds are the first of these). Rows: strategy, seed, alpha, y, score, la, ly."""
    ga, gy = (v.ravel() for v in np.meshgrid(*regime.grid, indexing="ij"))
    drawn = [_log_uniform(np.random.default_rng(seed), len(ga), regime.box) for seed in range(seeds)]
    ra, ry = np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn])
    alphas, ys = np.concatenate([ga, ra]), np.concatenate([gy, ry])
    out = pd.DataFrame({"strategy": ["grid"] * len(ga) + ["random"] * len(ra),
                        "seed": np.concatenate([np.full(len(ga), -1), np.repeat(np.arange(seeds), len(ga))]),
                        "alpha": alphas, "y": ys, "score": _regime_scores(surface, regime, steps, alphas, ys)})
    return out.assign(la=np.log10(out.alpha), ly=np.log10(out.y))


def tally(points: pd.DataFrame) -> dict:
    """Over the seeds of :func:`grid_vs_random`: on how many the best of the random points beat
    the grid's best by more than ``TIE`` decades (``random``), fell behind it (``grid``) or
    neither (``tie``); a search whose every run diverged counts as the worst."""
    best = points.assign(score=points.score.fillna(np.inf))
    grid = best[best.strategy == "grid"].score.min()
    random = best[best.strategy == "random"].groupby("seed").score.min()
    diff = random - grid
    both_lost = np.isinf(random) & np.isinf(grid)
    won, lost = (diff < -TIE) & ~both_lost, (diff > TIE) & ~both_lost
    return {"random": int(won.sum()), "grid": int(lost.sum()), "tie": int(len(diff) - won.sum() - lost.sum()),
            "seeds": int(len(diff))}


def regime_verdict(both: dict, eps: dict) -> str:
    """Which sentence the numbers allow, from two :func:`tally` results: ``ties`` when most seeds
    end as good where ε barely matters (the surface is too easy in N steps to tell the searches
    apart); ``holds`` when random search wins on most of them, and more often than where both
    matter; ``both_win`` when it wins on most seeds of both; ``not_here`` otherwise."""
    if eps["tie"] > eps["seeds"] / 2:
        return "ties"
    if eps["random"] <= eps["seeds"] / 2:
        return "not_here"
    return "holds" if eps["random"] / eps["seeds"] > both["random"] / both["seeds"] else "both_win"


def regime_landscape(surface: Surface, regime: Regime, steps: int, n: int = 31) -> pd.DataFrame:
    """The score on an ``n`` × ``n`` grid over the regime's box, log-spaced on both axes (cells for
    a heatmap: la0/la1 and ly0/ly1 are their edges in decades)."""
    (alo, ahi), (ylo, yhi) = regime.box
    la, ly = (v.ravel() for v in np.meshgrid(np.linspace(np.log10(alo), np.log10(ahi), n),
                                               np.linspace(np.log10(ylo), np.log10(yhi), n), indexing="ij"))
    half_a = (np.log10(ahi) - np.log10(alo)) / (n - 1) / 2
    half_y = (np.log10(yhi) - np.log10(ylo)) / (n - 1) / 2
    alphas, ys = 10.0 ** la, 10.0 ** ly
    return pd.DataFrame({"alpha": alphas, "y": ys, "la": la, "ly": ly, "la0": la - half_a, "la1": la + half_a,
                         "ly0": ly - half_y, "ly1": ly + half_y,
                         "score": _regime_scores(surface, regime, steps, alphas, ys)})
