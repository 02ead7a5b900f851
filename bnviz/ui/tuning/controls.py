"""The tuning page's controls (the sidebar's objective, the live seed and rounds) and the cached
tables its charts draw from."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bnviz.optimization.surfaces import SURFACES
from bnviz.tuning import search
from bnviz.ui import browser_controls, urlstate
from bnviz.ui.i18n import t
from bnviz.ui.tuning.charts import IDS

SURFACE_KEYS = ("rosenbrock", "valley", "beale")
STEPS = (100, 300, 1000)
SEEDS = 20  # the seed slider's positions: every one is computed once, the browser picks
ROUNDS = (1, 2, 3)
BUDGET = 9  # the notes' 3 × 3 grid: every strategy gets as many runs per round
CONTROLS = (browser_controls.Control(IDS["seed"], "range", key="tseed", options=tuple(range(SEEDS))),
            browser_controls.Control(IDS["rounds"], "range", key="trounds", options=ROUNDS))


# One click shows an example of the notes: link keys and their values; the rest goes back to its default.
PRESETS = {
    "grid": {"tseed": 0, "trounds": 1},  # the notes' 3 × 3 grid against 9 random points: random wins
    "unlucky": {"tseed": 2, "trounds": 1},  # … and a seed where it loses: random is no guarantee
    "fine": {"tseed": 16, "trounds": 3},  # coarse to fine lands on the true best
    "adam": {"topt": "adam"},
    "band": {"sw_act": "relu"},  # the sweep's defaults: BatchNorm's wider band of α
    "sigmoid": {"sw_act": "sigmoid"},  # the notes' LeNet: trains or not
    "quick": {"sw_subset": 3_000, "sw_epochs": 1, "sw_k": 5},  # a sweep that fits a lesson's pause
    "wide": {"sw_lo": 0.001, "sw_hi": 1000.0, "sw_k": 13},
}


def apply_preset() -> None:
    preset = PRESETS.get(st.session_state.get("tune_preset"))
    if preset:
        urlstate.reset_page(keep=("tune_preset",))
        st.session_state.update(preset)


def sidebar() -> tuple[str, str, int]:
    """The presets, then the objective: which surface, which optimizer, how many steps."""
    sb = st.sidebar
    sb.selectbox(t("preset"), ["none", *PRESETS], key="tune_preset",
                 format_func=lambda k: t(f"tune_preset_{k}") if k != "none" else t("preset_none"))
    sb.button(t("preset_apply"), on_click=apply_preset, width="stretch", key="tune_preset_apply",
              disabled=st.session_state.get("tune_preset", "none") == "none")
    sb.header(t("tune_objective"))
    urlstate.init("tsurf", "rosenbrock", urlstate.choice(SURFACE_KEYS))
    urlstate.init("topt", "momentum", urlstate.choice(search.OPTIMIZERS))
    urlstate.init("tsteps", 300, urlstate.choice(STEPS))
    surface = sb.selectbox(t("surface"), SURFACE_KEYS, key="tsurf", format_func=lambda k: t(f"surf_{k}"))
    optimizer = sb.radio(t("tune_optimizer"), search.OPTIMIZERS, key="topt", format_func=lambda k: t(f"opt_{k}"),
                         horizontal=True)
    steps = sb.select_slider(t("tune_steps"), STEPS, key="tsteps", help=t("tune_steps_help"))
    return surface, optimizer, steps


@st.cache_data(show_spinner=False, max_entries=16)
def tables(surface_key: str, optimizer: str, steps: int):
    """(cells, points, best, betas): the landscape, every strategy's points for every seed, the
    true best, and the β samples of every seed — computed once per objective."""
    surface = SURFACES[surface_key]
    cells = search.landscape(surface, optimizer, steps)
    points = search.strategies(surface, optimizer, steps, BUDGET, SEEDS, ROUNDS[-1])
    best = search.true_best(cells, points)
    betas = pd.concat([search.beta_samples(seed, 50).assign(seed=seed) for seed in range(SEEDS)], ignore_index=True)
    return cells, points, best, betas


@st.cache_data(show_spinner=False, max_entries=16)
def regime_tables(surface_key: str, optimizer: str, steps: int):
    """(cells, points, tallies): α against Adam's ε on this surface (the landscape and the grid's
    and every seed's random points), and for both regimes how often random search beat the grid
    over search.REGIME_SEEDS seeds."""
    surface = SURFACES[surface_key]
    both, eps = search.regimes(optimizer)
    points = search.grid_vs_random(surface, eps, steps)
    tallies = {"both": search.tally(search.grid_vs_random(surface, both, steps)), "eps": search.tally(points)}
    return search.regime_landscape(surface, eps, steps), points[points.seed < SEEDS], tallies


def init_controls() -> None:
    urlstate.init("tseed", 0, urlstate.choice(tuple(range(SEEDS))))
    urlstate.init("trounds", ROUNDS[-1], urlstate.choice(ROUNDS))


def controls_panel() -> None:
    texts = {IDS["seed"]: {"label": t("tune_seed"), "texts": [t("tune_seed_value", seed=s) for s in range(SEEDS)],
                           "max": SEEDS - 1},
             IDS["rounds"]: {"label": t("tune_rounds"), "texts": [t("tune_rounds_value", n=n) for n in ROUNDS],
                             "max": len(ROUNDS) - 1}}
    browser_controls.panel("tune", CONTROLS, texts, key="tune_live")
    st.caption(t("tune_live_hint"))
