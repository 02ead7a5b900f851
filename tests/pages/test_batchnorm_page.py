"""The BatchNorm page under AppTest: default view, a tiny run to the end, controls, failures."""

import json
import threading
import time

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bnviz import training
from bnviz.batchnorm.models import WEIGHTED
from bnviz.data import fashion_mnist
from bnviz.training import bn_frames
from bnviz.training.watching import REGISTRY
from bnviz.ui import i18n
from bnviz.ui.batchnorm.charts import MODEL_ORDER
from bnviz.ui.live_chart import TIP_SET
from bnviz.ui.strings import STRINGS
from tests.core.test_data import hide_datasets, write_set
from tests.pages.conftest import APP, drawn_datasets, drawn_specs, live_charts, no_traceback, set_language, texts

PAGE = "pages/batchnorm.py"
TINY = {"bn_subset": 512, "bn_epochs": 2, "bn_batch": 64, "bn_every": 2}


@pytest.fixture(autouse=True)
def clean_jobs():
    st.cache_resource.clear()  # a fresh dataset() per test (some tests swap the data folder)
    yield
    st.cache_resource.clear()  # every session's run goes into its grace period (on_release)
    REGISTRY.drop_all()  # … which tests do not wait for
    training.MANAGER.release_all()
    deadline = time.time() + 30
    while time.time() < deadline and any(t.name.startswith("bnviz-train") for t in threading.enumerate()):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("bnviz-train")]


@pytest.fixture
def configure(monkeypatch):
    """Small settings through session state, then the language. AppTest formats option labels
    outside the session, where our t() falls back to the default language: make that the test's
    language too, so later clicks in Chinese find their labels."""
    def apply(at, lang="en", **values):
        for key, value in {**TINY, **values}.items():
            at.session_state[key] = value
        at.run()
        if lang != "en":
            set_language(at, lang)
            monkeypatch.setattr(i18n, "default_language", lambda: lang)
        return at

    return apply


