// bnviz live chart: one Vega view per chart, mounted once, its datasets grown row by row.
//
// The server (bnviz/ui/live_chart.py) sends, on every refresh, only the rows this chart has not
// seen: per dataset a feed {source, whole, base, version} and the rows as an Arrow table. A feed
// that is `whole` replaces what the chart held (a first look, a reconnect, a Reset, another
// layer); any other feed must follow exactly what the chart holds (same source, base = the
// version held), and its rows are inserted with a Vega changeset: the view, its canvas and the
// DOM node stay. A feed that does not follow (a message lost, a chart remounted) is not applied:
// the chart asks the server for everything again (state "resync"). The Vega spec itself comes
// only with a chart's first message. Nothing here computes a formula: Vega runs the spec the
// server compiled, and tooltips show the values its expressions formatted.

// A chart asks for its whole data once and waits for it: the feeds that arrive meanwhile (sent
// before the server heard) do not follow either, and asking again for each of them made every
// ask a rerun that sent more of them — on a loaded machine the asks ran out and the chart froze.
// An ask unanswered for ASK_AGAIN_MS (a lost message) is made again; MAX_ASKS asks in a row
// with no whole answer mean something is wrong beyond a lost message, and the chart stops asking.
const ASK_AGAIN_MS = 5000;
const MAX_ASKS = 5;
const charts = (window.bnvizCharts = window.bnvizCharts || {}); // key → counters, for tests and benches

let vegaLoading = null;
function loadVega(url) {
  if (window.vega) return Promise.resolve(window.vega);
  if (!vegaLoading) {
    vegaLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.vega);
      script.onerror = () => { vegaLoading = null; reject(new Error("vega did not load: " + url)); };
      document.head.appendChild(script);
    });
  }
  return vegaLoading;
}

// An Arrow table (how Streamlit delivers a data frame) as the plain objects Vega keeps.
function rowsOf(table) {
  if (!table) return [];
  const names = table.schema.fields.map((f) => f.name);
  const columns = names.map((name) => {
    const column = table.getChild(name);
    let values = column.nullCount ? null : column.toArray();
    // toArray() gives numbers and labels directly; anything else (nulls, packed booleans) one by one.
    if (!values || values.length !== table.numRows) values = Array.from({ length: table.numRows }, (_, i) => column.get(i));
    if (values instanceof BigInt64Array) return Array.from(values, Number);
    // A column of arrays (a histogram's shares): each row's as a typed array, as the feed gives it.
    return values.length && values[0] && typeof values[0].toArray === "function" ? Array.from(values, (v) => v.toArray()) : values;
  });
  const rows = new Array(table.numRows);
  for (let i = 0; i < rows.length; i++) {
    const row = {};
    for (let j = 0; j < names.length; j++) row[names[j]] = columns[j][i];
    rows[i] = row;
  }
  return rows;
}

function bytesOf(text64) {
  const text = atob(text64 || "");
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes.buffer;
}

// The feed's rows (bnviz/server/live_feed.py rows_json): columns of values, categorical codes or
// numbers as little-endian bytes in base64 (every browser's typed arrays are little-endian), as the
// same objects; a missing number is null, as from Arrow. A column of arrays (`width` numbers a
// row) gives each row a view of its numbers: one object a row for the garbage collector, not fifty.
// Arrays of whole numbers over another column (`over`: a histogram's counts over its sample) are
// read back as the float32 of their ratio, the numbers the server had (live_feed._counts_over).
function valuesOf(column, columns, names) {
  if (column.codes) return column.codes.map((c) => (c >= 0 ? column.labels[c] : null));
  if (column.values) return column.values;
  let numbers;
  if (column.over) {
    const counts = column.u16 ? new Uint16Array(bytesOf(column.u16)) : new Uint32Array(bytesOf(column.u32));
    const over = columns[names.indexOf(column.over)];
    numbers = new Float32Array(counts.length);
    for (let i = 0; i < counts.length; i++) numbers[i] = counts[i] / over[Math.floor(i / column.width)];
  } else {
    numbers = column.f32 ? new Float32Array(bytesOf(column.f32)) : new Float64Array(bytesOf(column.f64));
  }
  const width = column.width;
  if (width) return Array.from({ length: numbers.length / width }, (_, i) => numbers.subarray(i * width, (i + 1) * width));
  return Array.from(numbers, (v) => (Number.isNaN(v) ? null : v));
}

