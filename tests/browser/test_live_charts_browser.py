"""The BatchNorm page's live charts in real Chromium: mounted once, grown by the rows a refresh
brings (the node and its canvas kept, no row twice, none missing; the histogram grid and γ, β
their newest capture alone until the scrubber is touched, then their whole history), fed by the
page's own asks with no script run (lost answers and a dropped websocket made up), sent whole after
a Reset, sized once it has something to show; the step scrubber moves every panel with no server
run; values on hover, in both languages."""

import re

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bnviz.batchnorm.models import HIDDEN_LAYERS, WIDTHS
from bnviz.ui.batchnorm.session import VIEW
from bnviz.ui.strings import STRINGS
from harness.browser import FEED_TRAIL, PROGRESS, ROOT, count_runs, open_page, runs_seen, wait_ready, watch_runs
from tests.browser.conftest import SOCKETS, no_exception, start

EN, ZH = STRINGS["en"], STRINGS["zh"]
STEP_ZH = re.compile(r"第 (\d+)/\d+ 步")
STEP_EN = re.compile(r"step (\d+)/")
WATCH_CODE = re.compile(r"watch=([A-Za-z0-9_-]{20,})")
# ~9,400 steps: trains for two minutes or more here (and outlasts the test on a faster machine: it is
# stopped at the end), its 469 captures never thinned (500 at most: a thinned history is a new
# source, sent whole).
LONG = "batchnorm?bn_subset=30000&bn_epochs=20&bn_batch=64&bn_every=20"
SHORT = "batchnorm?bn_subset=3000&bn_epochs=1&bn_batch=64&bn_every=2"
GRID = "bn_chart_grid_pre"
CELLS = 2 * len(HIDDEN_LAYERS)  # histograms of a capture in a grid: every hidden layer, both models
STATS_CHART = "bn_chart_stats"  # running vs batch statistics (Inside BatchNorm): fed
PROBE_CHART = "bn_chart_probe_variation"  # the smoothness probe: fed
SWEEP_CHART = "sweep_chart_loss"  # the tuning page's sweep: refreshed by running its fragment

STATS = """key => { const s = (window.bnvizCharts || {})[key];
    return s ? {rows: s.received.data || 0, wholes: s.wholes, builds: s.builds, asks: s.asks,
                messages: s.messages} : null; }"""
# What the histogram grid holds in the browser: its rows, each histogram (capture, model, layer) once,
# and which captures they cover against the captures it can show.
HELD = """key => { const view = window.bnvizCharts[key].node.bnviz.view;
    const rows = view.data("data"), steps = view.data("captures").map(r => r.step);
    return {rows: rows.length, distinct: new Set(rows.map(r => [r.capture, r.model, r.layer].join())).size,
            covered: new Set(rows.map(r => r.capture)).size, captures: steps.length, first_step: steps[0]}; }"""
# Both read once the chart has drawn every message it counted (a message's rows are counted when it
# arrives and are in the view once drawn: read between the two, the chart held a capture less than
# it had counted, twice in CI), and in one task of the page, so that no message comes between them.
COUNTED_AND_HELD = f"""async key => {{ const state = window.bnvizCharts[key].node.bnviz;
    for (let i = 0; i < 200; i++) {{
        const queue = state.queue;
        await queue;
        if (queue === state.queue && !Object.keys(state.pending).length) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }}
    return [({STATS})(key), ({HELD})(key)]; }}"""
# Each histogram's sample and shares as the chart holds them: (capture, model, layer) → [sample, shares].
SHARES = """key => { const out = {};
    for (const r of window.bnvizCharts[key].node.bnviz.view.data("data"))
        out[[r.capture, r.model, r.layer].join()] = [r.sample, Array.from(r.shares)];
    return out; }"""
MARK = """key => { const node = window.bnvizCharts[key].node; node.bnvizKept = true;
    node.querySelector("canvas").bnvizKept = true; }"""
KEPT = """key => { const node = window.bnvizCharts[key].node;
    return node.isConnected && node.bnvizKept === true && node.querySelector("canvas").bnvizKept === true; }"""


# The version the chart holds made wrong, as if a message had been lost: the next delta does not follow.
LOSE_PLACE = """key => { const state = window.bnvizCharts[key].node.bnviz;
    for (const name of Object.keys(state.held)) state.held[name].version = -1; }"""
LIVE_CHART_JS = ROOT / "static" / "live_chart.js"
# Each draw of the chart held back 2.5 s (the polls go on every second), and back to normal.
SLOW_DRAWS = """key => { const view = window.bnvizCharts[key].node.bnviz.view, run = view.runAsync.bind(view);
    view.bnvizRun = run;
    view.runAsync = async () => { await new Promise((resolve) => setTimeout(resolve, 2500)); return run(); }; }"""
FAST_DRAWS = "key => { const view = window.bnvizCharts[key].node.bnviz.view; view.runAsync = view.bnvizRun; }"


def tailed(held: str, rows: int) -> str:
    """A chart that tails its history (``held``: what it holds, by key) holds its newest capture
    alone, ``rows`` rows of it, none twice, while the scrubber spans several."""
    return f"""key => {{ const held = ({held})(key);
    return held.covered === 1 && held.rows === held.distinct && held.rows === {rows} && held.captures > 1; }}"""


