"""The tuning page under AppTest: default view in both languages, the live seed and rounds, the
objective in the link, the table against the core."""

from streamlit.testing.v1 import AppTest

from bnviz import tuning
from bnviz.surfaces import SURFACES
from bnviz.ui import i18n
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


def test_the_learning_rate_sweep_trains_and_draws_both_models(app, monkeypatch):
    """The smaller sweep (3,000 images, 1 epoch) runs as a job under the cap and draws 18 runs."""
    import time

    from bnviz import training
    from tests.pages.conftest import set_language

    at = app(PAGE)  # widgets are set in English (AppTest formats options outside the session)
    at.session_state["sw_subset"] = 3_000
    at.session_state["sw_epochs"] = 1
    at.run()
    at.button(key="sweep_start").click().run()
    no_traceback(at)
    assert len(training.MANAGER.active()) == 1  # the same cap as the BatchNorm trainings
    deadline = time.time() + 120
    while time.time() < deadline and training.MANAGER.active():
        time.sleep(0.5)
    at.run()
    no_traceback(at)
    assert not training.MANAGER.active()
    assert STRINGS["en"]["sweep_state_finished"] in at.get("progress")[0].proto.text
    found = [chart_datasets(at, i) for i in range(len(at.get("vega_lite_chart")))]
    acc = next(d["acc"] for d in found if "acc" in d)
    assert len(acc) == 18 and set(acc.model) == {"LeNet", "LeNet-BN"}
    assert acc[~acc.diverged].accuracy.between(0, 1).all() and acc[acc.diverged].accuracy.isna().all()
    assert acc[acc.lr >= 31].diverged.all()  # α ≥ 31.6 diverges for both
    assert any("loss" in d for d in found)
    # The same finished run, read in Chinese.
    set_language(at, "zh")
    monkeypatch.setattr(i18n, "default_language", lambda: "zh")
    at.run()
    no_traceback(at)
    assert STRINGS["zh"]["sweep_state_finished"] in at.get("progress")[0].proto.text
    assert STRINGS["zh"]["sweep_header"] in [h.value for h in at.subheader]
