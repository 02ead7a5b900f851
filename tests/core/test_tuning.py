"""Hyper-parameter search (bnviz.tuning.search): the score against torch.optim, the strategies' sampling,
coarse to fine."""

import numpy as np
import pandas as pd
import pytest

from bnviz.optimization import descent
from bnviz.optimization.path_frames import lowest_value
from bnviz.optimization.surfaces import SURFACES
from bnviz.tuning import search

ROSEN = SURFACES["rosenbrock"]


def torch_score(name, surface, steps, alpha, beta):
    """The score computed from a torch.optim run alone (the outside reference)."""
    field = "beta" if name == "momentum" else "beta1"
    path = descent.torch_trajectory(name, surface, surface.start, steps, lr=alpha, **{field: beta})
    gap = surface.f(*path[-1]) - lowest_value(surface)
    return np.log10(max(gap, 10.0 ** search.FLOOR))


@pytest.mark.parametrize("name, alpha, beta", [("momentum", 0.02, 0.95), ("momentum", 0.003, 0.8),
                                               ("adam", 0.05, 0.9), ("adam", 0.5, 0.99)])
def test_the_score_of_a_batch_is_the_score_of_torch_optim_alone(name, alpha, beta):
    # Many pairs in one batch; each must score as torch.optim running that pair by itself.
    alphas = np.array([alpha, 0.01, 0.1, alpha])
    betas = np.array([beta, 0.9, 0.5, beta])
    got = search.scores(ROSEN, name, 200, alphas, betas)
    want = torch_score(name, ROSEN, 200, alpha, beta)
    assert got[0] == pytest.approx(want, abs=1e-6) and got[3] == got[0]


def test_a_diverged_run_has_no_score():
    got = search.scores(ROSEN, "momentum", 300, [10.0, 0.02], [0.9, 0.95])
    assert np.isnan(got[0]) and np.isfinite(got[1])
    assert descent.run("momentum", ROSEN, ROSEN.start, 300, lr=10.0, beta=0.9).diverged_at is not None


def test_the_landscape_covers_both_ranges_on_log_scales():
    cells = search.landscape(ROSEN, "momentum", 100, n=21)
    assert len(cells) == 21 * 21
    assert cells.la.min() == pytest.approx(-4) and cells.la.max() == pytest.approx(1)
    assert cells.ld.min() == pytest.approx(-3) and cells.ld.max() == pytest.approx(np.log10(0.5))
    steps = np.diff(np.unique(cells.la.round(9)))
    assert np.allclose(steps, steps[0])  # evenly spaced in decades
    one = cells.iloc[123]
    assert one.score == pytest.approx(search.scores(ROSEN, "momentum", 100, [one.alpha], [one.beta])[0], nan_ok=True)


def test_the_notes_grid_has_three_alphas_and_random_search_nine():
    a, b = search.grid_points()
    assert sorted(set(a)) == [0.001, 0.01, 0.1] and sorted(set(b)) == [0.8, 0.88, 0.9] and len(a) == 9
    points = search.strategies(ROSEN, "momentum", 100, 9, seeds=3, rounds=2)
    table = search.summary(points, points.score.min())
    grid, rnd = table[table.strategy == "grid"], table[table.strategy == "random"]
    assert (grid.distinct_alpha == 3).all() and (rnd.distinct_alpha == 9).all() and (rnd.distinct_beta == 9).all()
    (alo, ahi), (dlo, dhi) = search.grid_box()  # the same region as the grid, for a fair budget
    r = points[points.strategy == "random"]
    assert r.alpha.between(alo, ahi).all() and (1 - r.beta).between(dlo, dhi).all()
    assert (table.behind.dropna() >= 0).all()
    again = search.strategies(ROSEN, "momentum", 100, 9, seeds=3, rounds=2)
    assert again.equals(points)  # seeded


def test_log_uniform_samples_fill_every_decade_alike():
    a, b = search.sample(np.random.default_rng(0), 20_000)
    per_decade = np.histogram(np.log10(a), bins=5, range=(-4, 1))[0] / len(a)
    assert np.allclose(per_decade, 0.2, atol=0.015)
    d = np.log10(1 - b)
    assert d.min() >= -3 and d.max() <= np.log10(0.5)
    # A linear draw would put 90 % of α in the top decade; this one puts a fifth there.
    assert (a > 1).mean() == pytest.approx(0.2, abs=0.015)


def test_beta_drawn_uniformly_lands_mostly_below_0_99():
    draws = search.beta_samples(0, 20_000)
    linear, log = draws[draws.scale == "linear"], draws[draws.scale == "log"]
    assert (linear.beta < 0.99).mean() == pytest.approx(0.09 / 0.099, abs=0.01)  # 91 %
    assert (log.beta < 0.99).mean() == pytest.approx(0.5, abs=0.01)  # half: one decade of two
    assert draws.window.between(10, 1000).all()
    np.testing.assert_allclose(draws.window, 1 / (1 - draws.beta))


