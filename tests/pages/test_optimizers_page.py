"""The optimizer page under AppTest: default view, presets, divergence, custom formulas, PyTorch form."""

import re

import pyarrow as pa
import pytest

from bnviz.optimization import path_frames
from bnviz.ui.strings import STRINGS
from tests.pages.conftest import (
    bound_elements,
    chart_datasets,
    chart_specs,
    chart_tables,
    live_panels,
    live_text,
    no_traceback,
    set_language,
    texts,
)

PAGE = "pages/optimizers.py"


def test_default_view(app, lang):
    at = app(PAGE, lang)
    no_traceback(at)
    assert at.title[0].value == STRINGS[lang]["opt_title"]
    assert len(at.get("vega_lite_chart")) == 2  # contour with paths, loss per step
    assert not at.error and not at.warning
    spec = chart_specs(at)[0]
    assert [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]] \
        == ["rect", "line", "point", "point"]  # heatmap, paths, heads, the minima on top
    assert spec["layer"][3]["mark"]["filled"] is False  # an outline: a path's head under it shows
    panel = live_panels(at)
    assert panel["opt-step"]["value"] == 150 and panel["opt-step"]["max"] == 150
    assert live_text(at, "opt-lr") == "0.4" and live_text(at, "opt-b-momentum") == "0.9"
    assert set(panel) == {"opt-lr", "opt-b-momentum", "opt-step", "opt-play"}
    # The optimizers are listed once per chart: one layer's colour has a legend, the others none.
    for chart in chart_specs(at):
        colours = [layer["encoding"]["color"] for layer in chart["layer"]
                   if layer.get("encoding", {}).get("color", {}).get("field") == "label"]
        assert len(colours) >= 2 and sum(c.get("legend", {}) is not None for c in colours) == 1


def test_the_charts_pick_from_every_path_of_the_slider_grids(app):
    """Every α of the grid for each optimizer, and every β for momentum, are sent once; the
    charts follow the α, β and step controls."""
    at = app(PAGE)
    specs = chart_specs(at)
    assert bound_elements(specs[0]) == bound_elements(specs[1]) == {"opt-lr", "opt-b-momentum", "opt-step"}
    paths = chart_datasets(at, 0)["paths"]
    per = paths.groupby("optimizer")[["li", "bi"]].apply(lambda g: len(set(zip(g.li, g.bi))))
    assert per["gd"] == len(path_frames.LRS) and per["momentum"] == len(path_frames.LRS) + len(path_frames.BETAS) - 1
    assert paths.step.max() == 150


def fields_read(layer: dict) -> set[str]:
    """The columns a layer of a Vega-Lite spec reads from its data: encoded fields, tooltips,
    groupings and the ``datum.x`` of its expressions, less what its own transforms make."""
    read, made = set(), set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "field" and isinstance(value, str):
                    read.add(value)
                elif key in ("groupby", "fields") and isinstance(value, list):
                    read.update(v for v in value if isinstance(v, str))
                elif key == "as":
                    made.update([value] if isinstance(value, str) else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            read.update(re.findall(r"datum\.(\w+)", node))

    walk({k: v for k, v in layer.items() if k != "data"})
    return read - made


def test_each_chart_is_sent_the_paths_columns_it_reads_with_the_names_once(app):
    """The contour and the loss chart each get the columns of the paths that their layers read,
    no other (the whole table, ~6,000 rows, went to both: 398 KB each), the optimizers' names as
    an Arrow dictionary (each name once, not on every row)."""
    at = app(PAGE)
    for index, spec in enumerate(chart_specs(at)):
        layers = [layer for layer in spec["layer"] if layer.get("data", {}).get("name") == "paths"]
        assert layers, index
        read = set().union(*(fields_read(layer) for layer in layers))
        sent = chart_tables(at, index)["paths"]
        assert set(sent.column_names) == read, (index, sorted(read), sent.column_names)
        for name in ("optimizer", "label"):
            assert pa.types.is_dictionary(sent.schema.field(name).type), (index, name)


def test_equal_units_on_both_axes(app):
    at = app(PAGE)
    spec = chart_specs(at)[0]
    x = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]["expr"]
    y = spec["layer"][0]["encoding"]["y"]["scale"]["domain"]["expr"]
    assert "max(20.0 / width, 8.0 / height)" in x and "max(20.0 / width, 8.0 / height)" in y


def test_no_optimizer_keeps_the_surface_and_asks_for_one(app, lang):
    at = app(PAGE)
    at.sidebar.multiselect(key="opts").set_value([]).run()
    if lang != "en":
        set_language(at, lang)
    no_traceback(at)
    assert not at.error and len(at.get("vega_lite_chart")) == 1
    assert STRINGS[lang]["opt_none"] in texts(at)


def test_a_bad_formula_keeps_the_start_and_the_step(app):
    at = app(PAGE)
    at.sidebar.selectbox(key="surf").set_value("custom").run()
    at.number_input(key="sx").set_value(1.5).run()
    at.session_state["step"] = 40
    at.run()
    at.sidebar.text_input(key="expr").input("x +").run()
    assert at.error
    at.sidebar.text_input(key="expr").input("x**2 + y**2").run()
    no_traceback(at)
    assert at.number_input(key="sx").value == 1.5 and at.session_state["step"] == 40
    assert live_panels(at)["opt-step"]["value"] == 40


