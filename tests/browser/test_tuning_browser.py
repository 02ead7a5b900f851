"""The tuning page in real Chromium: the seed and the rounds redraw every chart in the browser with
no server run; the table follows once the slider is let go; the page in Chinese."""

import re
import time

from playwright.sync_api import expect

from bnviz.ui.strings import STRINGS
from harness.browser import ROOT, chart_pixels, drag, open_page, redrawn, runs_seen, screenshot, wait_ready, watch_runs
from tests.browser.conftest import no_exception

EN, ZH = STRINGS["en"], STRINGS["zh"]
CANVAS = "[data-testid='stVegaLiteChart'] canvas"


def _late(route):
    """Streamlit's custom components load 3 s late: every chart is drawn before the live panel."""
    response = route.fetch()
    time.sleep(3)
    route.fulfill(response=response)


def test_the_seed_redraws_every_chart_with_no_server_run(page, server):
    said = []  # what the page printed: a chart whose input was not found says so there

    def heard(message):
        said.append(f"{message.type}: {message.text}")
    page.on("console", heard)
    # Each element of a page is a part loaded when first needed; on a busy machine the charts'
    # came before the panel's, and a chart drawn before its input never moved (twice in CI).
    page.route("**/BidiComponent.*.js", _late)
    open_page(page, server, "tuning", EN["tune_title"])
    page.unroute("**/BidiComponent.*.js", _late)
    page.locator(CANVAS).nth(3).wait_for(timeout=30_000)
    page.wait_for_timeout(800)
    screenshot(page, str(ROOT / "docs" / "screenshots" / "tuning.png"))
    before = [chart_pixels(page, i) for i in range(4)]  # search, α against ε, coarse to fine, β samples
    table = page.locator("[data-testid='stTable']").first.inner_text()
    watch_runs(page)
    seed = page.locator("#tune-seed").input_value()
    drag(page, "#tune-seed", to=0.5)  # another draw of the random points, the mouse still pressed
    page.wait_for_timeout(300)
    assert runs_seen(page) == 0
    still = [i for i, b in enumerate(before) if not redrawn(page, b, i)]  # the points of every chart moved
    assert not still, (f"charts {still} of 4 not redrawn; seed {seed} → {page.locator('#tune-seed').input_value()}; "
                       f"{len(page.locator(CANVAS).all())} canvases; the page said: {said[-12:]}")
    assert runs_seen(page) == 0  # drawn in the browser: the mouse is still pressed
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"[?&]tseed=\d+"), timeout=20_000)  # committed on release
    wait_ready(page)
    assert runs_seen(page) == 1
    assert page.locator("[data-testid='stTable']").first.inner_text() != table  # the table follows
    # Fewer rounds of coarse to fine: its chart changes.
    before = [chart_pixels(page, i) for i in range(4)]
    drag(page, "#tune-rounds", to=0.0)
    page.mouse.up()
    wait_ready(page)
    after = [chart_pixels(page, i) for i in range(4)]
    assert after[2] != before[2]
    no_exception(page)
    page.remove_listener("console", heard)


def test_the_page_in_chinese(page, server):
    open_page(page, server, "tuning?lang=zh", ZH["tune_title"])
    page.locator(CANVAS).nth(2).wait_for(timeout=30_000)
    expect(page.get_by_text(ZH["tune_strategy_grid"]).first).to_be_visible()
    assert "Strategy" not in page.inner_text("[data-testid='stMain']")
    no_exception(page)


FRESH = "[data-testid='stElementContainer']:not([data-stale='true'])"  # drawn by the current run


def test_the_learning_rate_sweep_starts_draws_and_stops(page, server):
    open_page(page, server, "tuning?sw_subset=3000&sw_epochs=1", EN["tune_title"])
    page.get_by_role("button", name=EN["sweep_start"]).click()
    progress = page.locator("[data-testid='stProgress']").first
    expect(progress).to_contain_text(EN["sweep_state_running"], timeout=30_000)
    page.locator(CANVAS).nth(3).wait_for(timeout=60_000)  # the loss of every run, drawn while it trains
    page.get_by_role("button", name=EN["sweep_stop"]).click()
    expect(progress).to_contain_text(re.compile(f"{EN['sweep_state_stopped']}|{EN['sweep_state_finished']}"),
                                     timeout=60_000)
    # The Start button of the page as drawn now: during a run Streamlit keeps the last run's
    # elements (marked stale) beside the new ones until it ends (a CI run found two Start buttons).
    start = page.locator(FRESH).get_by_role("button", name=EN["sweep_start"])
    expect(start).to_be_enabled(timeout=20_000)
    # A sweep over the cap, typed: said in words, Start off; a usable one turns it back on.
    k = page.get_by_role("spinbutton", name=EN["sweep_k"])
    k.fill("40")
    k.press("Enter")
    expect(page.get_by_text(EN["err_sweep_too_many"].format(k=40, models_asked=80, max=15, models=30))).to_be_visible(
        timeout=20_000)
    wait_ready(page)
    expect(start).to_be_disabled()
    k.fill("5")
    k.press("Enter")
    expect(page.get_by_text(EN["sweep_rates"].format(rates="0.01, 0.1, 1, 10, 100", models=10))).to_be_visible(
        timeout=20_000)
    wait_ready(page)
    expect(start).to_be_enabled()
    # Panda: one of the rates, opened on the BatchNorm page's live view.
    page.get_by_role("button", name=EN["sweep_panda_go"].format(lr=1.0)).click()
    expect(page).to_have_url(re.compile(r"batchnorm.*bn_lr=1\b"), timeout=30_000)
    expect(page.get_by_role("heading", name=EN["bn_title"])).to_be_visible(timeout=30_000)
    no_exception(page)
