"""BatchNorm engine benchmarks: histogram overhead, training under page load (GIL), and the d2l
reproduction with the BN paper's Figure 1 drift (``python -m bench reproduce``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bench.common import print_table
from bnviz import bn_frames
from bnviz import data
from bnviz.training import Job, TrainConfig, device_info, pick_device

D2L = {"LeNet": {"loss": 0.469, "train": 0.823}, "LeNet-BN": {"loss": 0.267, "train": 0.902}}
DESIGN_HERE = {"LeNet": {"loss": 0.501, "train": 0.806, "test": 0.797},
               "LeNet-BN": {"loss": 0.267, "train": 0.902, "test": 0.852}}


def device_name(device: str) -> str:
    kind, info = device_info(device)
    return info.get("name") or (f"CPU ({info['cores']} cores)" if kind == "cpu" else kind.upper())


def _dataset():
    return data.load_fashion_mnist(fallback_synthetic=True)


def _throughput(ds, steps: int, **cfg) -> float:
    """images/s of one lockstep job (each image goes through both models) over ``steps`` steps."""
    config = TrainConfig(**{"epochs": 1, "train_limit": 256 * steps, "test_limit": 256,
                            "test_time_batches": (1,), **cfg})
    job = Job(config, ds)
    job.start()
    job.join()
    return job.snapshot().images_per_s


def overhead(steps: int = 80, rounds: int = 3, device: str = "auto") -> list[dict]:
    """Histogram capture every 10 steps / every step, and the smoothness probe (``bnviz.probe``),
    vs none (best of ``rounds``, interleaved)."""
    ds = _dataset()
    dev = pick_device(device)
    variants = {"no histograms": {"hist_every": 10 ** 6, "probe_every": 0},
                "every 10 steps": {"hist_every": 10, "probe_every": 0},
                "every 10 steps + smoothness probe every 2nd (default)": {"hist_every": 10, "probe_every": 2},
                "every 10 steps + smoothness probe every time": {"hist_every": 10, "probe_every": 1},
                "every step": {"hist_every": 1, "probe_every": 0},
                "every 10 steps, whole batch": {"hist_every": 10, "hist_samples": 0, "probe_every": 0}}
    _throughput(ds, 10, device=dev)  # warm-up
    best = {name: 0.0 for name in variants}
    for _ in range(rounds):
        for name, cfg in variants.items():
            best[name] = max(best[name], _throughput(ds, steps, device=dev, **cfg))
    base = best["no histograms"]
    goals = {"every 10 steps": "overhead ≤ 5 %", "every 10 steps + smoothness probe every 2nd (default)": "report"}
    return [{"histograms": name, "images/s per model": f"{rate:,.0f}",
             "vs none": f"{rate / base:.3f}", "overhead": f"{(1 - rate / base) * 100:.1f} %",
             "goal": goals.get(name, "report")} for name, rate in best.items()] + [
        {"histograms": f"device: {device_name(dev)}, batch 256, both models in lockstep",
         "images/s per model": "", "vs none": "", "overhead": "", "goal": ""}]


def _viewer(code: str, panel: str):
    """A watcher's page (``?watch=CODE``) under Streamlit's AppTest: the page's own code, no browser."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
    at.query_params.update({"watch": code, "bn_view": panel})
    # The link opens its own page first (a first run on Home would drop the parameters Home does not read).
    return at.switch_page("pages/batchnorm.py").run()


