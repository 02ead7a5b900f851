"""The optimizer page in real Chromium: surface drawn, click moves the start, Play animates, presets."""

import re

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from bnviz.ui.strings import STRINGS
from tests.browser.conftest import no_exception
from tests.browser.harness import ROOT, open_page, wait_ready

EN = STRINGS["en"]
CHART = "[data-testid='stVegaLiteChart']"


def start_x(page) -> str:
    return page.get_by_label(EN["start_x"]).input_value()


def test_surface_is_drawn_and_a_click_moves_the_start(page, server):
    open_page(page, server, "optimizers", EN["opt_title"])
    chart = page.locator(CHART).first
    chart.locator("canvas, svg.marks").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    no_exception(page)
    page.screenshot(path=str(ROOT / "docs" / "screenshots" / "optimizers.png"))
    assert start_x(page) == "-8"
    box = chart.locator("canvas, svg.marks").first.bounding_box()
    # right of centre, inside the plot area: x > 0 on the valley's domain [-10, 10]
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.35)
    expect(page.get_by_label(EN["start_x"])).not_to_have_value("-8", timeout=20_000)
    wait_ready(page)
    assert float(start_x(page)) > 0
    no_exception(page)


def test_play_animates_the_step_scrubber(page, server):
    open_page(page, server, "optimizers?steps=60", EN["opt_title"])
    page.locator(CHART).first.wait_for()
    page.get_by_role("button", name=EN["play"]).click()
    slider = page.locator("[data-testid='stMain'] input[type='range']").first
    seen = set()
    for _ in range(60):
        seen.add(int(slider.input_value()))
        if len(seen) >= 4:
            break
        page.wait_for_timeout(250)
    assert len(seen) >= 4, seen  # the scrubber moved on its own, tick after tick
    # back to Play at the end (40 ticks of 0.25 s; a loaded CI machine needs longer)
    page.get_by_role("button", name=EN["play"]).wait_for(timeout=90_000)
    assert int(slider.input_value()) == 60
    no_exception(page)


def test_preset_from_the_notes_and_link(page, server):
    open_page(page, server, "optimizers", EN["opt_title"])
    option = page.get_by_role("option", name=EN["preset_adam"])
    for _ in range(3):  # a click that lands while the page is still wiring up opens nothing
        page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
        try:
            option.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    option.click()
    page.get_by_role("button", name=EN["preset_apply"]).click()
    expect(page).to_have_url(re.compile(r"surf=rosenbrock"), timeout=20_000)
    wait_ready(page)
    expect(page.locator(CHART)).to_have_count(2)
    no_exception(page)