function rowsOfColumns(names, data) {
  const columns = data.map((column) => (column.over ? null : valuesOf(column)));
  data.forEach((column, j) => { if (column.over) columns[j] = valuesOf(column, columns, names); });
  const n = columns.length ? columns[0].length : 0;
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = {};
    for (let j = 0; j < names.length; j++) row[names[j]] = columns[j][i];
    rows[i] = row;
  }
  return rows;
}

// Hover: the values Vega formatted, in a box beside the pointer (finger) — never a formula. A mark's
// tooltip is formatted only for the item under the pointer (bnviz/ui/live_chart.py
// _tooltips_on_hover): until then the item's tooltip is its row, and its own encoding set ("tip")
// is run for it first (once: the item keeps the values until it changes); a change of the data
// gives the item its row again, so a tooltip is never older than what the chart shows.
const TIP_SET = "tip";
let tip = null;
let tipItem = null; // the item under the pointer: a tooltip formatted once it has moved on is not shown
function hovered(view) {
  const vega = window.vega;
  return function (handler, event, item, value) {
    tipItem = item;
    if (item && value != null && vega.tupleid(value) != null && item.mark && item.mark.source) {
      view.pulse(item.mark.source, vega.changeset().encode(item, TIP_SET)).runAsync().then(() => {
        if (tipItem === item) showTip(handler, event, item, vega.tupleid(item.tooltip) == null ? item.tooltip : null);
      });
      return;
    }
    showTip(handler, event, item, value);
  };
}

function showTip(handler, event, item, value) {
  if (!tip) {
    tip = document.createElement("div");
    tip.className = "bnviz-tip";
    document.body.appendChild(tip);
  }
  if (value == null || value === "") {
    tip.hidden = true;
    return;
  }
  const entries = typeof value === "object" ? Object.entries(value) : [["", value]];
  tip.replaceChildren(...entries.map(([key, v]) => {
    const line = document.createElement("div");
    const name = document.createElement("b");
    name.textContent = key === "title" ? "" : key;
    line.append(name, document.createTextNode((key && key !== "title" ? " " : "") + String(v)));
    return line;
  }));
  tip.hidden = false;
  const x = event.clientX + 14, y = event.clientY + 14;
  const wide = tip.offsetWidth, high = tip.offsetHeight;
  tip.style.left = Math.max(4, Math.min(x, window.innerWidth - wide - 4)) + "px";
  tip.style.top = Math.max(4, y + high > window.innerHeight ? event.clientY - high - 10 : y) + "px";
}

function follow(state) {
  // Signals that follow a control of the page (the step scrubber): read its value now.
  for (const [signal, id] of Object.entries(state.follow || {})) {
    const el = document.getElementById(id);
    if (el && state.view) state.view.signal(signal, Number(el.value));
  }
}

async function receive(root, state, data, ask) {
  const meta = data.meta;
  const vega = await loadVega(meta.vega);
  const t0 = performance.now();
  state.follow = meta.follow;
  state.tail = meta.tail || [];
  state.fed = meta.fed;
  state.fit = state.stats.fit = meta.fit;
  if (meta.spec && state.specId !== meta.spec_id) {
    if (state.view) state.view.finalize();
    state.view = new vega.View(vega.parse(meta.spec), { renderer: "canvas", container: root, hover: true });
    state.view.tooltip(hovered(state.view));
    state.specId = meta.spec_id;
    state.held = {};
    state.promised = {};
    state.pending = {};
    state.params = {};
    state.width = root.clientWidth;
    state.stats.builds += 1;
  }
  if (!state.view || state.specId !== meta.spec_id) return ask("no view");
  const rows = {};
  for (const name of Object.keys(meta.feeds)) rows[name] = rowsOf(data["t_" + name]);
  await grow(state, meta.feeds, rows, meta.params, ask, t0);
}