@pytest.mark.parametrize("preset", sorted(path_frames.PRESETS))
def test_each_preset_runs_cleanly(app, preset):
    at = app(PAGE)
    at.sidebar.selectbox(key="preset").set_value(preset).run()
    at.sidebar.button[0].click().run()
    no_traceback(at)
    p = path_frames.PRESETS[preset]
    assert at.sidebar.selectbox(key="surf").value == p["surface"]
    assert at.sidebar.multiselect(key="opts").value == p["optimizers"]
    assert not at.warning, [w.value for w in at.warning]  # no preset diverges
    if "schedule" in p:
        assert len(at.get("vega_lite_chart")) == 3  # + learning rate per step


def test_divergence_is_reported_and_charts_stay_finite(app):
    at = app(PAGE)
    at.session_state["lr"] = 10.0
    at.run()
    no_traceback(at)
    assert any("diverged at step" in w.value for w in at.warning)
    assert len(at.get("vega_lite_chart")) == 2


@pytest.mark.parametrize("text, key", [("x +", "err_expr_syntax"), ("__import__('os')", "err_expr_call"),
                                       ("x**y", "err_expr_power"), ("", "err_expr_empty"),
                                       ("log(-1-x*x)", "err_expr_nonfinite")])
def test_custom_formula_errors(app, lang, text, key):
    at = app(PAGE)
    at.sidebar.selectbox(key="surf").set_value("custom").run()
    at.sidebar.text_input(key="expr").input(text).run()
    if lang != "en":  # translated option labels can only be set in English under AppTest (see conftest)
        set_language(at, lang)
    no_traceback(at)
    assert at.error and at.error[0].value.startswith(STRINGS[lang][key].split("{")[0])


def test_custom_formula_draws(app):
    at = app(PAGE)
    at.sidebar.selectbox(key="surf").set_value("custom").run()
    no_traceback(at)
    assert len(at.get("vega_lite_chart")) == 2
    at.sidebar.text_input(key="expr").input("(x-1)**2 + 2*(y+0.5)**2").run()
    no_traceback(at)
    assert not at.error and len(at.get("vega_lite_chart")) == 2


def test_pytorch_form_shows_calls_and_tiny_deviation(app):
    at = app(PAGE)
    at.toggle(key="torch").set_value(True).run()
    no_traceback(at)
    codes = [c.value for c in at.code]
    assert "torch.optim.SGD([theta], lr=0.4)" in codes
    assert "torch.optim.SGD([theta], lr=0.04, momentum=0.9)" in codes
    devs = [float(c.value.rsplit(" ", 1)[1]) for c in at.caption if "PyTorch|" in c.value]
    assert len(devs) == 2 and max(devs) <= 1e-10


def test_each_optimizer_own_lr_and_noise(app):
    at = app(PAGE)
    at.sidebar.multiselect(key="opts").set_value(["gd", "momentum", "nesterov", "rmsprop", "adam", "adamw",
                                                  "adagrad"]).run()
    at.sidebar.toggle(key="same").set_value(False).run()
    at.sidebar.select_slider(key="noise").set_value(1.0).run()
    no_traceback(at)
    assert live_text(at, "opt-lr-rmsprop") == "0.01" and "opt-lr" not in live_panels(at)
    assert "Mini-batch" in texts(at) or any("xi" in f.value for f in at.sidebar.latex)


def test_start_point_and_scrubber(app):
    at = app(PAGE)
    at.number_input(key="sx").set_value(5.0).run()
    at.session_state["step"] = 10
    at.run()
    no_traceback(at)
    assert live_panels(at)["opt-step"]["value"] == 10 and at.query_params["step"] == "10"
    assert at.number_input(key="sx").value == 5.0


@pytest.mark.parametrize("query", [{"sx": "nan"}, {"sx": "1e9"}, {"sy": "inf"}, {"surf": "custom", "width": "nan"},
                                   {"steps": "5000"}, {"lr": "7"}])
def test_bad_link_values_are_ignored_with_a_notice(query):
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import APP

    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()  # opened on the page, as a link does
    no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    bad = [k for k in query if k != "surf"]
    assert at.toast and all(k in at.toast[0].value for k in bad)


def markup_ids(at) -> set[str]:
    """The element ids in the markup the browser gets for the page's live panels."""
    return {i for e in at.get("bidi_component") for i in re.findall(r'\bid="([^"]+)"', e.proto.html_content)}


def test_a_panel_gets_the_markup_of_its_own_controls(app):
    """Streamlit keeps one component definition per name for the whole server, and a mount reads
    it by name: a panel must never get the inputs of another set of controls drawn before it (a
    page once had no α slider after a tab had chosen an α per optimizer and back)."""
    at = app(PAGE)
    assert {"opt-lr", "opt-b-momentum", "opt-step"} <= markup_ids(at)
    at.sidebar.toggle(key="same").set_value(False).run()
    assert "opt-lr-momentum" in markup_ids(at) and "opt-lr" not in markup_ids(at)
    at.sidebar.toggle(key="same").set_value(True).run()  # back to the first set of controls
    assert {"opt-lr", "opt-b-momentum", "opt-step"} <= markup_ids(at)
    assert "opt-lr-momentum" not in markup_ids(at)