def gil(seconds: float = 8.0, rounds: int = 2, panels=("hist", "time")) -> list[dict]:
    """Training images/s while ``n`` viewers of one run each refresh once a second (their
    refreshes spread over the second, as a class's would be), n = 1 and 30, per panel, against no
    viewer; and the server time of one refresh as the page measures it (``Run.tick_costs``: the
    live fragment, from snapshot to the last element), median and p95. Phases interleaved,
    ``rounds`` each.

    Each viewer is the real page under AppTest, in this process, so the training thread competes
    for the GIL with it. AppTest reruns the whole page where a browser's refresh reruns only the
    live fragment, so the training ratio here is a lower bound."""
    from bnviz.runs import REGISTRY

    ds = _dataset()
    job = Job(TrainConfig(epochs=200, hist_every=10), ds)
    run = REGISTRY.create(job)
    job.start()
    viewers = {panel: [_viewer(run.code, panel) for _ in range(30)] for panel in panels}
    time.sleep(2.0)  # warm-up

    def measure(n: int, panel: str | None) -> tuple[float, list[float]]:
        s0, t0 = job.steps_done, time.perf_counter()
        run.tick_costs.clear()
        k = 0
        while (now := time.perf_counter()) - t0 < seconds:
            if not n:
                time.sleep(0.05)
                continue
            due = t0 + k / n  # viewer k % n refreshes at k / n seconds
            if now >= due:
                viewers[panel][k % n].run()
                k += 1
            else:
                time.sleep(due - now)
        rate = (job.steps_done - s0) * job.config.batch_size / (time.perf_counter() - t0)
        return rate, list(run.tick_costs)

    phases = [(0, None)] + [(n, panel) for panel in panels for n in (1, 30)]
    rates = {ph: [] for ph in phases}
    ticks = {ph: [] for ph in phases}
    try:
        for _ in range(rounds):
            for n, panel in phases:
                rate, found = measure(n, panel)
                rates[(n, panel)].append(rate)
                ticks[(n, panel)] += found
    finally:
        REGISTRY.drop(run)
    idle = sum(rates[(0, None)]) / rounds
    rows = [{"viewers": "none", "panel": "", "training images/s": f"{idle:,.0f}", "vs none": "1.000",
             "refresh median / p95 (server)": "", "goal": ""}]
    for n, panel in phases[1:]:
        rate = sum(rates[(n, panel)]) / rounds
        q = sorted(ticks[(n, panel)])
        if not q:
            raise RuntimeError(f"no refresh of the {panel} panel reached the run: the viewers are not watching it")
        rows.append({"viewers": f"{n}, each 1 refresh/s", "panel": panel, "training images/s": f"{rate:,.0f}",
                     "vs none": f"{rate / idle:.3f}",
                     "refresh median / p95 (server)": f"{1e3 * q[len(q) // 2]:.1f} / {1e3 * q[int(0.95 * (len(q) - 1))]:.1f} ms",
                     "goal": "≥ 0.9; median ≤ 25 ms" if n == 30 else "median ≤ 25 ms"})
    rows.append({"viewers": f"one job, batch {job.config.batch_size}, {device_name(job.config.device)}; "
                            f"{rounds} × {seconds:.0f} s per phase, interleaved", "panel": "", "training images/s": "",
                 "vs none": "", "refresh median / p95 (server)": "", "goal": ""})
    return rows


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
  for (const name of ["fill", "stroke", "fillRect", "fillText"]) {
    const original = proto[name];
    proto[name] = function (...args) {
      if (this.canvas.closest && this.canvas.closest("[data-testid='stVegaLiteChart']")) {
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

    from bench.common import median
    from tests.browser.harness import Server, launch, open_page, wait_ready

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

            def switch(label: str) -> tuple[int, float]:
                page.locator("[data-testid='stButtonGroup'] button").filter(
                    has_text=re.compile(f"^{re.escape(label)}$")).click()
                page.wait_for_timeout(150)
                wait_ready(page)
                text = page.locator("[data-testid='stProgress']").first.inner_text()
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
    # A tick's refresh: from the fragment rerun starting to its end or the last chart drawing in it.
    refresh = []
    for i, r in enumerate(runs[:-1]):
        if r["end"] is None:
            continue
        inside = [d for d in draws if r["start"] <= d < runs[i + 1]["start"]]
        refresh.append(max([r["end"], *inside]) - r["start"])
    polled, idle = sum(rates[every]) / rounds, sum(rates["off"]) / rounds
    fmt = lambda xs: ", ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    return [{"measure": f"training steps/s, page not polling (refresh off), {rounds} × {seconds:.0f} s",
             "value": f"{idle:.1f} ({fmt(rates['off'])})", "goal": ""},
            {"measure": f"training steps/s, live page polling every {every} ({tab} tab)",
             "value": f"{polled:.1f} ({fmt(rates[every])})", "goal": ""},
            {"measure": "ratio polling / not polling", "value": f"{polled / idle:.2f}", "goal": "≥ 0.8"},
            {"measure": f"page refresh in the browser, median of {len(refresh)} ticks",
             "value": f"{median(refresh):.0f} ms" if refresh else "n/a", "goal": "report"}]


def load(watchers: int = 30, rounds: int | None = None) -> list[dict]:
    """The soak: the load test's class (a teacher's run, ``watchers`` watching it, four more
    Starts, three other pages), a warm-up round, then ``rounds`` measured ones (default 3, or
    $BNVIZ_LOAD_ROUNDS), with the load test's checks over every round."""
    from tests.browser.load import check, classroom, rounds_from_env

    result = classroom(starters=5, watchers=watchers, others=3, rounds=rounds or rounds_from_env(3))
    base = result["baseline"]
    rows = []
    for name, r in [("warm-up", result["warmup"])] + [(f"round {i + 1}", r) for i, r in enumerate(result["rounds"])]:
        rows.append({"round": name, "open all (s)": r["opened_s"], "started / refused": f"{r['started']} / {r['refused']}",
                     "page exceptions": r["exceptions"],
                     "watchers following": f"{r['watchers_advanced']} / {r['watchers']}",
                     "watchers' refresh median / p95 (ms)": f"{r['refresh_median_ms']} / {r['refresh_p95_ms']}",
                     "server time per refresh median / p95 (ms)": f"{r['tick_server_median_ms']} / {r['tick_server_p95_ms']}",
                     "peak threads (AnyIO) / RSS MB": f"{r['peak_threads']} ({r['peak_pools'].get('anyio', [0])[0]}) / {r['peak_rss_mb']}",
                     "jobs gone (s)": r["jobs_gone_s"],
                     "left beyond baseline at (s)": f"{len(r['left_python']) + r['left_native']} at {r['threads_back_s']}",
                     "threads: after close / next request": f"{r['threads_after']} / {r['threads_next_request']}",
                     "RSS after (MB)": r["rss_after_mb"],
                     "Python blocks after (k)": round(r["blocks_after"] / 1000),
                     "sessions alive: after close / after a visit": f"{r['sessions_after']} / {r['sessions_after_visit']}"})
    rows.append({"round": f"baseline after warm-up: {base['threads']} threads ({base['pools'].get('anyio', [0])[0]} idle AnyIO), "
                          f"{base['rss_mb']:.0f} MB, {base['blocks'] / 1000:.0f}k blocks; server log exceptions: {result['log_errors']} (+ {result['websocket_races']} Streamlit websocket races)"})
    problems = check(result)
    rows.append({"round": "checks of the load test, every round: " + ("all hold" if not problems else "; ".join(problems))})
    return rows