// Whether a feed's rows can go where a chart (or a growing range) holds `held`: all of them, or
// the rows that come right after it.
function follows(held, feed) {
  return feed.whole || Boolean(held && held.source === feed.source && held.version === feed.base);
}

// Rows into the view: `feeds` (dataset → {source, whole, base, version}) and their `rows`. A feed
// that does not follow what the chart holds makes it ask for everything (none is applied). A chart
// out of sight (scrolled away: a phone shows one grid of the histograms at a time) keeps its rows
// until it comes into sight and is drawn then, once: drawing is most of a refresh's cost.
async function grow(state, feedsOf, rows, params, ask, t0) {
  feedsOf = Object.fromEntries(Object.entries(feedsOf).filter(([, feed]) => !staleTail(state, feed)));
  for (const [name, feed] of Object.entries(feedsOf)) {
    const held = state.held[name];
    if (!follows(held, feed)) {
      state.promised = {}; // dropped, and the answers queued after it: the polls say what it holds
      return ask(name);
    }
  }
  for (const [name, feed] of Object.entries(feedsOf)) {
    const got = rows[name] || [];
    const kept = state.pending[name];
    if (feed.whole || !kept) state.pending[name] = { whole: feed.whole, rows: got };
    else for (const row of got) kept.rows.push(row);
    if (feed.whole && state.tail.includes(name)) state.filling = false;
    if (feed.whole) {
      state.stats.wholes += 1;
      state.askedAt = 0; // the answer (or a first look): a later feed that does not follow asks anew
      state.unanswered = 0;
    }
    state.held[name] = { source: feed.source, version: feed.version };
    const promised = state.promised[name];
    if (promised && promised.source === feed.source && promised.version === feed.version) delete state.promised[name];
    state.stats.rows += got.length;
    state.stats.received[name] = (state.stats.received[name] || 0) + got.length;
  }
  Object.assign(state.params, params || {});
  state.stats.messages += 1;
  // Drawn when it comes into sight; a chart never drawn is drawn now (until then it is a thin
  // strip whose place says nothing of where it will be).
  if (state.visible === false && state.stats.draws > 0) return;
  await draw(state, t0);
}

// Rows appended to a dataset. Vega's changeset, even for an insert alone, first goes through every
// row the dataset holds (to find those it removes): work that grew with the history on every
// refresh. New rows are new objects, never held already, so they are only ingested — what
// View.change asks of a changeset (its constructor and `pulse`).
function appended(vega, rows) {
  return {
    constructor: vega.changeset,
    pulse(pulse) {
      for (const row of rows) pulse.add.push(vega.ingest(row));
      return pulse;
    },
  };
}

// What the chart received since it was last drawn, into the view in one changeset per dataset (two
// changes of one dataset before a run would lose the first), then drawn once.
async function draw(state, t0) {
  const vega = window.vega;
  for (const [name, kept] of Object.entries(state.pending)) {
    if (kept.whole) state.view.change(name, vega.changeset().remove(vega.truthy).insert(kept.rows));
    else if (kept.rows.length) state.view.change(name, appended(vega, kept.rows));
  }
  state.pending = {};
  for (const [name, value] of Object.entries(state.params)) state.view.signal(name, value);
  state.params = {};
  follow(state);
  await state.view.runAsync();
  if (drawnEmpty(state)) { // sized to nothing once: sized anew now that it shows something
    state.view.resize();
    await state.view.runAsync();
    state.stats.resizes += 1;
  }
  state.stats.draws += 1;
  state.stats.drawnAt = performance.now();
  state.stats.busyMs += state.stats.drawnAt - t0; // this chart's own time: rows in, dataflow, drawing
}