def full(held: str) -> str:
    """A chart that tails its history holds every capture the scrubber spans, none twice."""
    return f"""key => {{ const held = ({held})(key);
    return held.covered === held.captures && held.rows === held.distinct && held.captures > 1; }}"""


# The grid holds its newest capture alone (one row per histogram, none missing) while its scrubber
# follows the newest capture, and every capture once the scrubber has been touched.
TAILED, FULL = tailed(HELD, CELLS), full(HELD)
TOUCH = """() => { const el = document.getElementById("bn-scrub"); el.blur(); el.focus(); }"""
# The same for γ and β (Inside BatchNorm, the default layer's channels, both parameters).
GB_CHART = "bn_chart_gb"
GB_HELD = """key => { const rows = window.bnvizCharts[key].node.bnviz.view.data("data");
    return {rows: rows.length, distinct: new Set(rows.map(r => r.key)).size,
            covered: new Set(rows.map(r => r.capture)).size,
            captures: Number(document.getElementById("bn-scrub").max) + 1}; }"""
GB_TAILED, GB_FULL = tailed(GB_HELD, 2 * WIDTHS[VIEW["layer"].default]), full(GB_HELD)


def touch_scrubber(page) -> None:
    """The scrubber touched (focused, as a finger or a Tab key does): the grid asks for its history."""
    page.evaluate(TOUCH)
    page.wait_for_function(FULL, arg=GRID, timeout=30_000)


def stats(page, key=GRID) -> dict:
    return page.evaluate(STATS, key)


def wait_chart(page, key: str, condition: str, what: str, timeout: float = 60_000) -> dict:
    """``key``'s stats once ``condition`` (JavaScript on its counters ``s``) holds; else a failure
    saying what the chart and the feed went through (for failures seen in CI only)."""
    try:
        page.wait_for_function(f"key => {{ const s = (window.bnvizCharts || {{}})[key] || {{}}; return {condition}; }}",
                               arg=key, timeout=timeout)
    except PlaywrightTimeout:
        raise AssertionError(f"{key}: {what}; {stats(page, key)}; feed {page.evaluate(FEED_TRAIL)}") from None
    return stats(page, key)


def wait_messages(page, key: str, at_least: int, timeout: float = 60_000) -> dict:
    return wait_chart(page, key, f"s.messages >= {at_least}", f"{at_least} messages not reached", timeout)


def wait_rows(page, key: str, more_than: int, timeout: float = 60_000) -> dict:
    """A message may bring no row (no capture made since the last: on a busy machine the run
    takes seconds between captures): this waits for the rows themselves."""
    return wait_chart(page, key, f"s.received?.data > {more_than}", f"no more than {more_than} rows", timeout)


def open_histograms(page, lang: str = "en") -> None:
    """The histograms tab, its first chart in sight (a chart out of sight is drawn when it comes into sight)."""
    page.get_by_role("tab", name=STRINGS[lang]["bn_tab_hist"]).click()
    page.locator(".bnviz-chart canvas >> visible=true").first.wait_for(timeout=60_000)
    page.locator(".bnviz-chart >> visible=true").first.scroll_into_view_if_needed()


