"""Classroom features under AppTest: presenter mode, share link, presets, language across pages."""

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.ui import i18n
from bnviz.ui.classroom.presenter import BIG_TEXT, COLOUR_BAR_ROOM, WIDE_CELL, for_phone, for_wide
from bnviz.ui.strings import STRINGS
from tests.pages.conftest import APP, chart_specs, no_traceback

PAGES = {"pages/ewma.py": "ewma_title", "pages/optimizers.py": "opt_title", "pages/batchnorm.py": "bn_title",
         "pages/tuning.py": "tune_title", "pages/home.py": "app_title"}


def test_language_follows_the_user_across_pages(app, monkeypatch):
    at = app("pages/home.py", "zh")
    # AppTest formats option labels outside the session, where t() uses the default language.
    monkeypatch.setattr(i18n, "default_language", lambda: "zh")
    for page, title in [*PAGES.items(), *PAGES.items()]:
        at.switch_page(page).run()
        no_traceback(at)
        assert at.title[0].value == STRINGS["zh"][title], page


@pytest.mark.parametrize("page, written", [("pages/ewma.py", "True"), ("pages/optimizers.py", "true")])
def test_presenter_mode_enlarges_chart_text_and_is_in_the_link(page, written):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["present"] = written  # as the app writes it, or as a teacher types it
    at.switch_page(page).run()  # opened on the page, as a link does
    no_traceback(at)
    specs = chart_specs(at)
    assert specs and all(s["config"]["axis"]["labelFontSize"] == BIG_TEXT["axis"]["labelFontSize"] for s in specs)
    assert any("font-size: 21px" in h.proto.body for h in at.get("html"))
    plain = AppTest.from_file(APP, default_timeout=60).run()
    plain.switch_page(page).run()
    assert all("labelFontSize" not in s.get("config", {}).get("axis", {}) for s in chart_specs(plain))


def test_share_link_holds_the_current_settings(app):
    at = app("pages/optimizers.py")
    at.session_state["lr"] = 0.5  # committed by the live panel
    at.run()
    code = [c.value for c in at.get("code") if "/optimizers" in c.value]
    assert code and code[-1].endswith("/optimizers?lr=0.5"), code


@pytest.mark.parametrize("preset, expect", [
    ("fig1", {"bn_every": 5, "bn_subset": 0, "bn_epochs": 10, "bn_layer": "fc2"}),
    ("quick", {"bn_subset": 12_000, "bn_epochs": 3}),
    ("scratch", {"bn_impl": "scratch"}),
    ("big_lr", {"bn_lr": 5.0, "bn_lr_bn": 5.0}),
    ("smooth_fair", {"bn_act": "relu", "bn_lr": 0.1, "bn_lr_bn": 0.1, "bn_probe_step": 0.3, "bn_every": 2}),
])
def test_batchnorm_presets(app, preset, expect):
    at = app("pages/batchnorm.py")
    at.sidebar.selectbox(key="bn_preset").set_value(preset).run()
    at.sidebar.button(key="bn_preset_apply").click().run()
    no_traceback(at)
    for key, value in expect.items():
        assert at.session_state[key] == value, key
    if expect.get("bn_epochs", 10) != 10:  # the share link follows
        assert f"bn_epochs={expect['bn_epochs']}" in at.get("code")[-1].value


def test_page_charts_download_as_svg(app):
    import io
    import zipfile

    from bnviz.ui import browser_controls
    from bnviz.ui.classroom import svg_export

    at = app("pages/optimizers.py")
    [button] = [b for b in at.get("download_button") if "SVG" in b.proto.label]
    assert "3" in button.proto.label or "2" in button.proto.label
    drawn = list(at.session_state[svg_export._DRAWN])  # the charts of the last run, as the button renders them
    with zipfile.ZipFile(io.BytesIO(svg_export._svg_zip(drawn, at.session_state[browser_controls.BOUND]))) as zf:
        names = zf.namelist()
        assert len(names) == len(drawn) >= 2
        svg = zf.read(names[0]).decode()
    assert svg.startswith("<svg") and "</svg>" in svg and "<path" in svg


def test_svg_export_draws_the_committed_slider_values(app):
    """Charts that follow live controls are drawn with the values last committed (the export has
    no browser and no sliders)."""
    import io
    import zipfile

    from bnviz.ui import browser_controls
    from bnviz.ui.classroom import svg_export

    at = app("pages/ewma.py")
    at.session_state["b1"] = 0.999
    at.session_state["ncurves"] = 1
    at.run()
    drawn = list(at.session_state[svg_export._DRAWN])
    with zipfile.ZipFile(io.BytesIO(svg_export._svg_zip(drawn, at.session_state[browser_controls.BOUND]))) as zf:
        main = zf.read(zf.namelist()[0]).decode()
    assert "β=0.999" in main and "β=0.98" not in main