// Vega sizes a view's canvas when it first draws it, and again only when asked (View.resize): a
// chart first drawn with nothing to show — the histogram grid of the capture the scrubber had
// already moved to (fed) while the chart's first rows (the page's run) were older, on a loaded
// machine — stayed a blank canvas of its padding, 10 × 10, however many rows came after (CI, twice).
// Such a canvas, once the scene has grown beyond it, is sized anew. (Sizing anew on every draw
// would change a grid's size each time the scrubber is ahead of its rows: a jump, then back.)
const EMPTY_PX = 40; // a canvas this small (device pixels) holds nothing but its padding

function drawnEmpty(state) {
  const canvas = state.stats.node.querySelector("canvas");
  const bounds = state.view.scenegraph().root.bounds;
  return Boolean(canvas) && canvas.width <= EMPTY_PX && canvas.height <= EMPTY_PX
    && bounds.width() > EMPTY_PX && bounds.height() > EMPTY_PX;
}

function waiting(state) {
  return Object.keys(state.pending).length > 0 || Object.keys(state.params).length > 0;
}

// The chart drawn with all it has received, after what is queued for it.
function drawn(state) {
  state.queue = state.queue.then(() => (waiting(state) ? draw(state, performance.now()) : null))
    .catch((err) => console.error("bnviz live chart", err));
  return state.queue;
}

// A chart that tails a dataset (meta.tail: the histogram grid's history, γ and β's) holds only
// its newest capture while its scrubber follows the newest one: each refresh brings that
// capture's rows alone (bnviz/server/feeds.py tail), not every capture made since the last. The
// first touch of the scrubber (a finger or the pointer on it, its focus, a key), or the scrubber
// moved off the newest capture (Play), asks for the whole history (the next poll, at once); until
// it has come the chart stays drawn as it is, and is then drawn at the scrubber's place.
const TOUCHES = ["pointerdown", "focusin", "keydown"];

// A tail sent before the chart asked for its history is left: the history is coming.
function staleTail(state, feed) {
  return Boolean(feed.tail && state.full);
}

