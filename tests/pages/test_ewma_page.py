"""The EWMA page under AppTest: default view, controls, every bad input, both languages."""

import numpy as np
import pandas as pd
import pytest

from bnviz.ui.strings import STRINGS
from tests.pages.conftest import (
    bound_elements,
    chart_datasets,
    chart_specs,
    live_panels,
    live_text,
    no_traceback,
    set_language,
    spec_nodes,
    texts,
)

PAGE = "pages/ewma.py"


def test_default_view(app, lang):
    at = app(PAGE, lang)
    no_traceback(at)
    assert at.title[0].value == STRINGS[lang]["ewma_title"]
    assert len(at.get("vega_lite_chart")) == 3  # whole series (zoom tab is lazy), weights, lag
    assert not at.error
    page = texts(at)
    assert "**0.8**" in page and "**40**" in page  # Ng: v1 = 0.02*40 = 0.8, corrected 40
    # The live panel starts at β = 0.9 and 0.98, two curves, every variant shown.
    window = STRINGS[lang]["live_beta"]
    assert live_text(at, "ewma-b1") == window.format(beta=0.9, window=10.0)
    assert live_text(at, "ewma-b2") == window.format(beta=0.98, window=50.0)
    panel = live_panels(at)
    assert panel["ewma-nc"]["value"] == 2 and [panel[i]["value"] for i in ("ewma-vz", "ewma-vc", "ewma-vf")] == [1] * 3
    assert any(r"\hat v_t = \frac{v_t}{1-\beta^{t}}" in f.value for f in at.latex), [f.value for f in at.latex]


def test_every_chart_follows_the_live_controls(app):
    """The charts' parameters are bound to the panel's inputs: the browser picks, the server
    sends every β of the grid once (17 β × 3 variants as columns of the main chart)."""
    at = app(PAGE)
    specs = chart_specs(at)
    assert bound_elements(specs[0]) == {"ewma-b1", "ewma-b2", "ewma-b3", "ewma-nc", "ewma-vz", "ewma-vc", "ewma-vf"}
    assert bound_elements(specs[1]) == bound_elements(specs[2]) == {"ewma-b1", "ewma-b2", "ewma-b3", "ewma-nc"}
    data = chart_datasets(at, 0)
    raw, curves = data["raw"], data["curves"]
    assert {f"b{i}_{v}" for i in range(17) for v in ("zero", "corrected", "first")} <= set(curves.columns)
    assert len(raw) == 1461 and len(curves) == 450


def test_ng_preset_gives_three_betas(app):
    at = app(PAGE)
    at.sidebar.button[0].click().run()
    no_traceback(at)
    assert [at.session_state[k] for k in ("ncurves", "b1", "b2", "b3")] == [3, 0.5, 0.9, 0.98]
    assert [live_text(at, f"ewma-b{i}").split(" · ")[1] for i in (1, 2, 3)] == \
        ["≈ 2 values", "≈ 10 values", "≈ 50 values"]


def test_a_committed_beta_changes_the_window_and_the_link(app):
    at = app(PAGE)
    at.session_state["b1"] = 0.999  # what the panel's commit does
    at.run()
    assert live_text(at, "ewma-b1").endswith("≈ 1000 values")
    assert at.query_params["b1"] == "0.999"
    spec = chart_specs(at)[1]  # weights chart: area, line, rule and the 1/e point
    assert len(spec["layer"]) == 4


@pytest.mark.parametrize("kind", ["sine", "walk", "step"])
def test_synthetic_series(app, kind):
    at = app(PAGE)
    at.sidebar.radio(key="src").set_value("synthetic").run()
    at.sidebar.selectbox(key="syn").set_value(kind).run()
    no_traceback(at)
    assert not at.error and len(at.get("vega_lite_chart")) == 3


def test_min_temperatures(app):
    at = app(PAGE)
    at.sidebar.radio(key="temp").set_value("temp_min").run()
    no_traceback(at)
    assert at.caption[0].value.startswith(STRINGS["en"]["temp_min"])