def test_a_live_chart_grows_in_place_fed_with_no_script_run_and_is_sent_whole_after_a_reset(contexts, server):
    context = contexts(viewport={"width": 1400, "height": 1100}, locale="en-US")
    page = context.new_page()
    count_runs(page)
    open_page(page, server, LONG + "&lang=zh", ZH["bn_title"])
    start(page, ZH["bn_start"], page.get_by_role("button", name=ZH["bn_pause"]))
    open_histograms(page, "zh")
    wait_messages(page, GRID, 2)
    watch_runs(page)
    watched, polled = stats(page), page.evaluate("window.bnvizFeed.polls")
    # While the scrubber follows the newest capture, the grid tails its history: each refresh brings
    # the newest capture's rows alone, in place of the last (not every capture made since), ...
    page.wait_for_function(TAILED, arg=GRID, timeout=30_000)
    tailing = stats(page)
    wait_messages(page, GRID, tailing["messages"] + 3)
    tailed = wait_rows(page, GRID, tailing["rows"])
    assert 0 < tailed["rows"] - tailing["rows"] <= CELLS * (tailed["messages"] - tailing["messages"])
    assert page.evaluate(TAILED, GRID)
    # ... and once the scrubber is touched, the whole history comes, then grows capture by capture.
    touch_scrubber(page)
    page.evaluate(MARK, GRID)
    first, held_first = page.evaluate(COUNTED_AND_HELD, GRID)
    wait_messages(page, GRID, first["messages"] + 4)
    wait_rows(page, GRID, first["rows"] + CELLS)  # two captures or more
    later, held_later = page.evaluate(COUNTED_AND_HELD, GRID)
    # The same node and canvas, one view built, nothing sent whole again, nothing asked again …
    assert page.evaluate(KEPT, GRID)
    assert (later["builds"], later["wholes"], later["asks"]) == (first["builds"], first["wholes"], 0)
    # … and what arrived is exactly what the chart gained: no row twice, no capture missing.
    assert held_later["captures"] > held_first["captures"]
    assert later["rows"] - first["rows"] == held_later["rows"] - held_first["rows"] > 0
    assert held_later["distinct"] == held_later["rows"] and held_later["covered"] == held_later["captures"]
    per_refresh = (later["rows"] - first["rows"]) / (later["messages"] - first["messages"])
    assert per_refresh < held_later["rows"] / 3  # a refresh brings a capture or two, not the history
    # The scrubber grows with the chart, fed the same way: its positions' steps once whole, then
    # only the new ones, none twice, none missing.
    page.wait_for_function(SPANS, arg=GRID, timeout=30_000)
    grown = page.evaluate(GROWN)
    assert grown["wholes"] >= 1 and grown["since"] > 0 and grown["whole"] + grown["since"] == grown["held"]
    assert grown["held"] == grown["max"] + 1 and len(set(grown["steps"])) == grown["held"]

    # Fed (the page asks the server for its rows, no script run): answers lost on the way are made
    # up by the next one — no row twice, none missing, nothing sent whole — and a chart that holds
    # rows it cannot name (its versions lost) is sent everything in their place.
    # (Every message since the runs are watched came with a poll, but one asked just before.)
    polls = page.evaluate("window.bnvizFeed.polls") - polled
    assert runs_seen(page) == 0 and polls >= later["messages"] - watched["messages"] - 1 > 0
    # … and the status line, fed too, follows the run in the page's language.
    step = int(STEP_ZH.search(page.locator(PROGRESS).first.inner_text()).group(1))
    page.wait_for_function("([selector, step]) => Number(/第 (\\d+)\\/\\d+ 步/.exec("
                           "document.querySelector(selector).innerText)[1]) > step", arg=[PROGRESS, step],
                           timeout=30_000)
    assert runs_seen(page) == 0
    lost = {"n": 0}

    def drop(route):
        lost["n"] += 1
        route.abort() if lost["n"] <= 3 else route.continue_()

    page.route("**/bnviz/feed", drop)
    before = stats(page)
    wait_messages(page, GRID, before["messages"] + 2)
    page.unroute("**/bnviz/feed")
    assert lost["n"] > 3
    held = page.evaluate(HELD, GRID)
    assert held["distinct"] == held["rows"] and held["covered"] == held["captures"]
    assert (stats(page)["wholes"], stats(page)["asks"]) == (before["wholes"], 0)
    # Slow draws (a phone, a busy machine: each held 2.5 s) while the page polls every second: a
    # poll sent meanwhile asks from what the chart will hold once its queued answers are drawn —
    # nothing asked, nothing sent whole, no row twice, none missing. (It asked from what the chart
    # held: the answer then did not follow the one drawn meanwhile, and the chart asked for all.)
    slow = stats(page)
    page.evaluate(SLOW_DRAWS, GRID)
    wait_messages(page, GRID, slow["messages"] + 4)
    page.evaluate(FAST_DRAWS, GRID)
    counted, held = page.evaluate(COUNTED_AND_HELD, GRID)
    assert (counted["wholes"], counted["asks"]) == (slow["wholes"], 0)
    assert held["distinct"] == held["rows"] and held["covered"] == held["captures"]
    shares_before = page.evaluate(SHARES, GRID)  # the first captures came with the page's run (float32), the rest fed
    page.evaluate(LOSE_PLACE, GRID)
    page.wait_for_function(f"key => window.bnvizCharts[key].wholes > {before['wholes']}", arg=GRID, timeout=30_000)
    held = page.evaluate(HELD, GRID)
    assert held["distinct"] == held["rows"] and held["covered"] == held["captures"]
    assert page.evaluate(KEPT, GRID)  # recovered in place
    # The feed sends a histogram's shares as counts over its sample: read back, they are the float32
    # numbers the page's run sent for its first captures (now all sent whole by the feed), and
    # every share is a count over the sample, the counts adding up to it.
    shares_after = page.evaluate(SHARES, GRID)
    assert set(shares_before) <= set(shares_after)
    for key, (sample, shares) in shares_before.items():
        assert shares_after[key][0] == sample
        np.testing.assert_allclose(shares_after[key][1], shares, rtol=0, atol=1e-7, err_msg=key)
    for key, (sample, shares) in shares_after.items():
        counts = np.asarray(shares) * sample
        assert sample > 0 and np.abs(counts - np.rint(counts)).max() < 1e-3 and np.rint(counts).sum() == sample, key

    # Inside BatchNorm and the smoothness probe are fed too: their charts grow with no script run
    # once their tab is drawn (the probe's first measure draws its tab anew: its shape).
    for tab, key in (("bn_tab_bn", STATS_CHART), ("bn_tab_smooth", PROBE_CHART)):
        page.get_by_role("tab", name=ZH[tab]).click()
        grown = wait_messages(page, key, 2)
        watch_runs(page)
        wait_messages(page, key, grown["messages"] + 3)
        # On failure, what the chart and the feed went through (seen once in a clean clone's run).
        assert runs_seen(page) == 0 and stats(page, key)["wholes"] == grown["wholes"], \
            f"{tab}: {grown} then {stats(page, key)}; feed {page.evaluate(FEED_TRAIL)}"
        if tab == "bn_tab_bn":  # γ and β tail their history as the grid does (scrolled into sight: drawn)
            page.evaluate("key => window.bnvizCharts[key].node.scrollIntoView()", GB_CHART)
            page.wait_for_function(GB_TAILED, arg=GB_CHART, timeout=30_000)
            page.evaluate(TOUCH)
            page.wait_for_function(GB_FULL, arg=GB_CHART, timeout=30_000)
            assert runs_seen(page) == 0
    # One batch by hand: its numbers follow the training (a new batch each step), with no script
    # run; the test panel, whose readings are taken when asked, is fed with nothing to change.
    page.get_by_role("tab", name=ZH["bn_tab_hand"]).click()
    hand = page.locator("p.bt-paragraph").filter(has_text=re.compile("^x̂ = "))
    hand.wait_for(timeout=30_000)
    watch_runs(page)
    for _ in range(2):
        page.wait_for_function("old => [...document.querySelectorAll('p.bt-paragraph')].some("
                               "p => p.innerText.startsWith('x̂ = ') && p.innerText !== old)",
                               arg=hand.inner_text(), timeout=30_000)
    assert runs_seen(page) == 0
    page.get_by_role("tab", name=ZH["bn_tab_test"]).click()
    page.get_by_text(ZH["bn_test_when"]).wait_for(timeout=30_000)
    watch_runs(page)
    polls = page.evaluate("window.bnvizFeed.polls")
    page.wait_for_function(f"() => window.bnvizFeed.polls >= {polls + 3}", timeout=30_000)
    assert runs_seen(page) == 0
    open_histograms(page, "zh")

    # A Reset and a new run: the old run's rows are gone, the new run's arrive.
    wait_ready(page)
    old = page.evaluate(HELD, GRID)["captures"]
    page.get_by_role("button", name=ZH["bn_reset"]).click()
    page.get_by_role("button", name=ZH["bn_start"]).wait_for(timeout=30_000)
    wait_ready(page)
    start(page, ZH["bn_start"], page.get_by_role("button", name=ZH["bn_pause"]))
    open_histograms(page, "zh")
    seen = []
    for _ in range(200):  # the new run's captures: fewer than the old run had, at first
        seen.append(page.evaluate("""key => { const s = window.bnvizCharts[key];
            return s.node.isConnected && s.node.bnviz.view ? s.node.bnviz.view.data("captures").length : -1;
        }""", GRID))
        if 0 < seen[-1] < old:
            break
        page.wait_for_timeout(300)
    assert 0 < seen[-1] < old, (old, seen)
    touch_scrubber(page)
    held = page.evaluate(HELD, GRID)
    assert held["first_step"] == 0 and stats(page)["wholes"] >= 1
    assert held["distinct"] == held["rows"] and held["covered"] == held["captures"]
    # (A dropped connection: the next test, on a server of its own with a longer grace period.)
    page.locator("[data-testid='stMain']").get_by_role("button", name=ZH["bn_stop"]).click()  # not the header's Stop
    no_exception(page)


