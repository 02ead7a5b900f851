"""The optimizer page in real Chromium: surface drawn, click moves the start, the step, α and β
answer in the browser, Play animates and ends, hovering the loss chart moves the step, presets."""

import re

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from bnviz.ui.strings import STRINGS
from harness.browser import (
    ROOT,
    chart_pixels,
    drag,
    open_page,
    redrawn,
    runs_seen,
    screenshot,
    settled_pixels,
    wait_ready,
    watch_runs,
)
from tests.browser.conftest import no_exception

EN = STRINGS["en"]
CHART = "[data-testid='stVegaLiteChart']"
STEP = "#opt-step"


def start_x(page) -> str:
    return page.get_by_label(EN["start_x"]).input_value()


def ready_charts(page, n: int = 2):
    page.wait_for_function(f"document.querySelectorAll(\"{CHART} canvas\").length >= {n}", timeout=30_000)
    page.wait_for_timeout(800)


# CSS pixels from a canvas's top to its first row drawn in colour, down its middle column.
FIRST_COLOURED_ROW = """c => { const g = c.getContext("2d"), x = Math.round(c.width / 2);
  const px = g.getImageData(x, 0, 1, c.height).data;
  for (let y = 0; y < c.height; y++) if (Math.max(px[4 * y], px[4 * y + 1], px[4 * y + 2]) < 245)
    return y * c.getBoundingClientRect().height / c.height;
  return Infinity; }"""
# The share of a canvas's row a third of the way down, from CSS px 60 to 200 (the plot's left end,
# past the y axis), that is drawn in colour.
LEFT_END_COLOURED = """c => { const g = c.getContext("2d"), k = c.width / c.getBoundingClientRect().width;
  const px = g.getImageData(Math.round(60 * k), Math.round(c.height / 3), Math.round(140 * k), 1).data;
  let n = 0; for (let i = 0; i < px.length; i += 4) if (Math.max(px[i], px[i + 1], px[i + 2]) < 245) n++;
  return n / (px.length / 4); }"""


def test_surface_is_drawn_and_a_click_moves_the_start(page, server):
    open_page(page, server, "optimizers", EN["opt_title"])
    chart = page.locator(CHART).first
    chart.locator("canvas, svg.marks").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    no_exception(page)
    screenshot(page, str(ROOT / "docs" / "screenshots" / "optimizers.png"))
    assert start_x(page) == "-8"
    box = chart.locator("canvas, svg.marks").first.bounding_box()
    # right of centre, inside the plot area: x > 0 on the valley's domain [-10, 10]
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.35)
    expect(page.get_by_label(EN["start_x"])).not_to_have_value("-8", timeout=20_000)
    wait_ready(page)
    assert float(start_x(page)) > 0
    no_exception(page)
    # On a projector the chart shows x far beyond the valley's ±10 (x and y keep the same units per
    # pixel): the heatmap fills the plot to its edges (there were white bands), and a click left of
    # the domain starts the paths on its edge, x = −10.
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(1500)
    canvas = chart.locator("canvas").first
    assert canvas.evaluate(FIRST_COLOURED_ROW) <= 12 and canvas.evaluate(LEFT_END_COLOURED) == 1
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 60, box["y"] + box["height"] * 0.3)
    expect(page.get_by_label(EN["start_x"])).to_have_value("-10", timeout=20_000)
    wait_ready(page)
    no_exception(page)


def test_play_runs_in_the_browser_through_every_step_and_ends(page, server):
    open_page(page, server, "optimizers?steps=60&step=0", EN["opt_title"])
    ready_charts(page)
    watch_runs(page)
    before = settled_pixels(page)
    page.locator("[data-row='opt-play'] button").click()
    seen = set()
    for _ in range(200):
        seen.add(int(page.locator(STEP).input_value()))
        if 60 in seen:
            break
        page.wait_for_timeout(20)
    assert len(seen) >= 10 and max(seen) == 60, seen  # it moved on its own, frame after frame
    expect(page.locator("[data-row='opt-play'] button")).to_have_text(EN["play"], timeout=20_000)  # ended
    expect(page).to_have_url(re.compile(r"steps=60"))
    wait_ready(page)
    assert settled_pixels(page) != before  # read once the end's commit has run and the chart settled
    assert runs_seen(page) <= 1  # the end is committed once; no run during the animation
    no_exception(page)


