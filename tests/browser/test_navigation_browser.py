"""A link to a page that does not exist, in real Chromium: Streamlit shows Home, and the page says
why, in the reader's language, once."""

from playwright.sync_api import expect

from bnviz.ui.strings import STRINGS
from harness.browser import wait_ready
from tests.browser.conftest import no_exception


def test_an_unknown_page_path_opens_home_and_says_so(contexts, server):
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
        page = contexts(locale=locale, viewport={"width": 1280, "height": 900}).new_page()
        page.goto(server.url("optimisers?sx=1"))  # a typo of /optimizers
        wait_ready(page, timeout=60_000)
        s = STRINGS[lang]
        expect(page.get_by_role("heading", name=s["app_title"]).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text(s["page_unknown"].format(path="optimisers"))).to_be_visible(timeout=20_000)
        no_exception(page)
    page = contexts(locale="en-US").new_page()
    page.goto(server.url("optimizers"))  # a page that exists says nothing of the kind
    wait_ready(page, timeout=60_000)
    expect(page.get_by_role("heading", name=STRINGS["en"]["opt_title"]).first).to_be_visible(timeout=30_000)
    assert page.get_by_text(STRINGS["en"]["page_unknown"].split("“")[0]).count() == 0