def wait_until(at, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        if predicate(at):
            return at
        time.sleep(0.2)
    raise AssertionError(f"timed out; page shows: {progress(at)}")


def progress(at):
    return " ".join(p.proto.text for p in at.get("progress"))


def open_tab(at, lang, panel):
    at.session_state["bn_panel"] = STRINGS[lang][f"bn_tab_{panel}"]
    return at.run()


def test_default_view(app, lang):
    at = app(PAGE, lang)
    no_traceback(at)
    s = STRINGS[lang]
    assert at.title[0].value == s["bn_title"]
    assert s["bn_press_start"] in texts(at)
    assert any(s["bn_data_real"].split("{")[0] in c.value for c in at.caption)  # real data in use
    assert at.button(key="bn_start").label == s["bn_start"]
    assert at.button(key="bn_stop").disabled and at.button(key="bn_reset").disabled
    assert not training.MANAGER.active()  # opening the page starts nothing


def test_the_scratch_listing_is_drawn_once_its_expander_opens(app, configure, lang):
    """Closed, the expander holds its caption only (a watcher's page loads no highlighted code);
    opened, the two listings of the code that runs with 'ours, from scratch'."""
    def listing(at):
        [box] = [e for e in at.expander if e.label == STRINGS[lang]["bn_code_header"]]
        assert STRINGS[lang]["bn_code_text"] in [c.value for c in box.caption]
        return box.get("code")

    at = configure(app(PAGE), lang)
    assert not listing(at)
    at.session_state["bn_code"] = True  # what a click on the expander sends
    at.run()
    no_traceback(at)
    assert [("class BatchNormScratch" in c.value, "def normalise" in c.value, c.language) for c in listing(at)] == \
        [(True, False, "python"), (False, True, "python")]


def test_tiny_run_finishes_and_every_panel_draws(app, configure, lang):
    at = configure(app(PAGE), lang)
    at.button(key="bn_start").click().run()
    no_traceback(at)
    wait_until(at, lambda a: not training.MANAGER.active() and STRINGS[lang]["bn_state_finished"] in progress(a))
    no_traceback(at)
    assert "16/16" in progress(at)
    expected = {"loss": 2, "hist": 2, "time": 2, "bn": 2, "grad": 1, "test": 1, "hand": 0, "smooth": 2}
    for panel, n in expected.items():
        open_tab(at, lang, panel)
        no_traceback(at)
        assert len(drawn_specs(at)) == n, panel
        assert len(live_charts(at)) == (0 if panel == "test" else n), panel  # the test panel's bars are not live
        if panel == "grad":  # columns and colours by name: a sort given as a list is a formula on every row
            spec = drawn_specs(at)[0]
            lines = spec["spec"]["layer"][0]["encoding"]
            assert spec["facet"]["column"]["sort"] == lines["color"]["sort"] == "ascending"
            assert list(WEIGHTED) == sorted(WEIGHTED)  # the layers' own order is their names'
            assert set(drawn_datasets(at, 0)["data"].layer) == set(WEIGHTED)
        if panel == "hist":  # every layer at once by default: rows conv1 … fc2, columns LeNet | LeNet-BN
            spec = drawn_specs(at)[1]  # activation outputs, sigmoid: a fixed [0, 1] axis in every cell
            assert spec["spec"]["encoding"]["x"]["scale"]["domain"] == [0.0, 1.0]
            assert spec["facet"]["row"]["field"] == "layer" and spec["facet"]["column"]["field"] == "model"
            # Rows and columns sorted by name (a list would be applied before the cells are looked
            # up): the names' order must be the layers' and the models' own.
            assert spec["facet"]["row"]["sort"] == spec["facet"]["column"]["sort"] == "ascending"
            assert list(training.HIDDEN_LAYERS) == sorted(training.HIDDEN_LAYERS)
            assert MODEL_ORDER == sorted(MODEL_ORDER) == ["LeNet", "LeNet-BN"]
            frame = drawn_datasets(at, 1)["data"]  # every capture's histograms: the browser shows one
            assert set(frame.model) == {"LeNet", "LeNet-BN"} and set(frame.layer) == set(training.HIDDEN_LAYERS)
            shares = np.stack(frame.shares.to_list())  # each row a histogram: its bins' shares
            assert shares.shape[1] == 50 and np.allclose(shares.sum(axis=1), 1.0, atol=1e-5)
            assert frame.capture.nunique() == len(drawn_datasets(at, 1)["captures"]) > 1
        if panel in ("hist", "bn"):  # a capture's rows looked up by key: as many places as rows a capture
            spec, frame = drawn_specs(at)[0], drawn_datasets(at, 0)["data"]
            per_row = len(frame.shares.iloc[0]) if panel == "hist" else 1  # a histogram: a place per bin
            cells, rest = divmod(spec["data"]["sequence"]["stop"], per_row)
            assert rest == 0, spec["data"]["sequence"]
            assert cells == 2 * (len(training.HIDDEN_LAYERS) if panel == "hist" else frame.channel.nunique())
            assert (frame.groupby("capture").size() == cells).all()
            assert (frame.key // cells == frame.capture).all() and frame.key.is_unique
        if panel == "test":
            frame = drawn_datasets(at, 0)["data"]
            assert len(frame) == 4 and frame.accuracy.between(0, 1).all()  # running, then batches 1, 8, 64
        if panel == "hand":
            assert any(r"\mu_\mathcal{B}" in f.value for f in at.latex)
        if panel == "smooth":  # each model probed along its own step: the page says so
            assert STRINGS[lang]["bn_probe_own"] in texts(at)
    assert {"bn_dl_csv", "bn_dl_json", "bn_dl_w"} <= {b.key for b in at.get("download_button")}


def test_a_page_run_sends_every_live_chart_whole_with_its_spec_and_the_scrubber(app, configure, lang):
    """A run of the whole page (a first look, a reload, a reconnect) sends each live chart its
    compiled spec and every table whole; the charts of one capture follow the scrubber, which
    starts on the newest capture; hover titles are in the page's language."""
    at = configure(app(PAGE), lang)
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    for panel, followers in (("hist", {"bn_chart_grid_pre", "bn_chart_grid_act"}),
                             ("bn", {"bn_chart_gb", "bn_chart_stats"}), ("grad", {"bn_chart_grad"})):
        open_tab(at, lang, panel)
        charts = live_charts(at)
        assert {c["key"] for c in charts if c["follow"]} == followers, panel
        for chart, drawn in zip(charts, drawn_specs(at)):
            assert chart["spec"]["$schema"].endswith("vega/v6.json")  # Vega, compiled on the server
            # Told to follow its container's width exactly when Vega's width follows it (on a window resize).
            assert chart["fit"] == ("containerSize()" in json.dumps(chart["spec"].get("signals", []))), chart["key"]
            assert all(feed["whole"] for feed in chart["feeds"].values())
            for name, rows in chart["rows"].items():  # the rows sent are every row the chart shows
                assert len(rows) == len(drawn["datasets"][name]), (chart["key"], name)
            assert all(element == "bn-scrub" for element in chart["follow"].values())
            # Hover: values titled in the language, formatted for the item under the pointer only
            # (its own encoding set); at each change an item is given its row.
            tipped = [m["encode"] for m in _marks(chart["spec"]) if "tooltip" in m.get("encode", {}).get(TIP_SET, {})]
            assert all(encode["update"]["tooltip"] == {"signal": "datum"} for encode in tipped), chart["key"]
            assert not any("format(" in json.dumps(encode["update"]) for encode in tipped), chart["key"]
            tips = [json.dumps(encode[TIP_SET]["tooltip"], ensure_ascii=False) for encode in tipped]
            titled = STRINGS[lang]["bn_channel" if chart["key"] in ("bn_chart_gb", "bn_chart_stats") else "bn_model"]
            assert any(titled in tip for tip in tips), (chart["key"], tips)
        [scrub] = [c for c in at.get("bidi_component") if "bn-scrub" in c.proto.json]
        data = json.loads(scrub.proto.json)
        captures = drawn_datasets(at, 0).get("captures")
        if captures is not None:
            assert data["values"]["bn-scrub"] == len(captures) - 1  # on the newest capture


def _marks(spec: dict) -> list[dict]:
    """Every mark of a Vega spec, inside groups (facets) too."""
    found = []
    for mark in spec.get("marks", []):
        found += [mark, *_marks(mark)]
    return found


def test_one_layer_large_is_one_click_away(app, configure):
    at = configure(app(PAGE))
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    open_tab(at, "en", "hist")
    at.toggle(key="bn_grid").set_value(False).run()
    no_traceback(at)
    spec = drawn_specs(at)[1]
    assert "row" not in spec["facet"] and spec["spec"]["encoding"]["x"]["scale"]["domain"] == [0.0, 1.0]
    frame = drawn_datasets(at, 1)["data"]
    last = frame[frame.capture == frame.capture.max()]
    assert set(frame.model) == {"LeNet", "LeNet-BN"} and set(frame.layer) == {at.session_state["bn_layer"]}
    assert np.allclose([shares.sum() for shares in last.shares], [1, 1], atol=1e-5)


def test_controls_change_the_job(app, configure):
    at = configure(app(PAGE), bn_epochs=50)
    s = STRINGS["en"]
    at.button(key="bn_step").click().run()  # one step, then paused
    wait_until(at, lambda a: "step 1/" in progress(a) and s["bn_state_paused"] in progress(a))
    at.button(key="bn_step").click().run()
    wait_until(at, lambda a: "step 2/" in progress(a))
    at.button(key="bn_resume").click().run()
    wait_until(at, lambda a: s["bn_state_running"] in progress(a))
    assert len(training.MANAGER.active()) == 1
    at.button(key="bn_pause").click().run()
    assert s["bn_state_paused"] in progress(at)
    at.button(key="bn_stop").click().run()
    wait_until(at, lambda a: not training.MANAGER.active())
    assert s["bn_stopped"].split("{")[0] in texts(at)
    at.button(key="bn_reset").click().run()
    no_traceback(at)
    assert "step 0/" in progress(at) and s["bn_state_idle"] in progress(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_stop_is_said_at_once_and_the_test_time_demonstration_follows(app, configure, lang, monkeypatch):
    """Stop shows the run's end at once, the test tab saying that its demonstration is being
    measured (the training thread does it after the end); then the page draws its bars."""
    from tests.core.test_training import gated_demonstration

    gate, s = gated_demonstration(monkeypatch), STRINGS[lang]
    at = configure(app(PAGE), lang, bn_epochs=50)
    at.button(key="bn_step").click().run()
    wait_until(at, lambda a: " 1/400 " in progress(a) and s["bn_state_paused"] in progress(a))  # step 1 of 400
    open_tab(at, lang, "test")
    try:
        at.button(key="bn_stop").click().run()
        no_traceback(at)
        assert s["bn_state_measuring"] in progress(at) and s["bn_stopped"].split("{")[0] in texts(at)
        assert s["bn_test_measuring"] in texts(at) and not drawn_specs(at)
        assert training.MANAGER.active()  # the thread measures
    finally:
        gate.set()
    wait_until(at, lambda a: not training.MANAGER.active())
    no_traceback(at)
    assert s["bn_state_stopped"] in progress(at)
    assert s["bn_test_measuring"] not in texts(at) and s["bn_test_when"] not in texts(at)
    assert len(drawn_datasets(at, 0)["data"]) == 4  # eval mode, train mode at 1, 8 and 256


@pytest.mark.parametrize("subset, tested", [(512, 512), (3_000, 2_048), (0, 10_000)])
def test_a_run_on_a_subset_tests_on_as_many_images_and_2048_at_most(app, configure, subset, tested):
    """A training subset tests on 2,048 test images, or on as many as it trains on when it has
    fewer (the 512-image option spent longer testing than training); all images, all 10,000."""
    at = configure(app(PAGE), bn_subset=subset, bn_epochs=1)
    at.button(key="bn_step").click().run()  # one step, then paused: the run is made
    wait_until(at, lambda a: "step 1/" in progress(a))
    [run] = REGISTRY.runs()
    assert (run.job.n_train, run.job.n_test) == (subset or 60_000, tested)


def test_a_refused_start_says_why(app, configure, lang):
    blocker = training.Job(training.TrainConfig(train_limit=512, test_limit=256, epochs=100, batch_size=64),
                    fashion_mnist.synthetic(600, 256), manager=training.MANAGER)
    old_cap = training.MANAGER._cap
    training.MANAGER.cap = 1
    try:
        blocker.start()
        at = configure(app(PAGE), lang)
        at.button(key="bn_start").click().run()
        no_traceback(at)
        assert i18n.text(lang, "err_job_cap", active=1, cap=1) in [w.value for w in at.warning]
        assert training.MANAGER.active() == [blocker]
    finally:
        training.MANAGER.cap = old_cap
        blocker.release()


def test_a_diverged_model_is_shown_and_the_other_trains_on(app, configure, lang):
    at = configure(app(PAGE), lang, bn_lr=10000.0, bn_epochs=3)
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and STRINGS[lang]["bn_state_finished"] in progress(a))
    no_traceback(at)
    err = " ".join(e.value for e in at.error)
    assert "LeNet" in err and "LeNet-BN" in err and str(training.DIVERGED_LOSS).rstrip("0").rstrip(".") in err
    marks = drawn_datasets(at, 0)["marks"]  # the loss chart marks where LeNet diverged
    assert marks.what.tolist() == ["diverged"] and marks.model.tolist() == ["LeNet"]


@pytest.fixture
def data_dirs(tmp_path, monkeypatch):
    return hide_datasets(monkeypatch, tmp_path)


def test_missing_dataset_falls_back_to_labelled_synthetic(app, configure, lang, data_dirs):
    at = configure(app(PAGE), lang)
    no_traceback(at)
    warning = " ".join(w.value for w in at.warning)
    assert STRINGS[lang]["bn_data_synthetic"].split("{")[0] in warning
    assert "dataset-fashion-mnist" in warning and not at.error
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and STRINGS[lang]["bn_state_finished"] in progress(a))
    no_traceback(at)


def test_corrupt_dataset_is_named_and_falls_back(app, lang, data_dirs):
    write_set(data_dirs / "debian")  # right names, wrong checksums
    at = app(PAGE, lang)
    no_traceback(at)
    err = " ".join(e.value for e in at.error)
    assert "train-images-idx3-ubyte.gz" in err
    assert STRINGS[lang]["err_data_checksum"].split("{")[1].split("}")[1][:6] in err
    assert STRINGS[lang]["bn_data_synthetic"].split("{")[0] in " ".join(w.value for w in at.warning)


@pytest.mark.parametrize("query", [{"bn_lr": "abc"}, {"bn_lr": "1e9"}, {"bn_batch": "-3"},
                                   {"bn_device": "cuda:7"}, {"bn_subset": "<script>alert(1)</script>"},
                                   {"bn_epochs": "9" * 400}])
def test_bad_url_values_are_ignored(query):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.switch_page(PAGE).run()  # opened on the page, as a link does
    no_traceback(at)
    key = next(iter(query))
    assert at.session_state[key] == {"bn_lr": 0.9, "bn_batch": 256, "bn_device": "cpu", "bn_subset": 0,
                                     "bn_epochs": 10}[key]


def test_settings_are_kept_in_the_link(app, configure):
    at = configure(app(PAGE), bn_lr=0.3)
    assert at.query_params["bn_lr"] == ["0.3"] or at.query_params["bn_lr"] == "0.3"


def test_the_job_survives_reruns_and_page_switches(app, configure):
    at = configure(app(PAGE), bn_epochs=50)
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: "step 0/" not in progress(a))
    [job] = training.MANAGER.active()
    at.switch_page("pages/ewma.py").run()
    no_traceback(at)
    assert training.MANAGER.active() == [job]  # still training while the student reads page 1
    at.switch_page(PAGE).run()
    wait_until(at, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    assert training.MANAGER.active() == [job] and job.steps_done > 0
    at.button(key="bn_stop").click().run()


def test_the_view_is_in_the_link(configure):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"bn_view": "time", "bn_layer": "fc1", "bn_time_kind": "act"})
    at.switch_page(PAGE).run()  # opened on the page, as a link does
    configure(at)
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    no_traceback(at)
    assert at.session_state["bn_panel"] == STRINGS["en"]["bn_tab_time"]
    assert at.session_state["bn_layer"] == "fc1" and at.session_state["bn_time_kind"] == "act"
    spec = drawn_specs(at)[0]  # the Figure 1 chart of fc1's activation output
    assert spec["layer"][0]["encoding"]["y"]["title"] == STRINGS["en"]["bn_axis_act"]
    open_tab(at, "en", "hist")
    assert at.query_params["bn_view"] in ("hist", ["hist"])