def test_the_chinese_page_names_our_series_in_chinese(app):
    """Our own names (temp_max, pasted) never reach the screen; a user's column keeps its name."""
    at = app(PAGE, "zh")
    assert at.caption[0].value.startswith(STRINGS["zh"]["temp_max"]) and "temp_max" not in texts(at)
    at = paste(app, "zh", "1 2 3 4")
    assert at.caption[0].value.startswith(STRINGS["zh"]["pasted_name"]) and "pasted" not in texts(at)


def in_language(at, lang):
    # AppTest formats option labels outside the session (in English), so widgets with translated
    # options are set first and the language is switched afterwards.
    if lang != "en":
        set_language(at, lang)
    no_traceback(at)
    return at


def paste(app, lang, text):
    at = app(PAGE)
    at.sidebar.radio(key="src").set_value("paste").run()
    at.sidebar.text_area(key="paste").input(text).run()
    return in_language(at, lang)


def upload(app, lang, name, data, mime="text/csv"):
    at = app(PAGE)
    at.sidebar.radio(key="src").set_value("upload").run()
    at.sidebar.file_uploader(key="upload").set_value((name, data, mime)).run()
    return in_language(at, lang)


def message(lang, key, **params):
    from bnviz.ui import i18n

    return i18n.text(lang, key, **params)


@pytest.mark.parametrize("text, key, params", [
    ("hello world", "err_bad_token", {"token": "hello", "pos": 1}),
    ("7", "err_too_short", {"n": 1, "min": 2}),
    ("1 2 3 4 5 6 7 8", None, {}),  # short but valid: no error, zoom still works
    ("<b>bold</b> 1 2", "err_bad_token", {"token": "<b>bold</b>", "pos": 1}),
])
def test_pasted_input(app, lang, text, key, params):
    at = paste(app, lang, text)
    if key is None:
        assert not at.error
        return
    assert at.error[0].value.startswith(message(lang, key, **params))
    assert message(lang, "err_fallback") in at.error[0].value
    assert len(at.get("vega_lite_chart")) == 3  # still useful: falls back to the temperatures


def test_pasted_numbers_with_nan_inf(app, lang):
    at = paste(app, lang, "1 2 3 nan 5 inf 7 8")
    assert not at.error
    assert at.warning[0].value == message(lang, "note_non_finite", n=2)
    assert message(lang, "what_paste") in at.caption[0].value


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


@pytest.mark.parametrize("data, key", [
    (b"", "err_empty"),
    (b"city,name\nparis,ann\nrome,bob\n", "err_no_numeric"),
    (BINARY, "err_binary"),
    (b"value\n5\n", "err_too_short"),
    (b"\xff\xfe\xfa\xfb\n" * 5, "err_encoding"),
])
def test_uploaded_bad_files(app, lang, data, key):
    at = upload(app, lang, "bad.csv", data)
    assert at.error, texts(at)
    prefix = STRINGS[lang][key].split("{")[0]
    assert at.error[0].value.startswith(prefix)


def test_uploaded_loss_log(app, lang):
    """A training log opens on its loss, not on the step counter; another column can be chosen."""
    csv = b"step,loss,lr\n" + b"".join(f"{i},{1 / (i + 1)},0.1\n".encode() for i in range(500))
    at = upload(app, "en", "loss.csv", csv)  # widgets are set in English (see in_language)
    assert not at.error and at.selectbox(key="col").value == "loss"
    assert message("en", "what_upload", column="loss") in texts(at)
    at.selectbox(key="col").set_value("lr").run()
    at = in_language(at, lang)
    assert message(lang, "what_upload", column="lr") in texts(at)