def test_coarse_to_fine_shrinks_around_the_best_and_never_gets_worse():
    points = search.coarse_to_fine(ROSEN, "momentum", 300, budget=9, rounds=3, seeds=range(4))
    for _seed, g in points.groupby("seed"):
        best_so_far = [g[g["round"] <= r].score.min() for r in (1, 2, 3)]
        assert best_so_far[0] >= best_so_far[1] >= best_so_far[2]
        boxes = g.groupby("round")[["box_a0", "box_a1", "box_d0", "box_d1"]].first()
        widths = (boxes.box_a1 - boxes.box_a0).to_numpy()
        np.testing.assert_allclose(widths[1:] / widths[:-1], 0.3)
        assert boxes.box_a0.min() >= -4 - 1e-12 and boxes.box_a1.max() <= 1 + 1e-12
        for r in (2, 3):  # each round searches around the best point the seed had found
            top = g[g["round"] < r].dropna(subset=["score"]).sort_values("score").iloc[0]
            box = boxes.loc[r]
            assert box.box_a0 <= np.log10(top.alpha) <= box.box_a1
            assert box.box_d0 <= np.log10(1 - top.beta) <= box.box_d1
        inside = g[g["round"] == 3]
        assert np.log10(inside.alpha).between(boxes.loc[3].box_a0, boxes.loc[3].box_a1).all()


def test_the_alpha_beta_regime_is_the_pages_grid_and_random_search():
    """The α–β regime counts over the same grid and the same random points the page's table shows
    for its first seeds, scored alike."""
    both, _ = search.regimes("momentum")
    points = search.grid_vs_random(ROSEN, both, 300, seeds=4)
    page = search.strategies(ROSEN, "momentum", 300, 9, seeds=4, rounds=1)
    grid = points[points.strategy == "grid"]
    assert sorted(np.round(grid.alpha, 12)) == sorted(np.round(page[page.strategy == "grid"].alpha[:9], 12))
    assert np.allclose(sorted(1 - grid.y), sorted(page[page.strategy == "grid"].beta[:9]))
    mine = points[points.strategy == "random"].reset_index(drop=True)
    theirs = page[page.strategy == "random"].reset_index(drop=True)
    np.testing.assert_array_equal(mine.alpha, theirs.alpha)
    np.testing.assert_allclose(1 - mine.y, theirs.beta, rtol=0, atol=1e-15)
    np.testing.assert_allclose(mine.score, theirs.score, rtol=1e-9, atol=1e-9)


def test_epsilon_barely_matters_and_the_grid_tries_three_alphas():
    _, eps = search.regimes("momentum")
    cells = search.regime_landscape(ROSEN, eps, 300, n=11)
    by_alpha = cells.dropna().groupby("la").score
    assert (by_alpha.max() - by_alpha.min()).max() < 0.05  # along ε the score moves by < 0.05 decades
    assert cells.groupby("ly").score.apply(lambda s: s.max() - s.min()).min() > 1  # along α by decades
    points = search.grid_vs_random(ROSEN, eps, 300, seeds=3)
    grid, random = points[points.strategy == "grid"], points[points.strategy == "random"]
    assert len(grid) == 9 and grid.alpha.nunique() == 3 and grid.y.nunique() == 3
    assert all(g.alpha.nunique() == 9 for _, g in random.groupby("seed"))
    (alo, ahi), (elo, ehi) = search.EPS_BOX
    assert random.alpha.between(alo, ahi).all() and random.y.between(elo, ehi).all()


def test_random_search_wins_where_epsilon_barely_matters_because_it_tries_more_alphas():
    """The notes' argument, counted over 200 seeds on Rosenbrock: where ε barely matters, 9 random
    points beat the grid on most seeds, and more often than where α and β both matter. Snapped to
    the grid's 3 values of α, the same random points lose that advantage: it is the distinct α."""
    both, eps = search.regimes("momentum")
    eps_points = search.grid_vs_random(ROSEN, eps, 300)
    counts = {"both": search.tally(search.grid_vs_random(ROSEN, both, 300)), "eps": search.tally(eps_points)}
    assert counts["eps"]["seeds"] == search.REGIME_SEEDS
    assert counts["eps"]["random"] > 0.8 * search.REGIME_SEEDS
    assert counts["eps"]["random"] > counts["both"]["random"]
    assert search.regime_verdict(counts["both"], counts["eps"]) == "holds"
    grid_alphas = np.array(eps.grid[0])
    random = eps_points[eps_points.strategy == "random"]
    nearest = grid_alphas[np.abs(np.log10(random.alpha.to_numpy())[:, None] - np.log10(grid_alphas)).argmin(1)]
    snapped = pd.concat([eps_points[eps_points.strategy == "grid"], random.assign(
        alpha=nearest, score=search._regime_scores(ROSEN, eps, 300, nearest, random.y))])
    assert search.tally(snapped)["random"] < 0.1 * search.REGIME_SEEDS


def test_the_tally_and_the_verdict_follow_the_counts():
    points = pd.DataFrame({"strategy": ["grid"] * 2 + ["random"] * 6, "seed": [-1, -1, 0, 0, 1, 1, 2, 2],
                           "score": [-2.0, np.nan, -3.0, 1.0, -2.005, np.nan, np.nan, -1.0]})
    assert search.tally(points) == {"random": 1, "grid": 1, "tie": 1, "seeds": 3}
    every_run_diverged = points.assign(score=np.nan)
    assert search.tally(every_run_diverged) == {"random": 0, "grid": 0, "tie": 3, "seeds": 3}

    def counts(random, tie, seeds=100):
        return {"random": random, "tie": tie, "grid": seeds - random - tie, "seeds": seeds}

    assert search.regime_verdict(counts(50, 0), counts(90, 0)) == "holds"
    assert search.regime_verdict(counts(95, 0), counts(90, 0)) == "both_win"
    assert search.regime_verdict(counts(50, 0), counts(10, 80)) == "ties"
    assert search.regime_verdict(counts(50, 0), counts(40, 0)) == "not_here"