def test_the_open_tab_survives_a_language_switch(app, configure, monkeypatch):
    at = configure(app(PAGE))
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    open_tab(at, "en", "grad")
    set_language(at, "zh")
    monkeypatch.setattr(i18n, "default_language", lambda: "zh")
    at.run()
    no_traceback(at)
    assert at.session_state["bn_panel"] == STRINGS["zh"]["bn_tab_grad"]
    assert len(drawn_specs(at)) == 1  # still the gradients chart


def test_measure_test_time_and_population_statistics_while_paused(app, configure):
    """Measured on demand, for every viewer: a reading is part of the page's shape, so that a fed
    watcher's page is drawn anew when the owner takes one."""
    from bnviz.ui.batchnorm import panels

    at = configure(app(PAGE), bn_epochs=50)
    at.button(key="bn_step").click().run()
    wait_until(at, lambda a: "step 1/" in progress(a) and STRINGS["en"]["bn_state_paused"] in progress(a))
    code = next(c.value for c in at.get("code") if "watch=" in c.value).split("watch=")[1]
    run = REGISTRY.find(code)

    def shape():
        return panels.shape("test", panels.View(run, run.job.snapshot(), owner=False))

    open_tab(at, "en", "test")
    assert not drawn_specs(at) and STRINGS["en"]["bn_test_when"] in texts(at)
    assert shape() == (None, None)
    at.button(key="bn_measure").click().run()
    no_traceback(at)
    frame = drawn_datasets(at, 0)["data"]
    assert len(frame) == 4 and frame.accuracy.between(0, 1).all()
    assert shape() == ((run.job.id, 1), None)
    at.button(key="bn_population").click().run()
    no_traceback(at)
    frame = drawn_datasets(at, 0)["data"]
    assert len(frame) == 6  # + population, population with the unbiased variance
    assert shape() == ((run.job.id, 1), (run.job.id, 1))
    [table] = at.dataframe
    assert list(table.value.iloc[:, 0]) == list(training.HIDDEN_LAYERS) and table.value.shape[1] == 7
    at.button(key="bn_stop").click().run()