def test_a_file_in_a_legacy_encoding_is_read_and_the_guess_said(app, lang):
    data = "步數,損失\n1,0.5\n2,0.25\n3,0.125\n".encode("big5")
    at = upload(app, "en", "big5.csv", data)
    assert not at.error and at.selectbox(key="col").options == ["步數", "損失"]
    assert message("en", "note_encoding", encoding="Big5") in texts(at)
    # The user can name the encoding; a choice that cannot read the file is said, not a garbled table.
    at.sidebar.selectbox(key="encoding").set_value("utf-8").run()
    at = in_language(at, lang)
    assert at.error[0].value.startswith(message(lang, "err_encoding_wrong", encoding="UTF-8"))
    at = upload(app, "en", "big5.csv", data)
    at.sidebar.selectbox(key="encoding").set_value("big5").run()
    at = in_language(at, lang)
    assert not at.error and message(lang, "note_encoding", encoding="Big5") not in texts(at)
    assert message(lang, "what_upload", column="損失") in texts(at)


def test_a_european_file_with_dates_draws_on_a_date_axis(app):
    rows = "".join(f"{d:02d}.03.2024;{d},5\n" for d in range(1, 31))
    at = upload(app, "en", "werte.csv", ("Datum;Wert\n" + rows).encode("cp1252"))
    assert not at.error
    assert message("en", "note_dates", column="Datum") in texts(at)
    assert any(i.value == message("en", "note_format_decimal_comma") for i in at.info)
    raw = chart_datasets(at, 0)["raw"]
    assert raw["value"].tolist()[:3] == [1.5, 2.5, 3.5] and raw["date"].iloc[0] == "2024-03-01"
    spec = chart_specs(at)[0]
    assert STRINGS["en"]["axis_date"] in str(spec) and "%d %b" in str(spec)  # ticks per day for one month


def test_the_date_axis_is_labelled_in_the_pages_language(app, lang):
    """Seattle's months as the reader writes them: "Jan 2012" in English, "2012年1月" in Chinese
    (Vega's own month names are English)."""
    spec = str(chart_specs(app(PAGE, lang))[0])
    assert STRINGS[lang]["date_format_month"] in spec
    assert ("%b" in spec) == (lang == "en")


@pytest.mark.parametrize("text", ["1.7e308 -1.7e308 1.79e308 1e308", "5e-324 1e-310 2e-310 3e-310"])
def test_values_near_the_float_limits_are_drawn_scaled_and_said(app, lang, text):
    at = paste(app, lang, text)
    assert not at.error
    raw, curves = chart_datasets(at, 0)["raw"], chart_datasets(at, 0)["curves"]
    values = np.concatenate([raw["value"].to_numpy(float), curves.filter(like="b").to_numpy(float).ravel()])
    assert np.isfinite(values).all() and 0.001 < np.abs(values).max() < 100  # labels the axis can show
    assert any(c.value.startswith(STRINGS[lang]["note_scaled"].split("{")[0]) for c in at.caption)