def wait_trail(page, events: tuple, after: str | None = None, timeout: float = 30_000) -> None:
    """Until the page's feed notes one of ``events`` (after its first ``after``, if given); else
    what the feed went through (for a failure seen in CI only)."""
    try:
        page.wait_for_function("""([events, after]) => {
            const trail = window.bnvizFeed.trail, from = after ? trail.findIndex(x => x[1] === after) : -1;
            return (!after || from >= 0) && trail.slice(from + 1).some(x => events.includes(x[1])); }""",
                               arg=[list(events), after], timeout=timeout)
    except PlaywrightTimeout:
        raise AssertionError(f"no {events} in the feed's trail; feed {page.evaluate(FEED_TRAIL)}") from None


# A server of its own for the dropped-connection test: its grace must be long enough that taking
# the run back (a reconnect, a poll, a fragment run, a page run: 10 s once under two parallel
# workers here) never decides the test, and short enough to wait out.
OWN_GRACE_S = 20


@pytest.mark.waits  # 28 s of its 44 waiting out a grace period, on a server of its own: beside the two workers
def test_the_owners_run_outlives_its_grace_after_the_connection_drops_and_comes_back(contexts):
    """The teacher's Wi-Fi drops for a moment while the histograms are open (fed): Streamlit
    reconnects, and the run is the owner's again — it trains on past the grace period of a closed
    page. (Its slot went with the connection: the run was left in the grace period and ended when
    it ran out, the teacher's page then saying "Not started".)"""
    from harness.browser import Server

    server = Server(env={"BNVIZ_WATCH_GRACE": str(OWN_GRACE_S)})
    try:
        context = contexts(viewport={"width": 1400, "height": 1100}, locale="en-US")
        context.add_init_script(SOCKETS)
        page = context.new_page()
        count_runs(page)
        open_page(page, server, LONG, EN["bn_title"])
        start(page, EN["bn_start"], page.get_by_role("button", name=EN["bn_pause"]))
        page.wait_for_function("() => !!window.localStorage.getItem('bnviz-run-owner')", timeout=30_000)
        open_histograms(page)
        wait_messages(page, GRID, 2)
        code = WATCH_CODE.search(page.content()).group(1)
        # The connection drops and the server is out of reach for the socket a few seconds (the
        # feed, plain HTTP, still answers). Streamlit releases the page's slot with the connection
        # (the run left in its grace period), and the page must take its run back before the grace
        # runs out: the feed says the owner's page is gone, a change drawn outside the fragment, so
        # the page asks for a run of the whole page — not while the socket is away (an ask then is
        # lost: CI saw the page ask at once, and again 20 s later, after a grace of 10 s) — and
        # neither its fragment's run (lost here, as on a busy server after a reconnect: it ran
        # nothing, and the page asked for itself 10 s later) nor the browser's storage (cleared
        # here: what the page keeps in its session is enough) is needed.
        page.evaluate("""() => { const feed = window.bnvizFeed; window.bnvizAsked = 0; feed.trail = [];
                                 feed.rerun = () => { window.bnvizAsked++; };
                                 window.localStorage.removeItem("bnviz-run-owner");
                                 window.bnvizRefuse = true; window.bnvizSockets.at(-1).close(); }""")
        wait_trail(page, ("changed",))
        page.wait_for_timeout(3000)
        asked = page.evaluate("() => [window.bnvizFeed.trail.map(e => e[1]), "
                              "document.querySelector(\"[data-testid='stApp']\").dataset.testConnectionState]")
        assert asked[1] != "CONNECTED" and not {"rerun", "redraw"} & set(asked[0]), asked
        page.evaluate("() => { window.bnvizRefuse = false; }")
        # The page asks for a run of itself once the socket is back ('redraw'), unless Streamlit's
        # own run of the page on reconnecting comes first: its new feed ('feed') ends the ask. On a
        # busy machine either comes first (CI, and here beside two busy loops, once in three).
        wait_trail(page, ("redraw", "feed"), after="changed")
        page.wait_for_timeout((OWN_GRACE_S + 8) * 1000)
        wait_ready(page)
        progress = page.locator(PROGRESS).first
        assert EN["bn_state_running"] in progress.inner_text(), progress.inner_text()
        step = int(STEP_EN.search(progress.inner_text()).group(1))
        page.wait_for_function("([selector, step]) => Number(/step (\\d+)\\//.exec("
                               "document.querySelector(selector).innerText)[1]) > step", arg=[PROGRESS, step],
                               timeout=30_000)
        assert WATCH_CODE.search(page.content()).group(1) == code  # the same run, not a new one
        # … and the page fed again (the progress line also moves when a page falls back to its
        # fragment's timer): the histograms grow with no script run.
        grown = wait_messages(page, GRID, 1)
        watch_runs(page)
        wait_messages(page, GRID, grown["messages"] + 2)
        assert runs_seen(page) == 0 and page.evaluate("window.bnvizAsked") == 0
        # Its scrubber never touched: the grid tails its history, the newest capture's rows, none twice.
        page.wait_for_function(TAILED, arg=GRID, timeout=30_000)
        page.locator("[data-testid='stMain']").get_by_role("button", name=EN["bn_stop"]).click()
        no_exception(page)
    finally:
        server.stop()


