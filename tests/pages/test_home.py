from bnviz.ui.strings import STRINGS
from tests.pages.conftest import no_traceback, set_language, texts


def test_home_in_each_language(app, lang):
    at = app("pages/home.py", lang)
    no_traceback(at)
    assert at.title[0].value == STRINGS[lang]["app_title"]
    assert STRINGS[lang]["home_ewma"] in texts(at) and STRINGS[lang]["home_tune"] in texts(at)
    links = [link.proto.page for link in at.get("page_link")]
    assert links == ["ewma", "optimizers", "batchnorm", "tuning", "class"], links
    assert STRINGS[lang]["home_class"] in texts(at)


def test_language_switch_in_sidebar(app):
    at = app()
    assert at.title[0].value == STRINGS["en"]["app_title"]
    assert at.sidebar.segmented_control(key="lang").value == "en"
    set_language(at, "zh")
    assert at.title[0].value == STRINGS["zh"]["app_title"]
    # the choice follows the user to another page
    at.switch_page("pages/ewma.py").run()
    assert at.title[0].value == STRINGS["zh"]["ewma_title"]


def test_language_from_the_link(app):
    from streamlit.testing.v1 import AppTest

    from tests.pages.conftest import APP

    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "zh"
    at.run()
    assert at.title[0].value == STRINGS["zh"]["app_title"]
    bad = AppTest.from_file(APP, default_timeout=60)
    bad.query_params["lang"] = "<script>alert(1)</script>"
    bad.run()
    no_traceback(bad)
    assert bad.title[0].value == STRINGS["en"]["app_title"]
    assert "lang" in bad.toast[0].value