def test_the_learning_rate_changes_while_it_trains(app, configure):
    at = configure(app(PAGE), bn_epochs=50)
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    at.select_slider(key="lr_now_lenet_bn").set_value(0.1).run()
    no_traceback(at)
    [job] = training.MANAGER.active()
    wait_until(at, lambda a: job.snapshot().lr_changes)
    step, model, lr = job.snapshot().lr_changes[0]
    assert model == "lenet_bn" and lr == 0.1 and job.snapshot().lrs == (0.9, 0.1)
    wait_until(at, lambda a: (drawn_datasets(a, 0)["marks"].what == "lr").any())  # marked on the loss chart
    at.button(key="bn_stop").click().run()
    csv = bn_frames.history_csv(job.snapshot())
    assert "lr_lenet_bn" in csv.splitlines()[0] and ",0.1," in csv.splitlines()[-1] + ","


def test_a_watcher_sees_the_run_and_has_no_control(app, configure, lang):
    owner = configure(app(PAGE), bn_epochs=50)
    owner.button(key="bn_start").click().run()
    wait_until(owner, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    code = next(c.value for c in owner.get("code") if "watch=" in c.value).split("watch=")[1]
    assert len(code) >= 20
    watcher = AppTest.from_file(APP, default_timeout=60)
    watcher.query_params.update({"watch": code, "lang": lang, "bn_lr": "5", "bn_epochs": "1"})
    watcher.switch_page(PAGE).run()  # opened on the page, as a link does
    no_traceback(watcher)
    assert STRINGS[lang]["watch_watching"] in texts(watcher)
    assert STRINGS[lang]["bn_state_running"] in progress(watcher)
    keys = {b.key for b in watcher.get("button")}
    assert not keys & {"bn_start", "bn_pause", "bn_stop", "bn_reset", "bn_step", "bn_resume"}
    assert not watcher.sidebar.get("form")  # no settings to change
    [job] = training.MANAGER.active()
    assert job.config.lr == 0.9 and job.config.epochs == 50  # the link's settings changed nothing
    owner.run()
    assert STRINGS["en"]["watch_header"].format(n=1) in [e.label for e in owner.expander]
    owner.button(key="bn_stop").click().run()


def test_a_wrong_watch_code_says_so(lang):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"watch": "not-a-real-code-0123456789", "lang": lang})
    at.switch_page(PAGE).run()  # opened on the page, as a link does
    no_traceback(at)
    assert at.error[0].value == STRINGS[lang]["watch_unknown"]