def test_a_chart_refreshed_by_its_fragment_asks_once_each_time_it_loses_its_place(page, server):
    """The tuning page's sweep refreshes by running its fragment: a chart that lost its place (a
    message lost) asks once for everything and follows again, every time: more times than it may
    ask in a row, as in an hour on a projector. (Its asks were counted for its whole life: after 20
    it stopped asking and froze, as on a loaded machine where each delta in flight asked again.)"""
    open_page(page, server, "tuning?sw_subset=12000&sw_epochs=2", EN["tune_title"])
    start(page, EN["sweep_start"],
          page.locator("[data-testid='stProgress']").filter(has_text=EN["sweep_state_running"] + " · "))
    wait_messages(page, SWEEP_CHART, 2)
    limit = int(re.search(r"const MAX_ASKS = (\d+);", LIVE_CHART_JS.read_text()).group(1))
    for _ in range(limit + 1):
        before = stats(page, SWEEP_CHART)
        page.evaluate(LOSE_PLACE, SWEEP_CHART)
        page.wait_for_function(f"key => window.bnvizCharts[key].wholes > {before['wholes']}", arg=SWEEP_CHART,
                               timeout=30_000)
        assert stats(page, SWEEP_CHART)["asks"] == before["asks"] + 1  # one ask, however many deltas were in flight
    assert stats(page, SWEEP_CHART)["builds"] == 1  # recovered in place
    page.get_by_role("button", name=EN["sweep_stop"]).click()
    no_exception(page)


SIGNALS = """() => Object.fromEntries(Object.entries(window.bnvizCharts)
    .filter(([key, s]) => s.node.isConnected && s.node.bnviz.follow && s.node.bnviz.follow.scrub)
    .map(([key, s]) => [key, s.node.bnviz.view.signal("scrub")]))"""
