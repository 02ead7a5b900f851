// bnviz live controls: the inputs that the charts bind to, a Play timer, and commits to Python.
//
// Every chart parameter is bound to one of this panel's <input> elements by its id (Vega-Lite
// `bind: {element: "#id, body:is(:not(:has(#id)))", event: c.event}`, browser_controls.param): Vega
// listens for the control's own event and redraws in the browser, with no server run. A chart
// drawn before this panel was on the page found no input and listens on the body instead: every
// move is told to both (tell). Python hears of a value only when a change is committed: a drag
// released, a key press followed by QUIET_MS of quiet, a click, or the end of Play. The words and
// numbers shown beside the inputs were computed by the server for every position: nothing here
// computes a formula, it only picks.

const QUIET_MS = 350;

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const panel = parentElement.querySelector(".bnviz-live");
  // This function runs again whenever the server sends new data; the elements (and the charts'
  // bindings to them) stay. State that must survive lives on the panel.
  const state = panel.bnviz || (panel.bnviz = { timer: null, playing: null, server: {}, sent: {} });
  const controls = data.controls;
  const byId = (id) => panel.querySelector("#" + id);
  const row = (id) => panel.querySelector(`[data-row="${id}"]`);

  function announce(el) {
    el.dispatchEvent(new Event("input"));
  }

  function tell(c) {
    // Vega reads the target's value in its listener; the body holds it only while it is told.
    const el = byId(c.id);
    el.dispatchEvent(new Event(c.event));
    document.body.value = el.value;
    document.body.dispatchEvent(new Event(c.event));
    delete document.body.value;
  }

  function commit() {
    clearTimeout(state.timer);
    state.timer = null;
    const values = {};
    for (const c of controls) {
      if (c.kind === "play") continue;
      const el = byId(c.id);
      // A control that follows its newest position is committed at its end as -1 ("follow").
      values[c.id] = c.follow && Number(el.value) >= Number(el.max) ? -1 : Number(el.value);
      state.sent[c.id] = (state.sent[c.id] || []).concat(values[c.id]).slice(-8);
    }
    setStateValue("commit", values);
  }

  function commitSoon() {
    clearTimeout(state.timer);
    state.timer = setTimeout(commit, QUIET_MS);
  }

  function showText(c) {
    const el = byId(c.id);
    const out = row(c.id).querySelector(".bl-text");
    if (!out) return;
    const i = Number(el.value);
    out.textContent = c.texts ? c.texts[i] ?? "" : (c.template || "{value}")
      .replace("{value}", String(i)).replace("{max}", String(c.max))
      .replace("{label}", c.labels ? String(c.labels[i] ?? "") : "");
    if (c.swatches) out.style.setProperty("--bl-swatch", c.swatches[i] || "transparent");
  }

  function showRows() {
    for (const c of controls) {
      if (!c.shown_when) continue;
      const [id, least] = c.shown_when;
      row(c.id).hidden = Number(byId(id).value) < least;
    }
  }

  function setValue(c, value) {
    const el = byId(c.id);
    if (String(el.value) === String(value)) return;
    el.value = String(value);
    announce(el);
  }

  function stopPlay(send) {
    if (!state.playing) return;
    cancelAnimationFrame(state.playing.frame);
    state.playing = null;
    paintPlay();
    if (send) commit();
  }

  function paintPlay() {
    for (const c of controls) {
      if (c.kind !== "play") continue;
      const button = row(c.id).querySelector("button");
      const on = state.playing !== null;
      button.textContent = on ? c.pause : c.play;
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  function startPlay(c) {
    const target = byId(c.target);
    const last = Number(target.max);
    if (Number(target.value) >= last) setValue({ id: c.target }, 0);
    const from = Number(target.value);
    const msPerStep = (c.seconds * 1000) / Math.max(1, last);
    const t0 = performance.now();
    const tick = (now) => {
      const v = Math.min(last, from + Math.floor((now - t0) / msPerStep));
      if (v !== Number(target.value)) {
        target.value = String(v);
        announce(target);
      }
      if (v >= last) return stopPlay(true);
      state.playing.frame = requestAnimationFrame(tick);
    };
    state.playing = { frame: requestAnimationFrame(tick) };
    paintPlay();
  }

  for (const c of controls) {
    const r = row(c.id);
    const label = r.querySelector(".bl-label");
    if (label) label.textContent = c.label || "";
    if (c.kind === "range") {
      const el = byId(c.id);
      el.min = String(c.min ?? 0);
      el.max = String(c.max);
      el.setAttribute("aria-label", c.label || c.id);
      el.oninput = () => { tell(c); showText(c); };
      el.onchange = commitSoon;
      el.onpointerdown = () => { stopPlay(false); state.held = true; };
      el.onpointerup = el.onpointercancel = () => { state.held = false; };
      // A range that grows while the page is fed (static/live_chart.js: the step scrubber as
      // captures arrive): its new labels; one that followed its end follows the new end. Quietly:
      // the fed charts read the value as they draw their new rows (one drawing, not two). What the
      // feed gave it is forgotten when the page draws it: the feed then sends its labels whole.
      el.bnvizGrowHeld = null;
      el.bnvizGrow = (labels) => {
        const atEnd = Number(el.value) >= Number(el.max);
        c.labels = labels;
        c.max = labels.length - 1;
        el.max = String(c.max);
        if (c.follow && atEnd && !state.held && !state.playing && el.value !== String(c.max)) {
          el.value = String(c.max);
          tell(c);
        }
        showText(c);
      };
    } else if (c.kind === "choice") {
      const el = byId(c.id);
      const box = r.querySelector(".bl-choices");
      box.replaceChildren(...c.options.map(([value, text]) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = text;
        b.dataset.value = value;
        b.onclick = () => {
          setValue(c, value);
          paintChoice(c);
          showRows();
          commit();
        };
        return b;
      }));
      el.oninput = () => { tell(c); paintChoice(c); showRows(); };
    } else if (c.kind === "toggle") {
      const el = byId(c.id);
      const box = r.querySelector("input[type=checkbox]");
      box.onchange = () => {
        setValue(c, box.checked ? 1 : 0);
        commit();
      };
      el.oninput = () => { tell(c); box.checked = el.value === "1"; };
    } else if (c.kind === "play") {
      const button = r.querySelector("button");
      button.onclick = () => (state.playing ? stopPlay(true) : startPlay(c));
    }
  }

  function paintChoice(c) {
    const value = byId(c.id).value;
    for (const b of row(c.id).querySelectorAll("button")) {
      b.setAttribute("aria-pressed", b.dataset.value === value ? "true" : "false");
    }
  }

  // Values the server sends (first load, a link, a preset) win; a value the server sent before
  // does not undo what the user has done since, nor does the answer to one of this panel's own
  // commits: a key pressed while the server ran the last commit stays (the answer brought the
  // position before it; its own commit follows). Answers come in the order of the commits.
  for (const c of controls) {
    if (c.kind === "play" || !(c.id in data.values)) continue;
    const value = data.values[c.id];
    if (c.follow && (state.held || state.playing)) continue; // the user has it in hand
    const sent = state.sent[c.id] || [];
    const answered = sent.indexOf(value);
    if (answered >= 0) state.sent[c.id] = sent.slice(answered + 1);
    if (state.server[c.id] !== value) {
      state.server[c.id] = value;
      if (answered < 0) {
        state.sent[c.id] = [];
        setValue(c, value);
      }
    }
    if (c.kind === "toggle") row(c.id).querySelector("input[type=checkbox]").checked = byId(c.id).value === "1";
    if (c.kind === "choice") paintChoice(c);
    if (c.kind === "range") showText(c);
  }
  // Charts drawn before the panel learn every value now (a chart bound to the input: no change).
  for (const c of controls) if (c.kind !== "play") tell(c);
  showRows();
  paintPlay();
  panel.dataset.ready = "1"; // the inputs hold the server's range and values (until now: the markup's 0..1)
  return () => stopPlay(false);
}