function wantHistory(state) {
  if (state.full || !state.tail.length) return;
  state.full = true;
  if (!state.fed) return; // drawn by Streamlit: every row is here already
  state.filling = true;
  for (const name of state.tail) {
    delete state.held[name];
    delete state.promised[name];
  }
  pollSoon();
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const root = parentElement.querySelector(".bnviz-chart");
  const state = root.bnviz || (root.bnviz = {
    view: null, specId: null, held: {}, promised: {}, pending: {}, params: {}, follow: {}, queue: Promise.resolve(),
    tail: [], full: false, filling: false,
    askedAt: 0,
    unanswered: 0, visible: undefined,
    stats: { rows: 0, received: {}, wholes: 0, builds: 0, asks: 0, messages: 0, draws: 0, resizes: 0, drawnAt: 0,
             busyMs: 0,
             node: root },
  });
  charts[data.meta.key] = state.stats;
  const png = parentElement.querySelector(".bnviz-png");
  if (png) {
    png.textContent = data.meta.png;
    png.hidden = false;
    png.onclick = () => state.view && drawn(state).then(() => state.view.toImageURL("png", 2)).then((url) => {
      const link = document.createElement("a");
      link.href = url;
      link.download = `bnviz_${data.meta.key}.png`;
      link.click();
    });
  }
  if (!state.resized && typeof ResizeObserver !== "undefined") {
    // A chart as wide as its container (meta.fit) takes the container's width, as Vega does on
    // a window resize: a sidebar closed on a projector, or a panel first built hidden, changes
    // the container and not the window.
    state.resized = new ResizeObserver(() => {
      const width = root.clientWidth;
      if (!state.view || !state.fit || !width || width === state.width) return;
      state.width = width;
      state.view.width(width).runAsync();
      state.stats.resizes += 1;
    });
    state.resized.observe(root);
  }
  if (!state.sight && typeof IntersectionObserver !== "undefined") {
    state.sight = new IntersectionObserver((entries) => {
      state.visible = entries[entries.length - 1].isIntersecting;
      if (state.visible && state.view && waiting(state)) drawn(state);
    }, { rootMargin: "300px 0px" });
    state.sight.observe(root);
  }
  if (!state.onInput) {
    const followed = (event) => { // the followed control this event is on, if any
      const id = event.target && event.target.id;
      return id && state.view && Object.values(state.follow || {}).includes(id);
    };
    state.onInput = (event) => {
      if (!followed(event)) return;
      // Away from the newest capture (a drag, Play): the history is needed. (The control's own
      // inputs as it follows the newest capture are not a touch.)
      if (Number(event.target.value) < Number(event.target.max)) wantHistory(state);
      if (state.filling) return; // drawn at the control's value once the history has come
      for (const [signal, id] of Object.entries(state.follow || {})) {
        if (id !== event.target.id) continue;
        // Rows kept while out of sight are drawn with the move (follow reads the control).
        if (waiting(state)) drawn(state);
        else state.view.signal(signal, Number(event.target.value)).runAsync();
      }
    };
    state.onTouch = (event) => { if (event.isTrusted && followed(event)) wantHistory(state); };
    document.addEventListener("input", state.onInput, true); // capture: the controls' events do not bubble
    for (const type of TOUCHES) document.addEventListener(type, state.onTouch, true);
  }
  const ask = (state.ask = (why) => {
    const now = performance.now();
    if (state.askedAt && now - state.askedAt < ASK_AGAIN_MS) return; // asked: the whole data is coming
    if (state.unanswered >= MAX_ASKS) return; // something is wrong beyond a lost message: stop asking
    state.stats.asks += 1; // each ask a new value, so that the server sees it
    state.unanswered += 1;
    state.askedAt = now;
    if (state.fed && state.view) { // fed: the next poll brings everything, no script run
      state.held = {};
      state.promised = {};
    }
    else setStateValue("resync", `${state.stats.asks}:${why}`);
  });
  // Messages are applied in order, each after the last one's drawing.
  state.queue = state.queue.then(() => receive(root, state, data, ask)).catch((err) => {
    console.error("bnviz live chart", err);
    ask("error");
  });
  return () => {
    setTimeout(() => {
      if (root.isConnected) return; // only a re-render: the chart stays
      document.removeEventListener("input", state.onInput, true);
      for (const type of TOUCHES) document.removeEventListener(type, state.onTouch, true);
      if (state.resized) state.resized.disconnect();
      if (state.sight) state.sight.disconnect();
      if (state.view) state.view.finalize();
    }, 0);
  };
}

// ---- The feed: while a run trains, the page asks the server for its newest rows itself -------
//
// The first live text of a fed fragment run (bnviz/ui/live_chart.py text) carries the feed's
// address and token. Every `every` seconds the page posts what each fed chart holds and receives
// only the rows it lacks (bnviz/server/live_feed.py), its texts, and `rerun` when the page's
// shape changed (started, paused, ended, a model diverged): then, and when the feed is gone, the
// fragment runs again and Streamlit draws the page. No script run happens for a refresh.
const poller = (window.bnvizFeed = window.bnvizFeed ||
  { url: null, path: null, token: null, every: 1, timer: null, retry: null, rerun: null, leader: null, polls: 0, reruns: 0,
    received: 0, log: [], texts: {}, rerunWaitMs: 10000, wanted: false, trail: [], asking: false, soon: false });

// What the feed went through (opened, closed, asked to run again …), the last 60 events: a test
// that finds a page no longer fed says why.
function note(what, detail) {
  poller.trail.push([Math.round(performance.now()), what, detail ?? null]);
  if (poller.trail.length > 60) poller.trail.splice(0, 20);
}