def test_uploaded_million_rows_downsampled(app):
    """A million rows: read whole, averaged whole, drawn downsampled, said exactly (the one upload
    of that size among the page tests: test_hostile.py keeps to small files)."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"loss": rng.normal(size=1_000_000)}).to_csv(index=False).encode()
    at = upload(app, "en", "big.csv", data)
    no_traceback(at)
    assert not at.error
    assert any(i.value.startswith("1,000,000 values: the averages are computed on all") for i in at.info)


def test_zoom_tab_shows_the_start(app):
    at = app(PAGE)
    at.session_state["view"] = STRINGS["en"]["chart_zoom"]
    at.run()
    no_traceback(at)
    assert live_panels(at)["ewma-zoom"]["value"] == 60
    assert STRINGS["en"]["zoom_explain"] in texts(at)
    at.session_state["zoom"] = 10
    at.run()
    no_traceback(at)
    assert live_panels(at)["ewma-zoom"]["value"] == 10 and at.query_params["zoom"] == "10"
    assert len(at.get("vega_lite_chart")) == 3
    assert "ewma-zoom" in bound_elements(chart_specs(at)[0])


def test_a_failing_section_says_so_in_the_language_without_the_exception_text(app, lang, monkeypatch):
    from bnviz.ui.smoothing import charts

    def broken(**options):
        raise RuntimeError("/srv/secret/path: index 7 out of range")

    monkeypatch.setattr(charts, "weights_chart", broken)
    at = app(PAGE, lang)
    assert [e.value for e in at.error] == [STRINGS[lang]["unexpected_error"]]
    assert "secret" not in texts(at) and "RuntimeError" not in texts(at)
    assert len(at.get("vega_lite_chart")) == 2  # the rest of the page is drawn


def _colour_scales(spec):
    """Every colour scale on the field ``beta`` in a spec: (domain, range)."""
    colours = (node.get("color") for node in spec_nodes(spec))
    return [(c["scale"]["domain"], c["scale"]["range"]) for c in colours
            if isinstance(c, dict) and c.get("field") == "beta" and "scale" in c]


def test_the_same_beta_has_the_same_colour_in_every_slot_and_chart(app):
    """A curve's colour follows its β, not its slot: after Ng's preset β = 0.9 (now the second
    curve) keeps the colour it had as the first, in every chart and in the panel's swatch."""
    from bnviz.smoothing.ewma_frames import BETAS, beta_label

    at = app(PAGE)
    scales = [s for spec in chart_specs(at) for s in _colour_scales(spec)]
    assert len(scales) >= 3
    labels = [beta_label(b) for b in BETAS]
    assert all(domain == labels for domain, _ in scales)
    colours = scales[0][1]
    assert len(set(colours)) == len(BETAS) and all(r == colours for _, r in scales)
    assert live_panels(at)["ewma-b1"]["swatches"][BETAS.index(0.9)] == colours[labels.index("β=0.9")]
    at.sidebar.button[0].click().run()  # Ng's figure: β = 0.5, 0.9, 0.98
    assert at.session_state["b2"] == 0.9
    assert [s for spec in chart_specs(at) for s in _colour_scales(spec)][0][1] == colours


def test_a_short_series_draws_its_raw_points_large(app):
    def points(at):
        spec = chart_specs(at)[0]
        mark = spec["layer"][0]["mark"]
        return mark["size"], mark["opacity"]

    short = paste(app, "en", " ".join(str(v) for v in range(1, 31)))
    size, opacity = points(short)
    assert size >= 40 and opacity >= 0.6  # 30 values: each one visible on a projector
    size_long, _ = points(app(PAGE))  # 1,461 values: small, or they hide the curves
    assert size_long < size


def test_the_chart_is_built_once_for_every_title_a_series_brings_and_each_is_written_in_whole():
    """A file's column name is the value axis's title: the spec is built once (0.4–0.7 s of the
    server's CPU a build) and each title written into it, quotes, backslashes and all, exactly as
    a build with that title makes it — also where it stands in an expression (the date format)."""
    import json
    import re

    from bnviz.ui import vega
    from bnviz.ui.smoothing import charts

    view_name = r"view_[0-9a-f]+_[0-9]+"
    shape = dict(labels=["0.5", "0.9", "0.99"], variants={"zero": "zero", "corrected": "corrected"},
                 ticks=[0.0, 8.64e7], few=False, zoom=False)
    hostile = ['Temp "max" \\ °C', "最高气温 (°C)", "a'b", "line\nbreak", "${x} ]}", "\ue000y_title\ue001", ""]
    before = vega._spec_json.cache_info().misses
    for i, title in enumerate(hostile):
        words = {"x_title": "Date", "y_title": title, "curve_title": "β", "variant_title": "Variant",
                 "raw_label": "raw", "tick_format": '%b "%y' if i % 2 else "%b %Y"}
        spec = vega.vega_spec(charts.smoothing_chart, {}, texts=charts.TEXTS, **shape, **words)
        spec.pop("datasets")
        built = vega._spec_json.__wrapped__(charts.smoothing_chart, json.dumps({**shape, **words}, sort_keys=True))
        # the same but for the name Altair makes for the layer the pan acts on (a hash of the chart)
        assert re.sub(view_name, "view", json.dumps(spec)) == re.sub(view_name, "view", built), title
    # One build for all the titles and date formats, and one for each title built as it is: the
    # empty one and the one holding the stand-in's characters.
    assert vega._spec_json.cache_info().misses - before <= 3
