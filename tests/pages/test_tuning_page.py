"""The tuning page under AppTest: default view in both languages, the live seed and rounds, the
objective in the link, the table against the core."""

from streamlit.testing.v1 import AppTest

from bnviz import tuning
from bnviz.surfaces import SURFACES
from bnviz.ui.strings import STRINGS
from bnviz.ui.tuning_controls import BUDGET, ROUNDS, SEEDS
from tests.pages.conftest import APP, bound_elements, chart_datasets, chart_specs, live_panels, no_traceback, texts

PAGE = "pages/tuning.py"


def table_rows(at):
    """The summary table's rows by strategy (its index): runs, distinct α, distinct β, best, …"""
    frame = at.table[0].value
    return {name: row for name, row in frame.iterrows()}


def test_default_view(app, lang):
    at = app(PAGE, lang)
    no_traceback(at)
    s = STRINGS[lang]
    assert at.title[0].value == s["tune_title"] and not at.error
    assert len(at.get("vega_lite_chart")) == 3  # search, coarse to fine, where samples land
    panel = live_panels(at)
    assert panel["tune-seed"]["value"] == 0 and panel["tune-rounds"]["value"] == len(ROUNDS) - 1
    rows = table_rows(at)
    assert set(rows) == {s["tune_strategy_grid"], s["tune_strategy_random"], s["tune_strategy_fine"]}
    assert rows[s["tune_strategy_grid"]].iloc[1] == 3 and rows[s["tune_strategy_random"]].iloc[1] == BUDGET
    assert s["tune_verdict"].split("{")[0] in texts(at)


def test_the_charts_follow_the_live_seed_and_rounds(app):
    at = app(PAGE)
    specs = chart_specs(at)
    assert bound_elements(specs[0]) == {"tune-seed"} and bound_elements(specs[2]) == {"tune-seed"}
    assert bound_elements(specs[1]) == {"tune-seed", "tune-rounds"}
    data = chart_datasets(at, 0)
    assert len(data["cells"]) == 41 * 41 and set(data["points"].seed) == set(range(SEEDS))
    # The cells the browser colours are the core's scores, unchanged.
    want = tuning.landscape(SURFACES["rosenbrock"], "momentum", 300)
    assert data["cells"]["score"].round(9).equals(want["score"].round(9))


def test_a_committed_seed_changes_the_table_and_the_link(app):
    at = app(PAGE)
    at.session_state["tseed"] = 7  # committed by the live panel
    at.run()
    no_traceback(at)
    assert at.query_params["tseed"] == "7" and live_panels(at)["tune-seed"]["value"] == 7
    points = tuning.strategies(SURFACES["rosenbrock"], "momentum", 300, BUDGET, SEEDS, ROUNDS[-1])
    cells = tuning.landscape(SURFACES["rosenbrock"], "momentum", 300)
    summary = tuning.summary(points, min(points.score.min(), cells.score.min()))
    seven = summary[(summary.seed == 7) & (summary.strategy == "random")].iloc[0]
    shown = table_rows(at)[STRINGS["en"]["tune_strategy_random"]]
    assert shown.iloc[3] == f"{seven.best:.2f}"


def test_the_objective_is_in_the_link_and_bad_values_are_said():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"tsurf": "valley", "topt": "adam", "tsteps": "100"})
    at.switch_page(PAGE).run()
    no_traceback(at)
    assert (at.session_state["tsurf"], at.session_state["topt"], at.session_state["tsteps"]) == ("valley", "adam", 100)
    assert not at.toast
    bad = AppTest.from_file(APP, default_timeout=60)
    bad.query_params.update({"tseed": "99", "tsteps": "7", "tsurf": "../etc"})
    bad.switch_page(PAGE).run()
    no_traceback(bad)
    assert bad.toast and all(k in bad.toast[0].value for k in ("tseed", "tsteps", "tsurf"))
    assert bad.session_state["tseed"] == 0 and bad.session_state["tsteps"] == 300