const ANSWER_WAIT_MS = 30000;

function heldByCharts() {
  const held = {};
  for (const [key, stats] of Object.entries(charts)) {
    const state = stats.node.bnviz;
    if (!stats.node.isConnected || !state || !state.fed || !state.view) continue;
    // What it will hold once the answers it has queued are drawn: a poll sent while a slow draw
    // (a phone, a busy machine) holds an answer back would otherwise ask again from the version
    // before it, and that answer, not following the one drawn meanwhile, made the chart ask for
    // everything.
    const will = { ...state.held, ...state.promised };
    held[key] = Object.fromEntries(Object.entries(will).map(([n, h]) => [n, [h.source, h.version]]));
    if (!state.full) for (const name of state.tail) held[key][name] = ["tail", ...(held[key][name] || [])];
  }
  // A range that grows (the step scrubber) is fed like a chart: its positions' steps, only the new ones.
  for (const el of document.querySelectorAll("input[type=range]")) {
    if (!el.bnvizGrow || !el.id) continue;
    const had = el.bnvizGrowHeld;
    held["grow:" + el.id] = had ? { steps: [had.source, had.version] } : {};
  }
  return held;
}

// The steps of a growing range's positions (feed "steps": capture, step), appended to what it
// holds or in its place; a delta that does not follow is dropped and the next poll sends all.
function growRange(key, chart) {
  const el = document.getElementById(key.slice(5));
  const feed = chart.feeds.steps;
  if (!el || !el.bnvizGrow || !feed) return;
  const had = el.bnvizGrowHeld;
  const steps = rowsOfColumns(feed.columns, feed.data).map((row) => row.step);
  if (!follows(had, feed)) {
    el.bnvizGrowHeld = null;
    return;
  }
  const labels = feed.whole ? steps : had.labels.concat(steps);
  el.bnvizGrowHeld = { source: feed.source, version: feed.version, labels };
  // Counters for tests: wholes received, rows of the last whole, rows of the deltas since.
  const counts = (el.bnvizGrowCounts = el.bnvizGrowCounts || { wholes: 0, whole: 0, since: 0 });
  if (feed.whole) Object.assign(counts, { wholes: counts.wholes + 1, whole: steps.length, since: 0 });
  else counts.since += steps.length;
  if (feed.whole || steps.length) el.bnvizGrow(labels);
}

// The fragment asked to run again; a run that never comes is asked for again until a leading text
// is drawn (feedFrom), after `rerunWaitMs` (10 s: a run on a busy server takes seconds; a test
// shortens the wait), then twice and three times that: a page that stopped asking froze for good on
// a loaded machine. The first ask runs the fragment (its leading text asks if still shown, else any
// live text of it that is) — unless the feed says what changed is drawn outside it (`whole`: the
// owner's page lost its connection and must take its run back before a grace period runs out) —
// the next ones run the whole page (bnviz/ui/page.js), while it is still the page that was fed: an
// ask lost on a busy server or a reconnecting socket, or one for a fragment Streamlit no longer
// holds (it runs nothing, and asked again runs nothing again: CI saw the page stay unfed for a
// minute). Never while Streamlit reconnects (connected), nor, after the first, while a run of the
// page is going on (up to ANSWER_WAIT_MS): Streamlit stops a run when another is asked and starts
// it anew, and on a server where a run takes longer than the wait, the page was never drawn.
function askRerun(tries, busySince = null) {
  clearTimeout(poller.retry);
  const since = busySince ?? performance.now();
  if ((!connected() || (tries > 0 && scriptRunning())) && performance.now() - since < ANSWER_WAIT_MS) {
    poller.retry = setTimeout(() => askRerun(tries, since), 500);
    return;
  }
  const fragment = poller.rerun || shownRerun();
  if (!fragment) { // no live text left on the page: nothing to draw anew
    note("rerun", tries);
    return;
  }
  const redraw = tries > 0 && window.bnvizRedraw && location.pathname === poller.path;
  note(redraw ? "redraw" : "rerun", tries);
  poller.reruns += 1;
  (redraw ? window.bnvizRedraw : fragment)();
  poller.retry = setTimeout(() => askRerun(tries + 1), poller.rerunWaitMs * Math.min(3, tries + 1));
}