SPANS = """key => { const el = document.getElementById("bn-scrub"), s = (window.bnvizCharts || {})[key];
    return Boolean(el && el.closest(".bnviz-live").dataset.ready && s && s.node.bnviz &&
                   Number(el.max) === s.node.bnviz.view.data("captures").length - 1); }"""
PIXELS = "key => window.bnvizCharts[key].node.querySelector('canvas').toDataURL()"
GROWN = """() => { const el = document.getElementById("bn-scrub"), held = el.bnvizGrowHeld;
    return {...el.bnvizGrowCounts, held: held.labels.length, steps: held.labels, max: Number(el.max)}; }"""


def settled_pixels(page, key: str, tries: int = 50) -> str:
    """The chart's pixels once two reads 100 ms apart agree (a move is drawn a moment after it)."""
    before = page.evaluate(PIXELS, key)
    for _ in range(tries):
        page.wait_for_timeout(100)
        now = page.evaluate(PIXELS, key)
        if now == before:
            return now
        before = now
    raise AssertionError(f"{key} kept changing")


def tip_shows(page) -> bool:
    """Whether the pointer's item shows its tooltip: formatted for it first (live_chart.js ``hovered``),
    waited for a little, since a slower machine takes longer."""
    try:
        page.wait_for_function("() => { const t = document.querySelector('.bnviz-tip'); return t && !t.hidden; }",
                               timeout=300)
        return True
    except PlaywrightTimeout:
        return False


def scrub_to(page, position: int) -> None:
    """Move the scrubber as a drag does: input events, no release (nothing committed)."""
    page.evaluate("""p => { const el = document.getElementById("bn-scrub"); el.value = String(p);
        el.dispatchEvent(new Event("input")); }""", position)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_scrubber_moves_every_panel_with_no_server_run_and_values_show_on_hover(contexts, server, lang):
    s = STRINGS[lang]
    page = contexts(viewport={"width": 1400, "height": 1100}, locale="en-US").new_page()
    from harness.browser import count_runs

    count_runs(page)
    open_page(page, server, f"{SHORT}&lang={lang}", s["bn_title"])
    started = page.get_by_role("button", name=s["bn_pause"]).or_(page.get_by_text(s["bn_state_finished"]))
    start(page, s["bn_start"], started)
    page.get_by_text(s["bn_state_finished"]).first.wait_for(timeout=90_000)
    wait_ready(page)
    open_histograms(page, lang)
    page.wait_for_function("() => Object.keys(window.bnvizCharts).length >= 2", timeout=30_000)
    # The scrubber spans every capture the charts hold (once its script has run: until then the
    # markup's placeholder range 0..1 is there — read too early in one CI run).
    page.wait_for_function(SPANS, arg=GRID, timeout=30_000)
    last = int(page.locator("#bn-scrub").get_attribute("max"))
    assert last > 5 and page.locator("#bn-scrub").input_value() == str(last)  # it follows the newest capture
    page.wait_for_timeout(500)
    before = {key: page.evaluate(PIXELS, key) for key in ("bn_chart_grid_pre", "bn_chart_grid_act")}
    watch_runs(page)
    scrub_to(page, 0)
    page.wait_for_function(f"() => Object.values(({SIGNALS})()).every(v => v === 0)", timeout=10_000)
    assert page.evaluate(SIGNALS) == {"bn_chart_grid_pre": 0, "bn_chart_grid_act": 0}
    for key, pixels in before.items():
        page.wait_for_function("([key, before]) => window.bnvizCharts[key].node.querySelector('canvas')"
                               ".toDataURL() !== before", arg=[key, pixels], timeout=10_000)
    scrub_to(page, last // 2)
    assert page.locator(f"text={s['bn_scrub_at'].split('{')[0].strip()}").count() >= 1
    assert runs_seen(page) == 0  # every panel moved in the browser

    # Values on hover, titled in the page's language.
    chart = page.locator(".bnviz-chart").first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tip = page.locator(".bnviz-tip")
    found = False
    for fx in [i / 40 for i in range(4, 36)]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + 0.2 * box["height"])
        if tip_shows(page):
            found = True
            break
    assert found, "no value on hover"
    text = tip.inner_text()
    for title in ("bn_layer", "axis_step", "bn_model", "bn_axis_share"):
        assert s[title] in text, (title, text)
    # The chart saves itself as a PNG from its button (Streamlit's toolbar is not on a live chart).
    with page.expect_download() as download:
        page.locator(".bnviz-png", has_text=s["save_png"]).first.click()
    assert download.value.suggested_filename == "bnviz_bn_chart_grid_pre.png"

    # The other panels with a time axis follow the same scrubber (its position kept on release).
    page.mouse.move(0, 0)
    for tab, keys in (("bn_tab_time", ["bn_chart_pct"]), ("bn_tab_bn", ["bn_chart_gb", "bn_chart_stats"]),
                      ("bn_tab_grad", ["bn_chart_grad"])):
        page.get_by_role("tab", name=s[tab]).click()
        for key in keys:
            page.wait_for_function(f"""() => {{ const s = window.bnvizCharts["{key}"];
                return s && s.node.isConnected && s.messages > 0; }}""", timeout=30_000)
        watch_runs(page)
        # Drawn at the first capture, then at the last (wherever the tab opened): every chart anew
        # (γ and β: the last capture's bars looked up by key, not the first's).
        scrub_to(page, 1)
        page.wait_for_function(f"""() => {{ const v = ({SIGNALS})();
            return {keys!r}.every(k => v[k] === 1); }}""", timeout=10_000)
        first = {key: settled_pixels(page, key) for key in keys}
        scrub_to(page, last)
        for key, pixels in first.items():
            page.wait_for_function("([key, before]) => window.bnvizCharts[key].node.querySelector('canvas')"
                                   ".toDataURL() !== before", arg=[key, pixels], timeout=10_000)
        assert runs_seen(page) == 0, tab

    # A chart as wide as its container (Figure 1's percentiles) follows the container, not only the
    # window: a sidebar closed on a projector narrows or widens the main column, the window stays.
    page.get_by_role("tab", name=s["bn_tab_time"]).click()
    page.wait_for_function("""() => { const s = window.bnvizCharts.bn_chart_pct;
        return s && s.node.isConnected && s.messages > 0 && s.fit; }""", timeout=30_000)
    width = page.evaluate("""() => { const node = window.bnvizCharts.bn_chart_pct.node;
        const width = Math.round(node.clientWidth * 0.6); node.style.width = width + "px"; return width; }""")
    page.wait_for_function("""width => window.bnvizCharts.bn_chart_pct.node.querySelector("canvas").clientWidth
        === width""", arg=width, timeout=10_000)
    no_exception(page)