def test_a_whole_number_in_a_link_may_be_written_as_a_float():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"steps": "1e3"})
    at.switch_page("pages/optimizers.py").run()  # opened on the page, as a link does
    no_traceback(at)
    assert at.session_state["steps"] == 1000 and not at.toast  # read, not refused
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"steps": "150.5"})  # not a whole number: refused, and said
    at.switch_page("pages/optimizers.py").run()  # opened on the page, as a link does
    assert at.session_state["steps"] == 150 and at.toast


def test_unknown_and_stale_link_parameters_are_dropped():
    """300 parameters no page reads leave the link; the page's own stay."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({f"junk{i}": str(i) for i in range(300)} | {"b1": "0.5", "present": "True"})
    at.switch_page("pages/ewma.py").run()  # opened on the page, as a link does
    no_traceback(at)
    assert dict(at.query_params) == {"b1": "0.5", "present": "True"}
    at.switch_page("pages/home.py").run()  # another page: the EWMA page's settings are not its own
    assert dict(at.query_params) == {"present": "True"}


@pytest.mark.parametrize("page, button, preset, stale", [
    ("pages/ewma.py", 0, None, {"vz": 0, "zoom": 20}),
    ("pages/optimizers.py", -1, ("preset", "zigzag"), {"beta_momentum": 0.5, "noise": 0.5, "nseed": 7}),
    ("pages/batchnorm.py", "bn_preset_apply", ("bn_preset", "quick"), {"bn_seed": 7, "bn_opt": "adam"}),
])
def test_a_preset_leaves_nothing_older_in_the_link(app, page, button, preset, stale):
    """Settings a preset does not name go back to their defaults, so they leave the link."""
    at = app(page)
    for key, value in stale.items():
        at.session_state[key] = value
    at.run()
    assert set(stale) <= set(at.query_params)  # the link held the older settings
    if preset:
        at.sidebar.selectbox(key=preset[0]).set_value(preset[1]).run()
    (at.sidebar.button(key=button) if isinstance(button, str) else at.sidebar.button[button]).click().run()
    no_traceback(at)
    assert not set(stale) & set(at.query_params), dict(at.query_params)
    assert len(at.query_params) >= 2  # the preset's own settings are there


def test_on_a_phone_a_colour_bar_lies_under_its_chart_and_adds_its_height():
    """A heatmap's colour bar and its symbols go under the chart, one legend below the other, and
    the chart grows by their room; a chart without a colour bar keeps its height."""
    from bnviz.ui.tuning import charts
    from bnviz.ui.vega import vega_spec

    options = {"labels": {"grid": "g", "random": "r"}, "x_title": "x", "y_title": "y", "score_title": "s",
               "legend_title": "l"}
    heatmap = vega_spec(charts.search_chart, {}, **options)
    phone = for_phone(heatmap)
    legend = phone["config"]["legend"]
    assert legend["gradientDirection"] == "horizontal" and legend["orient"] == "bottom"
    assert legend["layout"]["bottom"]["direction"] == "vertical"
    assert phone["height"] == heatmap["height"] + COLOUR_BAR_ROOM
    ticks = vega_spec(charts.sampling_chart, {}, x_title="x", y_title="y")
    assert for_phone(ticks)["height"] == ticks["height"]


def test_on_a_wide_screen_facet_cells_grow_and_other_charts_stay():
    from bnviz.ui.batchnorm import charts
    from bnviz.ui.vega import vega_spec

    titles = dict.fromkeys(("x", "y", "layer", "step", "model", "lo", "hi"), "t")
    grid = vega_spec(charts.hist_grid, {}, titles=titles, domain=[-1, 1], bins=50)
    wide = for_wide(grid)
    assert wide["spec"]["width"] == min(round(grid["spec"]["width"] * WIDE_CELL[0]), WIDE_CELL[1]) > 400
    assert grid["spec"]["width"] == 250  # the spec it came from is not changed
    single = vega_spec(charts.gamma_beta_chart, {}, x_title="x", y_title="y", param_title="p", channels=6)
    assert for_wide(single) == single


def test_an_unknown_page_path_is_told_apart_from_the_pages():
    from bnviz.ui.navigation import unknown_path

    assert unknown_path("http://h:8501/optimisers?sx=1") == "optimisers"
    assert unknown_path("http://h:8501/") is None and unknown_path("http://h:8501") is None
    assert unknown_path("http://h:8501/tuning?tseed=3") is None and unknown_path("http://h/ewma/") is None
    assert unknown_path("https://school.example/bnviz/batchnorm", base="bnviz") is None
    assert unknown_path("https://school.example/bnviz/nope", base="/bnviz/") == "nope"
    assert unknown_path("http://h/%E4%BC%98%E5%8C%96") == "优化"