// Streamlit's own mark of a run in progress (data-test-script-state on the app's root).
function scriptRunning() {
  const app = document.querySelector("[data-testid='stApp']");
  return Boolean(app) && app.dataset.testScriptState === "running";
}

// Streamlit's own mark of its connection (data-test-connection-state): an ask sent while it
// reconnects is lost. The feed goes on without it (plain HTTP), and on a busy server it said the
// owner's page was gone while the socket was still reconnecting: the page asked then, and again
// 20 s later, when the run's grace period had run out (CI).
function connected() {
  const app = document.querySelector("[data-testid='stApp']");
  return !app || !app.dataset.testConnectionState || app.dataset.testConnectionState === "CONNECTED";
}

function shownRerun() {
  for (const { box, rerun } of Object.values(poller.texts)) if (box.isConnected && rerun) return rerun;
  return null;
}

function answered(answer) {
  if (answer.gone || answer.rerun) {
    poller.token = null; // until the page drawn anew gives the feed again
    note(answer.gone ? "gone" : "changed", answer.changed); // which places of the page's stamp
    askRerun(answer.whole ? 1 : 0); // a change drawn outside the fragment: the whole page at once
    return;
  }
  // The scrubber's range first: the charts then draw their new rows at the capture it is on.
  for (const [key, chart] of Object.entries(answer.charts || {})) if (key.startsWith("grow:")) growRange(key, chart);
  for (const [key, value] of Object.entries(answer.texts || {})) {
    if (poller.texts[key] && poller.texts[key].box.isConnected) {
      paintText(poller.texts[key].box, poller.texts[key].kind, value);
    }
  }
  for (const [key, chart] of Object.entries(answer.charts || {})) {
    const stats = charts[key];
    const state = stats && stats.node.bnviz;
    if (!state || !state.view || !stats.node.isConnected) continue;
    const rows = {};
    for (const [name, feed] of Object.entries(chart.feeds)) {
      rows[name] = rowsOfColumns(feed.columns, feed.data);
      if (!staleTail(state, feed)) state.promised[name] = { source: feed.source, version: feed.version };
    }
    state.queue = state.queue.then(() => grow(state, chart.feeds, rows, chart.params, state.ask, performance.now()))
      .catch((err) => { console.error("bnviz live chart", err); state.ask("error"); });
  }
}

// The next poll now (a chart asked for its history), or as soon as the one under way has answered.
function pollSoon() {
  if (!poller.token) return;
  if (poller.asking) {
    poller.soon = true;
    return;
  }
  clearTimeout(poller.timer);
  pollOnce();
}

async function pollOnce() {
  const token = poller.token;
  if (!token) return;
  poller.asking = true;
  if (!document.hidden) { // a tab in the background asks nothing
    try {
      const start = performance.now();
      const response = await fetch(poller.url, {
        method: "POST", headers: { "Content-Type": "application/json" }, cache: "no-store",
        body: JSON.stringify({ token, held: heldByCharts() }),
        signal: AbortSignal.timeout(ANSWER_WAIT_MS), // an answer that never comes must not stop the asking
      });
      const body = await response.text();
      if (response.ok && poller.token === token) answered(JSON.parse(body));
      poller.polls += 1; // counters for tests and benches: polls, characters received, the last polls' times
      poller.received += body.length;
      poller.log.push({ start, end: performance.now() });
      if (poller.log.length > 1000) poller.log.splice(0, 500);
    } catch (err) {
      console.warn("bnviz feed", err); // the server away for a moment: asked again next time
      note("poll failed", String(err).slice(0, 80));
    }
  }
  poller.asking = false;
  if (poller.token === token) poller.timer = setTimeout(pollOnce, poller.soon ? 0 : poller.every * 1000);
  poller.soon = false;
}