# A chart's rows as Streamlit's Arrow table offers them to the component (what rowsOf reads).
ARROW_LIKE = """rows => { const names = Object.keys(rows[0]);
    return {numRows: rows.length, schema: {fields: names.map(name => ({name}))},
            getChild: name => ({nullCount: 0, toArray: () => rows.map(r => r[name])})}; }"""
# The page's live chart module (static/live_chart.js, unchanged) mounted on a bare page, given a
# chart's messages as Streamlit gives them to the component.
MOUNT = """async ([code, scrub, meta, tables]) => {
    const mount = (await import(URL.createObjectURL(new Blob([code], {type: "text/javascript"})))).default;
    const arrow = ARROW_LIKE;
    document.body.innerHTML = `<input type="range" id="bn-scrub" min="0" max="${scrub}" value="${scrub}">
                               <div id="box"><div class="bnviz-chart"></div></div>`;
    window.bnvizMessage = (meta, tables) => {
        const data = {meta};
        for (const [name, rows] of Object.entries(tables)) data["t_" + name] = arrow(rows);
        mount({parentElement: document.getElementById("box"), data, setStateValue: () => {}});
        const state = document.querySelector(".bnviz-chart").bnviz;
        return state.queue.then(() => { const c = document.querySelector(".bnviz-chart canvas");
            return [c.width, c.height, state.stats.draws, state.stats.resizes]; });
    };
    return window.bnvizMessage(meta, tables); }""".replace("ARROW_LIKE", ARROW_LIKE)


class BareGrid:
    """The histogram grid (``charts.hist_grid``, 2 bins on −3 … 3, compiled as the page does) in the
    page's live chart module on a bare page, fed messages as Streamlit gives them: every cell of
    capture c has the shares ``shares(c)``."""

    def __init__(self, contexts, titles: dict, shares=lambda c: [0.25, 0.75]):
        from bnviz.ui import live_chart
        from bnviz.ui.batchnorm import charts

        grid = charts.hist_grid(titles=titles, domain=(-3, 3), bins=2)
        spec_id, vega, followed = live_chart._compiled(grid.to_json())
        self.cells = [(layer, model) for layer in HIDDEN_LAYERS for model in charts.MODEL_ORDER]
        self.shares = shares
        self.meta = {"key": GRID, "spec_id": spec_id, "spec": vega, "follow": followed, "fit": False, "fed": True,
                     "params": {}, "png": "PNG", "vega": "",
                     "feeds": {name: self.feed(True, 1) for name in ("data", "bins", "captures")}}
        self.page = contexts().new_page()
        self.page.add_script_tag(path=str(ROOT / "static" / "vendor" / "vega" / "vega.min.js"))

    def capture(self, c: int) -> list[dict]:
        return [{"key": c * len(self.cells) + i, "capture": c, "model": model, "layer": layer,
                 "shares": self.shares(c)} for i, (layer, model) in enumerate(self.cells)]

    @staticmethod
    def feed(whole: bool, version: int) -> dict:
        return {"source": "run", "whole": whole, "base": version - 1, "version": version}

    def mount(self, scrub: int) -> list:
        """The chart's first message (capture 0) with the scrubber on ``scrub``: [canvas width,
        height, draws, resizes]."""
        tables = {"data": self.capture(0), "bins": [{"bin": 0, "lo": -3, "hi": 0}, {"bin": 1, "lo": 0, "hi": 3}],
                  "captures": [{"capture": 0, "step": 0}]}
        return self.page.evaluate(MOUNT, [LIVE_CHART_JS.read_text(), scrub, self.meta, tables])

    def scrub(self, c: int) -> None:
        self.page.evaluate("""c => { const el = document.getElementById('bn-scrub');
                              el.max = String(c); el.value = String(c); }""", c)

    def next_capture(self, c: int) -> list:
        """The chart's message that brings capture ``c`` (after 0 … c − 1), and what it shows then."""
        delta = {**self.meta, "spec": None,
                 "feeds": {"data": self.feed(False, c + 1), "captures": self.feed(False, c + 1)}}
        return self.page.evaluate("([meta, tables]) => window.bnvizMessage(meta, tables)",
                                  [delta, {"data": self.capture(c), "captures": [{"capture": c, "step": 5 * c}]}])