def test_histogram_charts_render_to_svg_with_their_data(app, configure):
    import io
    import zipfile

    from bnviz.ui.classroom import svg_export

    at = configure(app(PAGE))
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    open_tab(at, "en", "hist")
    at.run()
    drawn = list(at.session_state[svg_export._DRAWN])  # the two histogram grids
    assert len(drawn) == 2
    with zipfile.ZipFile(io.BytesIO(svg_export._svg_zip(drawn))) as zf:
        svg = zf.read(zf.namelist()[0]).decode()
    assert "LeNet-BN" in svg and "fc2" in svg and "<path" in svg


def test_figure_1_grows_its_range_through_parameters_and_keeps_its_spec(app, configure):
    """Figure 1's y range follows the data as the run goes; it reaches the chart as the values of
    two parameters, so the spec itself stays the one built once. Rendered (vl-convert), the axis
    spans the range the parameters give."""
    import re

    import vl_convert

    at = configure(app(PAGE))
    at.button(key="bn_start").click().run()
    wait_until(at, lambda a: not training.MANAGER.active() and "16/16" in progress(a))
    open_tab(at, "en", "time")
    no_traceback(at)
    spec = drawn_specs(at)[0]
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"] == {"expr": "[y_lo, y_hi]"}
    values = {p["name"]: p["value"] for p in spec["params"]}
    frame = drawn_datasets(at, 0)["data"]
    lo, hi = frame[["p15", "p85"]].min().min(), frame[["p15", "p85"]].max().max()
    assert values["y_lo"] < lo and values["y_hi"] > hi  # every percentile inside, with room
    assert values["y_hi"] - values["y_lo"] < 1.2 * (hi - lo) + 1.01  # and not much more (5 % each side)
    # The same spec with other values draws another axis: the parameters are what it reads.
    datasets = {name: df.astype({c: str for c in df.select_dtypes("category")}).to_dict("records")
                for name, df in drawn_datasets(at, 0).items()}
    spec["params"] = [{**p, "value": {"y_lo": -7, "y_hi": 7}[p["name"]]} if p["name"] in ("y_lo", "y_hi") else
                      {"name": p["name"], "value": p["value"]}  # the scrubber's, without its control
                      for p in spec["params"]]
    svg = vl_convert.vegalite_to_svg({**spec, "datasets": datasets})
    assert re.search(r"Y-axis[^\"]*values from −7 to 7", svg)


