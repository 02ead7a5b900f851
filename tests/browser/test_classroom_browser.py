"""Classroom features in real Chromium: every chart offers PNG and its data as CSV (presenter mode:
test_devices_browser.py)."""

import pytest

from bnviz.ui.strings import STRINGS
from tests.browser.conftest import no_exception
from tests.browser.harness import open_page

EN = STRINGS["en"]
CHART = "[data-testid='stVegaLiteChart']"


@pytest.mark.parametrize("path, title", [("ewma", EN["ewma_title"]), ("optimizers", EN["opt_title"])])
def test_every_chart_saves_as_png_and_shows_its_data(page, server, path, title):
    open_page(page, server, path, title)
    charts = page.locator(CHART)
    charts.first.locator("canvas").first.wait_for(timeout=30_000)
    page.wait_for_function(f"() => document.querySelectorAll(\"{CHART}\").length >= 2", timeout=30_000)
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        chart.hover()
        toolbar = page.locator("[data-testid='stElementToolbar']").filter(
            has=page.get_by_role("button", name="Download as PNG")).last
        toolbar.get_by_role("button", name="Show data").wait_for(timeout=10_000)
    # One PNG actually downloaded: a real image, not an empty file.
    chart = charts.first
    chart.scroll_into_view_if_needed()
    chart.hover()
    button = page.get_by_role("button", name="Download as PNG").first
    with page.expect_download(timeout=20_000) as info:
        # By keyboard: a click may land on the page header or a chart drawn over the toolbar.
        button.focus()
        page.keyboard.press("Enter")
    data = open(info.value.path(), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    no_exception(page)