def test_a_chart_first_drawn_with_nothing_to_show_is_sized_once_its_rows_come(contexts):
    """The histogram grid first drawn while the scrubber is on a capture whose rows have not come
    (its first rows from the page's run, the scrubber moved on by the feed meanwhile, on a loaded
    machine): Vega drew a canvas of its padding, 10 × 10, and kept it blank for good as the rows came
    (CI, twice). It is sized anew once it has something to show."""
    grid = BareGrid(contexts, dict.fromkeys(("x", "y", "layer", "step", "model", "lo", "hi"), ""))
    first = grid.mount(1)
    assert first[:2] == [10, 10] and first[3] == 0  # the scrubber on capture 1, whose rows are not here
    later = grid.next_capture(1)
    assert later[0] > 200 and later[1] > 200 and later[2:] == [2, 1], later
    # Drawn once, its size stays while the scrubber is ahead of its rows again (no jump, then back).
    grid.scrub(3)
    ahead = grid.next_capture(2)
    assert ahead == [*later[:2], 3, 1], ahead


# The histogram bars in a view's scene (rect items inside the facet's cells), kept in window.bnvizBars
# the first time; then how many of those drawn now were drawn before.
BARS = """keep => { const bars = [];
    const visit = (node) => { if (node.marktype === "rect" && node.role === "mark") bars.push(...node.items);
                              for (const item of node.items || []) visit(item); };
    visit(document.querySelector(".bnviz-chart").bnviz.view.scenegraph().root);
    if (keep) window.bnvizBars = new Set(bars);
    return [bars.length, bars.filter(b => window.bnvizBars.has(b)).length,
            bars.filter(b => b.y2 - b.y > 0).length]; }"""


def test_the_grids_bars_are_kept_and_changed_when_the_next_capture_comes(contexts):
    """A refresh gives the grid's bars their new capture's shares in place (charts._bars): Vega
    keeps every bar, and the garbage of a grid unfolded anew at each draw (a flatten: new rows and
    bars each time) is not made. A bin with no share is a bar of no height."""
    grid = BareGrid(contexts, dict.fromkeys(("x", "y", "layer", "step", "model", "lo", "hi"), ""),
                    shares=lambda c: [0.25, 0.75] if c == 0 else [0.0, 1.0])
    grid.mount(0)
    cells = len(grid.cells)
    assert grid.page.evaluate(BARS, True) == [2 * cells, 2 * cells, 2 * cells]  # two bins a histogram
    grid.scrub(1)
    grid.next_capture(1)
    assert grid.page.evaluate(BARS, False) == [2 * cells, 2 * cells, cells]  # the same bars, one bin empty


def test_a_tooltip_shows_what_the_chart_shows_after_the_data_changed_under_the_pointer(contexts):
    """A tooltip is formatted for the item under the pointer only (live_chart._tooltips_on_hover: a
    bar keeps its place from one capture to the next and is given its new row). With the pointer
    resting on a bar while the next capture comes, the next move shows the new capture's values,
    titled, never the values formatted when the pointer came."""
    titles = {"x": "x", "y": "share", "layer": "layer", "step": "step", "model": "model", "lo": "from", "hi": "to"}
    grid = BareGrid(contexts, titles, shares=lambda c: [0.25, 0.75] if c == 0 else [0.5, 0.5])
    grid.mount(0)
    page = grid.page
    box = page.locator(".bnviz-chart canvas").bounding_box()
    tip = page.locator(".bnviz-tip")
    for x in range(int(box["x"]) + 60, int(box["x"] + box["width"]), 6):  # along the first row's bars
        page.mouse.move(x, box["y"] + 80)
        if tip_shows(page):
            break
    shown = tip.inner_text()
    assert "step 0" in shown and ("share 25.00%" in shown or "share 75.00%" in shown), shown
    assert "layer conv1" in shown and "model LeNet" in shown and "from" in shown and "to" in shown, shown
    grid.scrub(1)
    grid.next_capture(1)
    page.mouse.move(x + 1, box["y"] + 80)  # the same bar
    page.wait_for_function("() => document.querySelector('.bnviz-tip').innerText.includes('step 5')", timeout=5_000)
    assert "share 50.00%" in tip.inner_text(), tip.inner_text()
    page.mouse.move(box["x"] - 5, box["y"] - 5)  # off the chart: the tooltip goes
    tip.wait_for(state="hidden", timeout=5_000)