def test_dragging_alpha_redraws_the_paths_with_no_server_run(page, server):
    open_page(page, server, "optimizers", EN["opt_title"])
    ready_charts(page)
    before = chart_pixels(page)
    watch_runs(page)
    drag(page, "#opt-lr", to=0.0)  # α down to 1e-4, still pressed
    page.wait_for_timeout(300)
    assert runs_seen(page) == 0
    expect(page.locator("[data-row='opt-lr'] output")).to_have_text("0.0001")
    assert redrawn(page, before)
    assert runs_seen(page) == 0  # drawn in the browser: the mouse is still pressed
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"[?&]lr=0\.0001"), timeout=20_000)
    no_exception(page)


def test_a_divergence_warning_leaves_the_sliders_where_they_are(page, server):
    """Letting go of α where a run diverges brings its warning; the sliders stay under the finger
    (the warning above them pushed them ~55 px down)."""
    open_page(page, server, "optimizers", EN["opt_title"])
    ready_charts(page)
    slider = page.locator("#opt-lr")
    top = slider.bounding_box()["y"]
    drag(page, "#opt-lr", to=1.0)  # α up to the largest: gradient descent diverges on the valley
    page.mouse.up()
    expect(page.locator("[data-testid='stAlert']").first).to_be_visible(timeout=20_000)
    wait_ready(page)
    page.wait_for_timeout(500)
    assert abs(slider.bounding_box()["y"] - top) <= 2
    no_exception(page)


def test_pointing_at_the_loss_chart_moves_the_step_everywhere(page, server):
    open_page(page, server, "optimizers", EN["opt_title"])
    ready_charts(page)
    loss = page.locator(CHART).nth(1)
    loss.scroll_into_view_if_needed()
    box = loss.locator("canvas").first.bounding_box()
    before = chart_pixels(page)
    # Inside the plot (the chart's height holds the axis and the legend below it too).
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.2)
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2)
    page.wait_for_function(f"+document.querySelector('{STEP}').value < 100", timeout=10_000)
    assert redrawn(page, before)  # the contour follows
    step = page.locator(STEP).input_value()
    expect(page.locator("[data-row='opt-step'] output")).to_have_text(f"step {step} of 150")
    no_exception(page)


def test_a_link_opens_at_its_step_and_a_bad_formula_keeps_the_settings(page, server):
    open_page(page, server, "optimizers?step=40&lr=0.2", EN["opt_title"])
    expect(page.locator("[data-row='opt-step'] output")).to_have_text("step 40 of 150")
    expect(page.locator("[data-row='opt-lr'] output")).to_have_text("0.2")
    open_page(page, server, "optimizers?surf=custom&sx=1.5&step=40", EN["opt_title"])
    ready_charts(page)
    box = page.get_by_label(EN["custom_expr"], exact=True).and_(page.get_by_test_id("stTextInputField"))
    box.fill("x +")
    box.press("Enter")
    page.get_by_text(EN["err_expr_syntax"]).wait_for(timeout=20_000)
    wait_ready(page)
    box.fill("(x-1)**2 + 2*(y+0.5)**2")
    box.press("Enter")
    ready_charts(page)
    wait_ready(page)
    assert start_x(page) == "1.5"
    expect(page.locator("[data-row='opt-step'] output")).to_have_text("step 40 of 150")
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
    expect(page.locator("[data-row='opt-step'] output")).to_have_text("step 500 of 500")
    no_exception(page)