function feedFrom(feed, rerun) {
  clearTimeout(poller.retry); // a fragment run drew its leading text: what a rerun waits for
  poller.rerun = rerun;
  poller.wanted = Boolean(feed);
  note(feed ? "feed" : "no feed", feed ? feed.opened : null);
  if (!feed) {
    poller.token = null;
    clearTimeout(poller.timer);
    return;
  }
  poller.every = Math.max(0.2, Number(feed.every) || 1);
  poller.path = location.pathname;
  if (poller.token === feed.token && poller.url === feed.url) return; // already asking
  clearTimeout(poller.timer);
  poller.url = feed.url;
  poller.token = feed.token;
  poller.timer = setTimeout(pollOnce, poller.every * 1000);
}

// A text the server composed: nothing here formats a number or a word. One the box shows already
// is not written again: a change of the page's text makes the browser lay the page out anew.
function paintText(box, kind, value) {
  const shown = JSON.stringify(value);
  if (box.bnvizShown === shown) return;
  box.bnvizShown = shown;
  if (kind === "progress") {
    let line = box.querySelector(".bt-line"), bar = box.querySelector(".bt-bar > div");
    if (!line) {
      box.classList.add("bnviz-progress");
      line = document.createElement("div");
      line.className = "bt-line";
      const track = document.createElement("div");
      track.className = "bt-bar";
      track.setAttribute("role", "progressbar");
      bar = document.createElement("div");
      track.append(bar);
      box.replaceChildren(line, track);
    }
    line.textContent = value.text;
    bar.style.width = (100 * Math.max(0, Math.min(1, value.value))) + "%";
    box.querySelector(".bt-bar").setAttribute("aria-valuenow", String(Math.round(100 * value.value)));
  } else if (kind === "lines" || kind === "paragraphs") {
    box.replaceChildren(...value.map((text) => {
      const p = document.createElement("p");
      p.className = kind === "lines" ? "bt-caption" : "bt-paragraph";
      p.textContent = text;
      return p;
    }));
  } else if (kind === "metrics") {
    const row = document.createElement("div");
    row.className = "bt-metrics";
    row.append(...value.map(([label, figure]) => {
      const cell = document.createElement("div");
      cell.className = "bt-metric";
      const name = document.createElement("span"), number = document.createElement("b");
      name.textContent = label;
      number.textContent = figure;
      cell.append(name, number);
      return cell;
    }));
    box.replaceChildren(row);
  }
}

export function text(component) {
  const { parentElement, data, setStateValue } = component;
  const box = parentElement.querySelector(".bnviz-text");
  let asked = 0;
  const rerun = () => setStateValue("rerun", ++asked + ":" + Date.now());
  poller.texts[data.key] = { box, kind: data.kind, rerun };
  box.bnvizShown = undefined; // drawn by Streamlit: painted whatever it showed before
  paintText(box, data.kind, data.value);
  if (data.leads) { // the fragment run's first text: the feed is asked for while it is shown
    poller.leader = box;
    feedFrom(data.feed, rerun);
  }
  return () => setTimeout(() => {
    if (box.isConnected) return; // only a re-render
    if (poller.texts[data.key] && poller.texts[data.key].box === box) delete poller.texts[data.key];
    if (poller.leader !== box) return;
    // Gone, and no other text has led since. A fed page whose next leading text does not come
    // (the run that draws it lost) asks for it again, as when the feed says the page changed.
    const wanted = poller.wanted;
    feedFrom(null, null);
    note("leader gone");
    if (wanted) poller.retry = setTimeout(() => askRerun(0), poller.rerunWaitMs);
  }, 0);
}
