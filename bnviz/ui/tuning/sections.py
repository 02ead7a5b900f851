"""The tuning page's parts: the search landscape with every strategy's points, the table and
its verdict, coarse to fine, where samples of β land, and what comes next."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from bnviz.tuning import search
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import t
from bnviz.ui.page import formula, narrow_screen
from bnviz.ui.tuning import charts, controls
from bnviz.ui.vega import text_as_categories, vega_spec

STRATEGIES = ("grid", "random", "fine")


@dataclass(frozen=True)
class Search:
    """The landscape's cells, every strategy's points for every seed, the true best, β's samples,
    and the labels they are drawn with (in the page's language)."""

    cells: pd.DataFrame
    points: pd.DataFrame
    best: pd.DataFrame
    betas: pd.DataFrame
    labels: dict

    @property
    def axes(self) -> dict:
        return {"x_title": t("tune_axis_alpha"), "y_title": t("tune_axis_beta"), "score_title": t("tune_score")}


def scored(surface_key: str, optimizer: str, steps: int) -> Search:
    """Every score and point of the objective, computed once per objective (cached), labelled."""
    with st.spinner(t("tune_computing")):
        cells, points, best, betas = controls.tables(surface_key, optimizer, steps)
    labels = {s: t(f"tune_strategy_{s}") for s in STRATEGIES}
    scales = {"linear": t("tune_scale_linear"), "log": t("tune_scale_log")}
    return Search(cells.assign(what=t("tune_diverged")), points.assign(label=points.strategy.map(labels)),
                  best.assign(what=t("tune_true_best")), betas.assign(label=betas.scale.map(scales)), labels)


def _sent(**tables) -> dict:
    """A chart's datasets as sent: their texts (strategies, labels) as categories."""
    return {name: text_as_categories(frame) for name, frame in tables.items()}


def search_chart(where, found: Search) -> None:
    where.vega_lite_chart(present(vega_spec(
        charts.search_chart, _sent(cells=found.cells, points=found.points, best=found.best),
        labels=found.labels, legend_title=t("tune_strategy"), **found.axes)), width="stretch", key="tune_chart_search")


def _decimals(v) -> str:
    return "—" if pd.isna(v) else f"{v:.2f}"


def table(found: Search) -> None:
    """What each strategy found with the seed shown, and how often over every seed random search
    beat the grid (a plain table: large on a projector, text a screen reader finds)."""
    true_best = float(found.best.score.iloc[0]) if len(found.best) else float("nan")
    summary = search.summary(found.points, true_best)
    shown = summary[summary.seed == st.session_state["tseed"]]
    frame = pd.DataFrame({
        t("tune_strategy"): shown.strategy.map(found.labels), t("tune_col_runs"): shown.runs,
        t("tune_col_alphas"): shown.distinct_alpha, t("tune_col_betas"): shown.distinct_beta,
        t("tune_col_best"): shown.best.map(_decimals), t("tune_col_behind"): shown.behind.map(_decimals),
        t("tune_col_where"): [f"α = {a:.3g}, β = {b:.4g}" if pd.notna(a) else "—"
                              for a, b in zip(shown.best_alpha, shown.best_beta)],
    }).set_index(t("tune_strategy"))
    # A phone has room for three columns, not seven: the strategies become the columns there.
    st.table(frame.T.astype(str) if narrow_screen() else frame)
    counts = search.better_than_grid(summary)
    more = "more" if counts["random"] > controls.SEEDS / 2 else "fewer"  # the sentence follows the count
    st.markdown(t(f"tune_verdict_{more}", **counts, seeds=controls.SEEDS, budget=controls.BUDGET, best=true_best))


def regimes(surface_key: str, optimizer: str, steps: int) -> None:
    """When random search wins: α against Adam's ε (ε barely matters) beside the page's α and β,
    counted over many seeds, with the sentence the counts allow."""
    st.subheader(t("tune_regime_header"))
    with st.spinner(t("tune_computing")):
        cells, points, tallies = controls.regime_tables(surface_key, optimizer, steps)
    st.caption(t("tune_regime_explain", seeds=search.REGIME_SEEDS))
    labels = {"grid": t("tune_regime_grid_label"), "random": t("tune_strategy_random")}
    st.vega_lite_chart(present(vega_spec(
        charts.regime_chart, _sent(cells=cells.assign(what=t("tune_diverged")),
                                   points=points.assign(label=points.strategy.map(labels))),
        labels=labels, legend_title=t("tune_strategy"), x_title=t("tune_axis_alpha"), y_title=t("tune_axis_eps"),
        score_title=t("tune_score"))), width="stretch", key="tune_chart_regime")
    rows = {"both": t("tune_regime_both"), "eps": t("tune_regime_eps")}
    st.table(pd.DataFrame({
        t("tune_regime_col"): list(rows.values()), t("tune_regime_alphas"): ["3 / 9", "3 / 9"],
        t("tune_regime_random"): [tallies[k]["random"] for k in rows],
        t("tune_regime_tie"): [tallies[k]["tie"] for k in rows],
        t("tune_regime_grid"): [tallies[k]["grid"] for k in rows]}).set_index(t("tune_regime_col")))
    share = {k: tallies[k]["random"] / tallies[k]["seeds"] for k in rows}
    verdict = search.regime_verdict(tallies["both"], tallies["eps"])
    st.markdown(t(f"tune_regime_{verdict}", both=share["both"], eps=share["eps"],
                  tie=tallies["eps"]["tie"] / tallies["eps"]["seeds"]))


def fine(found: Search) -> None:
    st.subheader(t("tune_fine_header"))
    st.caption(t("tune_fine_explain", budget=controls.BUDGET))
    st.vega_lite_chart(present(vega_spec(
        charts.fine_chart, _sent(cells=found.cells, points=found.points, best=found.best),
        round_title=t("tune_round"), **found.axes)), width="stretch", key="tune_chart_fine")


def scale(found: Search) -> None:
    """Where samples of β land: uniform in β, or uniform in log(1 − β)."""
    st.subheader(t("tune_scale_header"))
    st.latex(search.LATEX["beta_sample"])
    st.vega_lite_chart(present(vega_spec(
        charts.sampling_chart, _sent(betas=found.betas), x_title=t("tune_axis_window"), y_title=t("tune_axis_drawn"))),
        width="stretch", key="tune_chart_scale")
    seed = st.session_state["tseed"]
    st.caption(t("tune_scale_explain", **search.share_below(found.betas[found.betas.seed == seed])))
    st.latex(search.LATEX["log_sample"])


def score_formula() -> None:
    formula(search.LATEX["score"], "tune_score_explain")


def further(found: Search) -> None:
    """Where the lesson goes on (BatchNorm), and every point as CSV."""
    st.subheader(t("tune_more_header"))
    st.markdown(t("tune_more"))
    st.page_link("pages/batchnorm.py", label=t("tune_bn_link"), icon=":material/stacked_bar_chart:")
    st.download_button(t("tune_download"), lambda: found.points.drop(columns=["label"]).to_csv(index=False),
                       file_name="bnviz_tuning.csv", mime="text/csv", icon=":material/download:")
