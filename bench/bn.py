"""BatchNorm engine benchmarks: histogram overhead, training under page load (GIL), and the d2l
reproduction with the BN paper's Figure 1 drift (``python -m bench reproduce``)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from bench.common import print_table
from bnviz.data import fashion_mnist
from bnviz.training import Job, TrainConfig, bn_frames, device_info, pick_device

D2L = {"LeNet": {"loss": 0.469, "train": 0.823}, "LeNet-BN": {"loss": 0.267, "train": 0.902}}
DESIGN_HERE = {"LeNet": {"loss": 0.501, "train": 0.806, "test": 0.797},
               "LeNet-BN": {"loss": 0.267, "train": 0.902, "test": 0.852}}


def device_name(device: str) -> str:
    kind, info = device_info(device)
    return info.get("name") or (f"CPU ({info['cores']} cores)" if kind == "cpu" else kind.upper())


def _dataset():
    return fashion_mnist.load_fashion_mnist(fallback_synthetic=True)


def _throughput(ds, steps: int, **cfg) -> float:
    """images/s of one lockstep job (each image goes through both models) over ``steps`` steps."""
    return _timed_run(ds, steps, **cfg)[0]


def _timed_run(ds, steps: int, **cfg) -> tuple[float, float]:
    """(images/s, extra): a job of ``steps`` steps, and the share of its training time spent
    beyond ``steps`` plain steps, from its own step times (each step timed, a plain step's cost
    its median among steps that capture nothing): the machine's drift over minutes, which
    scatters images/s by ±10 % from run to run, cancels within one run."""
    from bnviz.training import loop

    config = TrainConfig(**{"epochs": 1, "train_limit": 256 * steps, "test_limit": 256,
                            "test_time_batches": (1,), **cfg})
    times: dict[bool, list[float]] = {True: [], False: []}
    original = loop.Loop.step

    def timed(self, *args, **kwargs):
        recording = self.history.capturing(self.progress.step)
        t0 = time.perf_counter()
        original(self, *args, **kwargs)
        times[recording].append(time.perf_counter() - t0)

    loop.Loop.step = timed
    try:
        job = Job(config, ds)
        job.start()
        job.join()
    finally:
        loop.Loop.step = original
    if not times[False]:  # every step records: no plain step to compare with
        return job.snapshot().images_per_s, float("nan")
    plain = float(np.median(times[False]))
    total = sum(times[False]) + sum(times[True])
    return job.snapshot().images_per_s, total / (plain * (len(times[False]) + len(times[True]))) - 1


def _percent(share: float) -> str:
    return "—" if np.isnan(share) else f"{share * 100:.1f} %"


def overhead(steps: int = 120, rounds: int = 3, device: str = "auto") -> list[dict]:
    """Histogram capture every 10 steps / every step, and the smoothness probe (``bnviz.batchnorm.probe``),
    vs none: images/s best of ``rounds`` (interleaved), and the overhead from each run's own step
    times (median over the rounds)."""
    ds = _dataset()
    dev = pick_device(device)
    default = TrainConfig().probe_every
    variants = {"no histograms": {"hist_every": 10 ** 6, "probe_every": 0},
                "every 10 steps": {"hist_every": 10, "probe_every": 0},
                f"every 10 steps + smoothness probe every {default}th capture (default)":
                    {"hist_every": 10, "probe_every": default},
                "every 10 steps + smoothness probe every capture": {"hist_every": 10, "probe_every": 1},
                "every step": {"hist_every": 1, "probe_every": 0},
                "every 10 steps, whole batch": {"hist_every": 10, "hist_samples": 0, "probe_every": 0}}
    _throughput(ds, 10, device=dev)  # warm-up
    best = {name: 0.0 for name in variants}
    extra: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, cfg in variants.items():
            rate, more = _timed_run(ds, steps, device=dev, **cfg)
            best[name] = max(best[name], rate)
            extra[name].append(more)
    base = best["no histograms"]
    base_extra = float(np.median(extra["no histograms"]))
    goals = {"every 10 steps": "overhead ≤ 5 %"}
    return [{"histograms": name, "images/s per model": f"{rate:,.0f}", "vs none": f"{rate / base:.3f}",
             "overhead (images/s)": f"{(1 - rate / base) * 100:.1f} %",
             "overhead (step times)": _percent(float(np.median(extra[name])) - base_extra),
             "goal": goals.get(name, "report")} for name, rate in best.items()] + [
        {"histograms": f"device: {device_name(dev)}, batch 256, both models in lockstep, {steps} steps",
         "images/s per model": "", "vs none": "", "overhead (images/s)": "", "overhead (step times)": "",
         "goal": ""}]


def gil(seconds: float = 8.0, rounds: int = 2) -> list[dict]:
    """Training images/s on a real server (``streamlit run``, the app's own settings) while
    ``n`` watchers of its run refresh their live panel, against no watcher, in one run; phases
    interleaved, ``rounds`` each: 1 and 30 watchers of the histograms and of Figure 1 asking for
    the page's default tick (1 s), 30 of the loss, 30 spread over every panel. Thirty watchers
    share the app's class budget (``bnviz.training.watching.class_budget``), so the server stretches their
    tick; a second server without the budget (``BNVIZ_CLASS_REFRESHES=0``) shows what thirty
    refreshes a second would cost.

    Every watcher is a wire tab (harness/wire.py): it speaks Streamlit's protocol and
    re-runs the page's live fragment when the server's timer says, as a browser does, and draws
    nothing, so the server does the work thirty tabs ask of it and the machine's cores are not
    spent on thirty renderers. Measured in the server: steps trained per second of training (its
    census; the test accuracy at the ends of epochs left out), CPU time of everything but the
    training threads per refresh, and the live fragment's own time per refresh
    (``WatchedRun.tick_costs``); and what a watcher waits from asking to the refresh's end."""
    from harness.classroom_load import PANEL_CYCLE

    app = [(0, ("hist",), 1.0), (1, ("hist",), 1.0), (1, ("time",), 1.0), (30, ("hist",), 1.0),
           (30, ("time",), 1.0), (30, ("loss",), 1.0), (30, PANEL_CYCLE, 1.0)]
    unlimited = [(0, ("hist",), 1.0), (30, ("hist",), 1.0), (30, ("time",), 1.0), (30, PANEL_CYCLE, 5.0)]
    rows = _gil_server({}, app, seconds, rounds, "")
    rows += _gil_server({"BNVIZ_CLASS_REFRESHES": "0"}, unlimited, seconds, rounds, "no class budget: ")
    blank = {k: "" for k in rows[0]}
    rows.append({**blank, "watchers": "30, every 1 s: Streamlit's floor",
                 "panel": "a progress bar only (bench/floor_app.py)",
                 "server CPU per refresh": f"{_floor(seconds):.1f} ms"})
    rows.append({**blank, "watchers": f"one run, batch {TrainConfig().batch_size}, CPU ({os.cpu_count()} cores), "
                                      f"the app's threads; {rounds} × {seconds:.0f} s per phase, interleaved; "
                                      f"'vs none' against no watcher on the same server; images/s without the "
                                      f"epochs' test accuracy"})
    return rows


def _gil_server(env: dict, phases: list, seconds: float, rounds: int, label: str) -> list[dict]:
    """:func:`gil`'s phases on one server started with ``env``: one row per phase."""
    from harness.browser import Server
    from harness.census import take
    from harness.classroom_load import EN
    from harness.wire import Wire

    server = Server(census=True, env=env)
    wire = Wire()
    found = {ph: [] for ph in phases}
    try:
        owner = wire.open(server.port, "batchnorm?bn_epochs=50&bn_every=10&bn_tick=0")  # the owner does not poll
        wire.wait(lambda: EN["bn_start"] in owner.buttons, 120, "the owner's Start button")
        wire.press(owner, EN["bn_start"])
        wire.wait(lambda: take(server.proc.pid, server.census_path)["runs"], 60, "the run")
        code = take(server.proc.pid, server.census_path)["runs"][0]["code"]
        time.sleep(3.0)  # warm-up
        for _ in range(rounds):
            for ph in phases:
                found[ph].append(_gil_phase(server, code, *ph, seconds=seconds))
    finally:
        wire.close()
        server.stop()
    return _gil_rows(found, phases, rounds, label)


def _run_steps(server) -> tuple[int, float]:
    """Steps the server's run has trained, and the server's clock less the run's time on test
    accuracy at the ends of epochs: an 8 s window that holds one (~0.6 s, no step trains, whoever
    watches) would otherwise read ~8 % slower than one that does not."""
    from harness.census import take

    census = take(server.proc.pid, server.census_path)
    [found] = census["runs"]
    return found["steps"], census["time"] - found["testing_s"]


def _gil_phase(server, code: str, n: int, panels: tuple, tick: float, seconds: float) -> dict:
    """``n`` wire watchers of the run, asking every ``tick`` s: once the class's pace has settled,
    ``seconds`` of training speed, server CPU and the watchers' waits."""
    from harness.census import take
    from harness.cpu_use import cpu_seconds
    from harness.wire import Wire

    pid, tabs = server.proc.pid, Wire()
    try:
        viewers = [tabs.open(server.port, f"batchnorm?watch={code}&bn_view={panels[i % len(panels)]}&bn_tick={tick:g}",
                             delay=tick * i / max(1, n)) for i in range(n)]

        # Every watcher refreshed once at the pace the server set for the whole class, and the
        # last phase's watchers no longer count (a change of pace reruns every watcher's page).
        def settled() -> bool:
            if not all(v.refreshes for v in viewers) or len({v.interval() for v in viewers}) > 1:
                return False
            time.sleep(0.5)  # a census costs the server a full collection: not every 50 ms
            return take(pid, server.census_path)["runs"][0]["watchers"] == n

        tabs.wait(settled, 120, "every watcher's refresh at the class's pace")
        for v in viewers:
            v.refreshes.clear()
        try:
            tabs.wait(lambda: all(v.refreshes for v in viewers), 60, "a refresh after the class settled")
        except TimeoutError as exc:  # which watchers, and what they saw
            late = [v for v in viewers if not v.refreshes]
            raise TimeoutError(f"{exc}: {len(late)} of {n} late, e.g. feed {late[0].feed}, interval "
                               f"{late[0].interval()}, runs {late[0].runs}, polls {late[0].polls}, "
                               f"problems {[p for v in late for p in v.problems][:3]}") from None
        every = viewers[0].interval() if viewers else None
        for v in viewers:
            v.refreshes.clear()
        # The census (a full garbage collection in the server) falls outside the CPU window.
        steps0, t0 = _run_steps(server)
        (train0, other0), c0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        (train1, other1), c1 = cpu_seconds(pid), time.monotonic()
        steps1, t1 = _run_steps(server)
        ticks = [tk for r in take(pid, server.census_path)["runs"] for tk in r["ticks"]]
        waits = [w for v in viewers for w in v.refreshes]
        problems = [p for v in viewers for p in v.problems + v.exceptions]
    finally:
        tabs.close()
    if problems:
        raise RuntimeError(f"a watcher failed: {problems[:3]}")
    return {"rate": (steps1 - steps0) * TrainConfig().batch_size / (t1 - t0), "refreshes": len(waits), "waits": waits,
            "ticks": ticks[-len(waits):] if waits else [], "other_cpu": other1 - other0,
            "train_cores": (train1 - train0) / (c1 - c0), "every": every}


def _lower_pct(values, q):
    """The value at rank ⌊q·(n − 1)⌋ of the sorted values."""
    return float(np.percentile(values, 100 * q, method="lower"))


def _gil_rows(found: dict, phases: list, rounds: int, label: str) -> list[dict]:
    idle = sum(m["rate"] for m in found[phases[0]]) / rounds
    rows = []
    for ph in phases:
        n, panels, tick = ph
        ms = found[ph]
        rate = sum(m["rate"] for m in ms) / rounds
        waits = [w for m in ms for w in m["waits"]]
        ticks = [tk for m in ms for tk in m["ticks"]]
        served = sum(m["refreshes"] for m in ms)
        every = {m["every"] for m in ms}
        rows.append({
            "watchers": label + ("none" if not n else f"{n}, asking every {tick:g} s"),
            "served every": "" if not n else " / ".join(f"{e:g} s" for e in sorted(every)),
            "panel": "" if not n else ("all" if len(panels) > 1 else panels[0]),
            "training images/s": f"{rate:,.0f}", "vs none": f"{rate / idle:.3f}",
            "training cores": f"{sum(m['train_cores'] for m in ms) / rounds:.2f}",
            "server CPU per refresh": f"{1e3 * sum(m['other_cpu'] for m in ms) / served:.1f} ms" if served else "",
            "fragment median / p95":
                f"{1e3 * _lower_pct(ticks, .5):.1f} / {1e3 * _lower_pct(ticks, .95):.1f} ms" if ticks else "",
            "watcher waits median / p95":
                f"{1e3 * _lower_pct(waits, .5):.0f} / {1e3 * _lower_pct(waits, .95):.0f} ms" if waits else "",
            "goal": "" if not n or label else ("≥ 0.9; median ≤ 25 ms" if n == 30 else "median ≤ 25 ms")})
    return rows


def _floor(seconds: float, n: int = 30) -> float:
    """Server CPU ms per refresh of ``n`` wire tabs on bench/floor_app.py (a live fragment with a
    progress bar only), on the app's config: what any live refresh costs in Streamlit here."""
    from harness.browser import Server
    from harness.cpu_use import cpu_seconds
    from harness.wire import Wire

    server = Server(script="bench/floor_app.py")
    wire = Wire()
    try:
        tabs = [wire.open(server.port, "", delay=i / n) for i in range(n)]
        wire.wait(lambda: all(t.refreshes for t in tabs), 60, "every tab's first refresh")
        done0, cpu0 = sum(len(t.refreshes) for t in tabs), cpu_seconds(server.proc.pid)[1]
        time.sleep(seconds)
        done1, cpu1 = sum(len(t.refreshes) for t in tabs), cpu_seconds(server.proc.pid)[1]
    finally:
        wire.close()
        server.stop()
    return 1e3 * (cpu1 - cpu0) / max(1, done1 - done0)


def reproduce(epochs: int = 10) -> list[dict]:
    """The d2l recipe (SGD, sigmoid, batch 256, lr 0.9 / 1.0, Xavier) on the real data."""
    ds = _dataset()
    job = Job(TrainConfig(epochs=epochs, hist_every=10), ds)
    t0 = time.perf_counter()
    job.start()
    done = threading.Event()

    def report():
        while not done.wait(10):
            s = job.snapshot()
            print(f"  … epoch {s.epoch}/{epochs}, step {s.step}/{s.total_steps}, "
                  f"{s.images_per_s:,.0f} images/s", flush=True)

    threading.Thread(target=report, daemon=True).start()
    job.join()
    done.set()
    wall = time.perf_counter() - t0
    s = job.snapshot()
    rows = []
    for k, label in enumerate(bn_frames.MODEL_LABELS):
        acc = s.epochs["train_acc"][-1, k]
        rows.append({"model": label, "loss": f"{s.epochs['train_loss'][-1, k]:.3f}",
                     "d2l loss": f"{D2L[label]['loss']:.3f}",
                     "train acc": f"{acc:.3f}", "d2l train acc": f"{D2L[label]['train']:.3f}",
                     "Δ train acc": f"{acc - D2L[label]['train']:+.3f} (goal ±0.03)",
                     "test acc": f"{s.epochs['test_acc'][-1, k]:.3f}",
                     "DESIGN.md (train/test)": f"{DESIGN_HERE[label]['train']:.3f} / {DESIGN_HERE[label]['test']:.3f}"})
    drift = bn_frames.drift(s, "fc2", "pre")
    ratio = drift["LeNet"] / drift["LeNet-BN"] if drift["LeNet-BN"] else float("inf")
    rows.append({"model": "Figure 1: fc2 sigmoid-input median drift", "loss": "",
                 "d2l loss": "", "train acc": f"LeNet {drift['LeNet']:.3f}",
                 "d2l train acc": f"LeNet-BN {drift['LeNet-BN']:.3f}",
                 "Δ train acc": f"ratio {ratio:.1f}× (goal ≥ 3)", "test acc": "", "DESIGN.md (train/test)": ""})
    rows.append({"model": f"{s.state}, {epochs} epochs in {wall:.0f} s on {device_name(s.device)}",
                 "loss": "", "d2l loss": "", "train acc": "", "d2l train acc": "",
                 "Δ train acc": f"{s.images_per_s:,.0f} images/s", "test acc": "",
                 "DESIGN.md (train/test)": "synthetic data!" if s.synthetic else "real Fashion-MNIST"})
    if s.test_time:
        for r in s.test_time["rows"]:
            rows.append({"model": f"test time, batch {r['batch']}", "loss": "", "d2l loss": "",
                         "train acc": f"eval {r['eval']:.3f}", "d2l train acc": f"train mode {r['train']:.3f}",
                         "Δ train acc": "", "test acc": "", "DESIGN.md (train/test)": ""})
    return rows


def testtime(epochs: int = 2) -> list[dict]:
    """The d2l recipe for ``epochs`` on the real data, then what the page's Test-time and
    Smoothness tabs show: per BN layer the running estimates' gap to the population statistics
    (BN momentum 0.1, and 0.01 and 0.5 run beside it), the test accuracy with each kind of
    statistics, and the smoothness probe's medians per model."""
    ds = _dataset()
    job = Job(TrainConfig(epochs=epochs, hist_every=10), ds)
    job.start()
    job.join()
    pop = job.readouts().population()
    rows = []
    for layer, found in pop["layers"].items():
        for name, g in found["gap"].items():
            momentum = f"{pop['momentum']:g} (the run's)" if name == "running" else f"{name:g}"
            rows.append({"measure": f"{layer}: running estimates vs population, BN momentum {momentum}",
                         "value": f"mean off by {g['mean']:.3f} σ, variance by {100 * g['var']:.1f} %"})
    for name, value in pop["accuracy"].items():
        rows.append({"measure": f"test accuracy at step {pop['step']} with the {name.replace('_', ', ')} statistics",
                     "value": f"{value:.4f} ({pop['n_test']} images)"})
    for label, med in bn_frames.probe_summary(bn_frames.probe_frame(job.snapshot())).items():
        rows.append({"measure": f"smoothness probe, {label}, median over the run",
                     "value": f"loss variation {med['variation']:.4f}, gradient change {med['predictiveness']:.4f}"})
    job.release()
    return rows


def run() -> None:
    print_table("BN engine: histogram overhead (CPU, batch 256, best of 3)", overhead())
    print_table("BN engine: training while the page polls (GIL)", gil())
    print_table("BN page in Chromium: training while the page polls", browser())
    print_table("BN page in Chromium: the same, refresh every 2 s", browser(every="2 s"))


# Records each script/fragment run of the page (start, end) and every drawing call on a chart's
# canvas, so a tick's refresh = last drawing before the next run − the run's start.
OBSERVE_RUNS = """() => {
  window.__runs = []; window.__draws = [];
  const proto = CanvasRenderingContext2D.prototype;
  const charted = new WeakMap(); // canvas → a chart's or not: looked up once, not at each draw
  for (const name of ["fill", "stroke", "fillRect", "fillText"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      let chart = charted.get(this.canvas);
      if (chart === undefined) {
        chart = Boolean(this.canvas.closest && this.canvas.closest("[data-testid='stVegaLiteChart'], .bnviz-chart"));
        if (this.canvas.isConnected) charted.set(this.canvas, chart); // a canvas not in the page yet: asked again
      }
      if (chart) {
        const last = window.__draws[window.__draws.length - 1];
        const now = performance.now();
        if (last === undefined || now - last > 5) window.__draws.push(now);
        else window.__draws[window.__draws.length - 1] = now;
      }
      return original.apply(this, args);
    };
  }
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    const state = app.getAttribute("data-test-script-state");
    const now = performance.now();
    if (state === "running") window.__runs.push({start: now, end: null});
    else if (window.__runs.length && window.__runs[window.__runs.length - 1].end === null)
      window.__runs[window.__runs.length - 1].end = now;
  }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


def browser(seconds: float = 12.0, rounds: int = 3, tab: str = "Histograms",
            env: dict | None = None, every: str = "1 s") -> list[dict]:
    """Training in the server with its live page polling every ``every`` vs not polling at all.

    One server, one job, one Chromium tab on ``tab``. The page's "live refresh" control alternates
    between ``every`` and off, ``rounds`` times each, so both figures come from the same job on the same
    machine minutes apart (this machine's speed drifts by ±20 % over minutes). Every phase starts
    and ends with a full rerun (the click), so the step counts read are fresh.
    """
    import re

    from playwright.sync_api import sync_playwright

    from bnviz.ui.strings import STRINGS
    from harness.browser import PROGRESS, Server, launch, open_page, wait_ready

    server = Server(env)
    rates = {every: [], "off": []}
    try:
        with sync_playwright() as p:
            b = launch(p)
            page = b.new_page(viewport={"width": 1400, "height": 1100})
            open_page(page, server, "batchnorm?bn_epochs=50", "BatchNorm live")
            page.get_by_role("button", name="Start").click()
            page.get_by_role("tab", name=tab).click()
            if tab != "Test time":
                page.locator("[data-testid='stVegaLiteChart'] canvas").first.wait_for(timeout=60_000)
            time.sleep(3)

            EN = STRINGS["en"]

            def switch(label: str) -> tuple[int, float]:
                # The run's own refresh control (a watch box beside it offers the class's pace too).
                page.get_by_label(EN["bn_tick"], exact=True).locator("button").filter(
                    has_text=re.compile(f"^{re.escape(label)}$")).click()
                page.wait_for_timeout(150)
                wait_ready(page)
                text = page.locator(PROGRESS).first.inner_text()
                return int(re.search(r"step (\d+)/", text).group(1)), time.perf_counter()

            s0, t0 = switch(every)
            page.evaluate(OBSERVE_RUNS)
            for i in range(rounds * 2):
                mode = every if i % 2 == 0 else "off"
                time.sleep(seconds)
                s1, t1 = switch("off" if mode == every else every)
                rates[mode].append((s1 - s0) / (t1 - t0))
                if i == 0:
                    runs = page.evaluate("window.__runs")
                    draws = page.evaluate("window.__draws")
                s0, t0 = s1, t1
            b.close()
    finally:
        server.stop()
    return _browser_rows(rates, _refreshes(runs, draws), rounds, seconds, every, tab)


def _refreshes(runs: list, draws: list) -> list[float]:
    """A tick's refresh: from the fragment rerun starting to its end or the last chart drawing in it."""
    refresh = []
    for i, r in enumerate(runs[:-1]):
        if r["end"] is None:
            continue
        inside = [d for d in draws if r["start"] <= d < runs[i + 1]["start"]]
        refresh.append(max([r["end"], *inside]) - r["start"])
    return refresh


def _browser_rows(rates: dict, refresh: list, rounds: int, seconds: float, every: str, tab: str) -> list[dict]:
    from bench.common import median

    polled, idle = sum(rates[every]) / rounds, sum(rates["off"]) / rounds

    def fmt(xs):
        return ", ".join(f"{x:.1f}" for x in xs)

    return [{"measure": f"training steps/s, page not polling (refresh off), {rounds} × {seconds:.0f} s",
             "value": f"{idle:.1f} ({fmt(rates['off'])})", "goal": ""},
            {"measure": f"training steps/s, live page polling every {every} ({tab} tab)",
             "value": f"{polled:.1f} ({fmt(rates[every])})", "goal": ""},
            {"measure": "ratio polling / not polling", "value": f"{polled / idle:.2f}", "goal": "≥ 0.8"},
            {"measure": f"page refresh in the browser, median of {len(refresh)} ticks",
             "value": f"{median(refresh):.0f} ms" if refresh else "n/a", "goal": "report"}]


def _heap(heap: dict) -> str:
    """malloc's count (:func:`bnviz.server.memory.heap`): MB in use / free / mapped on their own."""
    return f"{heap['in_use']:.0f} / {heap['free']:.0f} / {heap['mmap']:.0f}"


def _pace_row(r: dict) -> str:
    """The teacher's run's pace while the class watched it, just arrived and settled, and once
    every watcher left (the mean of two windows, each in brackets: their spread is the noise of
    any one window): images/s, and the ratios to unwatched. Windows timed at different capture
    strides (the run's history thinned in between) do not compare: the row says so."""
    paces = [r["images_per_s_watched"], r["images_per_s_settled"]]
    unwatched = r["images_per_s_unwatched"]
    shown = " / ".join("—" if p is None else str(p) for p in paces)
    if not unwatched:
        return f"{shown} / —"
    parts = ", ".join(str(p) for p in r.get("images_per_s_unwatched_parts") or [])
    ratios = ", ".join("—" if p is None else f"{p / unwatched:.2f}" for p in paces)
    strides = r.get("capture_strides") or []
    thinned = f"; thinned between windows (capture strides {strides}): not comparable" if len(strides) > 1 else ""
    return f"{shown} / {unwatched} [{parts}] ({ratios}{thinned})"


def _cores_row(r: dict) -> str:
    """Who used the cores in each window the teacher's run was timed in (:mod:`harness.cpu_use`):
    the run loses about what the class's tabs and the server's answers to them take."""
    windows = [r.get("cores", {}).get(w) for w in ("arrived", "settled", "unwatched")]
    return "; ".join("—" if not w else " / ".join(f"{v:.2f}" for v in w.values()) for w in windows)


SETTLE_S = 30.0  # after the class arrived, before its settled window
UNWATCHED_S = 30.0  # the run's pace once the watchers left: two windows as long as a watched one


def load(watchers: int = 30, rounds: int | None = None) -> list[dict]:
    """The soak: the load test's class (a teacher's run, ``watchers`` watching it, four more
    Starts, three other pages), a warm-up round, then ``rounds`` measured ones (default 3, or
    $BNVIZ_LOAD_ROUNDS), with the load test's checks over every round. The teacher's run is
    timed while the class watches, twice: as soon as every watcher shows the run (the pages just
    loaded), and again :data:`SETTLE_S` later (the class settled); each measured round ends with
    its watchers gone, the teacher's run timed again, in two windows one after another: its pace
    watched against unwatched, and how much one window's pace moves with nothing changed."""
    from harness.classroom_load import SESSION_TTL, check, classroom, rounds_from_env

    result = classroom(starters=5, watchers=watchers, others=3, rounds=rounds or rounds_from_env(3),
                       session_ttl=SESSION_TTL, unwatched_s=UNWATCHED_S, settle_s=SETTLE_S)
    base = result["baseline"]
    rows = []
    for name, r in [("warm-up", result["warmup"])] + [(f"round {i + 1}", r) for i, r in enumerate(result["rounds"])]:
        rows.append({
            "round": name, "open all (s)": r["opened_s"], "started / refused": f"{r['started']} / {r['refused']}",
            "page exceptions": r["exceptions"],
            "watchers following": f"{r['watchers_advanced']} / {r['watchers']}",
            "watchers' refresh median / p95 (ms)": f"{r['refresh_median_ms']} / {r['refresh_p95_ms']}",
            "server time per refresh median / p95 (ms)": f"{r['tick_server_median_ms']} / {r['tick_server_p95_ms']}",
            "training images/s: watched (arrived / settled) / unwatched [its two windows] (ratios)": _pace_row(r),
            "cores used, arrived; settled; unwatched: trainings / server / renderers / Chromium's other / "
            "else / idle": _cores_row(r),
            "peak threads (AnyIO) / RSS MB":
                f"{r['peak_threads']} ({r['peak_pools'].get('anyio', [0])[0]}) / {r['peak_rss_mb']}",
            "jobs gone (s)": r["jobs_gone_s"],
            "left beyond baseline at (s)": f"{len(r['left_python']) + r['left_native']} at {r['threads_back_s']}",
            "threads: after close / next request": f"{r['threads_after']} / {r['threads_next_request']}",
            "RSS after (MB): malloc's in use / free / mmap": f"{r['rss_after_mb']}: {_heap(r['heap_after'])}",
            "Python blocks after (k)": round(r["blocks_after"] / 1000),
            "sessions alive: after close / after a visit": f"{r['sessions_after']} / {r['sessions_after_visit']}"})
    anyio = base["pools"].get("anyio", [0])[0]
    rows.append({"round": f"baseline after warm-up: {base['threads']} threads ({anyio} idle AnyIO), "
                          f"{base['rss_mb']:.0f} MB ({_heap(base['heap'])}), {base['blocks'] / 1000:.0f}k blocks; "
                          "server log exceptions: "
                          f"{result['log_errors']} (+ {result['websocket_races']} Streamlit websocket races)"})
    problems = check(result)
    verdict = "all hold" if not problems else "; ".join(problems)
    rows.append({"round": "checks of the load test, every round: " + verdict})
    return rows