def test_the_owner_sets_the_class_s_refresh_in_the_watch_link(app, configure, lang):
    """A large class on a small server: the owner slows the students' refresh; the link and its
    QR code carry it, and a page opened from it refreshes at that pace."""
    owner = configure(app(PAGE), bn_epochs=50)
    owner.button(key="bn_start").click().run()
    wait_until(owner, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    link = next(c.value for c in owner.get("code") if "watch=" in c.value)
    assert "bn_tick" not in link  # every second, the page's own default
    def qr(at):  # the address of the QR code's image: a hash of its content
        return next(i.url for e in at.get("image") for i in e.proto.imgs if i.caption == STRINGS["en"]["watch_scan"])

    qr_before = qr(owner)
    owner.segmented_control(key="bn_watch_tick").set_value(5.0).run()
    no_traceback(owner)
    link = next(c.value for c in owner.get("code") if "watch=" in c.value)
    assert link.endswith("&bn_tick=5") and qr(owner) != qr_before
    watcher = AppTest.from_file(APP, default_timeout=60)
    watcher.query_params.update({**dict(part.split("=") for part in link.split("?")[1].split("&")), "lang": lang})
    watcher.switch_page(PAGE).run()
    no_traceback(watcher)
    assert watcher.segmented_control(key="bn_tick").value == 5.0
    owner.button(key="bn_stop").click().run()


def test_a_refresh_that_comes_back_empty_keeps_the_value_shown(app, configure):
    """Streamlit's segmented control says None when its browser side sends no selection. A CI
    failure reads so: after a Pause click the owner's page drew "Refresh now" (the refresh off, no
    feed) and never heard that another tab of the owner stopped the run. The refresh, and the
    class's refresh in the watch link, keep what they showed."""
    owner = configure(app(PAGE), bn_epochs=50)
    owner.button(key="bn_start").click().run()
    wait_until(owner, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    owner.segmented_control(key="bn_tick").set_value(2.0).run()
    owner.segmented_control(key="bn_watch_tick").set_value(5.0).run()
    for key in ("bn_tick", "bn_watch_tick"):
        owner.segmented_control(key=key).set_value(None)
    owner.button(key="bn_pause").click().run()
    no_traceback(owner)
    assert STRINGS["en"]["bn_state_paused"] in progress(owner)
    assert owner.segmented_control(key="bn_tick").value == 2.0
    assert not [b for b in owner.button if b.key == "bn_refresh"]
    assert next(c.value for c in owner.get("code") if "watch=" in c.value).endswith("&bn_tick=5")
    owner.segmented_control(key="bn_tick").set_value(0.0).run()  # "off" chosen: on demand, as before
    assert [b for b in owner.button if b.key == "bn_refresh"]
    owner.button(key="bn_stop").click().run()


def test_a_large_class_is_told_its_refresh_was_slowed(app, configure, lang, monkeypatch):
    """Twelve watchers on a server that gives a run's watchers 3 refreshes a second: each page
    refreshes every 4 s instead of 1 s and says why, in its language; so does the owner's box."""
    monkeypatch.setenv("BNVIZ_CLASS_REFRESHES", "3")
    owner = configure(app(PAGE), bn_epochs=50)
    owner.button(key="bn_start").click().run()
    wait_until(owner, lambda a: STRINGS["en"]["bn_state_running"] in progress(a))
    code = next(c.value for c in owner.get("code") if "watch=" in c.value).split("watch=")[1]
    watcher = AppTest.from_file(APP, default_timeout=60)
    watcher.query_params.update({"watch": code, "lang": lang})
    watcher.switch_page(PAGE).run()
    no_traceback(watcher)
    slowed = STRINGS[lang]["watch_slowed"]
    assert not [c for c in watcher.caption if c.value.startswith(slowed[:8])]  # alone: its own 1 s
    [run] = REGISTRY.runs()
    for i in range(11):
        run.seen(f"student-{i}")
    watcher.run()
    no_traceback(watcher)
    assert slowed.format(n=12, s="4") in [c.value for c in watcher.caption]
    owner.run()
    assert STRINGS["en"]["watch_class_slowed"].format(n=12, s="4") in [c.value for c in owner.caption]
    owner.button(key="bn_stop").click().run()


def test_an_unreachable_training_cluster_is_said_and_trainings_run_here(app, configure, lang, monkeypatch):
    """BNVIZ_ENGINE=ray with a head nobody listens at: the page says so in the user's language and
    a Start trains in this process, as without the setting (tests/cluster: the cluster itself)."""
    import socket

    from bnviz.cluster import engine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("BNVIZ_ENGINE", "ray")
    monkeypatch.setenv("RAY_ADDRESS", address)
    engine.reset()
    try:
        at = configure(app(PAGE), lang)
        assert i18n.text(lang, "engine_unreachable", address=address) in [w.value for w in at.warning]
        at.button(key="bn_start").click().run()
        (run,) = REGISTRY.runs()  # this process's registry, not the cluster's
        assert isinstance(run.job, training.Job)
        deadline = time.time() + 60
        while run.job.steps_done == 0 and time.time() < deadline:
            time.sleep(0.1)
        assert run.job.steps_done > 0
        no_traceback(at)
    finally:
        engine.reset()


def test_a_whole_page_run_forgets_a_fed_fragment(app):
    """A fed BatchNorm fragment leaves what its feed computes in the session; a run of any whole
    page forgets it, so that another page's live charts (the sweep's) are never taken for fed
    ones (a fed chart that loses its place waits for a feed instead of asking its page)."""
    from bnviz.ui import page_feed

    at = app("pages/tuning.py")
    at.session_state[page_feed._RUN] = page_feed._Collected()
    at.run()
    assert at.session_state[page_feed._RUN] is None
