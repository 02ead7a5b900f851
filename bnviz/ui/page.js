// bnviz page helper, mounted once on every page:
// 1. it tells the server whether the screen is narrow (a phone) or wide (a projector at 1920 px),
//    so facetted charts can be drawn to fit it (their cells have fixed widths; Vega-Lite cannot
//    stretch a facet);
// 2. a keyboard user's focus stays on the control they pressed;
// 3. `window.bnvizRedraw()` runs the whole page again: what a live page asks (static/live_chart.js)
//    when asking its fragment to run again brought nothing (a fragment Streamlit no longer holds
//    is not run, and asked again it is not run again).
//
// A click on Start or Play makes Streamlit run the page again, and the button may be drawn anew
// (Start becomes Pause, a choice button is rebuilt): the browser then moves focus to the page
// body. Each focused control is remembered by the outermost keyed container around it (its
// "st-key-…" class) and its position among that container's focusable elements; when focus has
// fallen to the body soon after, the element in the same place gets it back (a click anywhere
// first forgets it: a mouse user who clicks the page's background keeps that).
const FOCUSABLE = "button, input, select, textarea, a[href], [tabindex]:not([tabindex='-1'])";
const KEEP_MS = 15000;

const NARROW_PX = 640;
const WIDE_PX = 1600;

export default function (component) {
  const { data, setStateValue } = component;
  const narrow = window.innerWidth < NARROW_PX;
  const wide = window.innerWidth >= WIDE_PX;
  const told = narrow === Boolean(data && data.narrow) && wide === Boolean(data && data.wide);
  if (narrow !== Boolean(data && data.narrow)) setStateValue("narrow", narrow);  // only when it differs
  if (wide !== Boolean(data && data.wide)) setStateValue("wide", wide);
  // "told" once the server drew the page for this screen (a test waits for it: until then a run
  // of the page for the screen is on its way, and a click may land in the page it replaces).
  document.documentElement.dataset.bnvizScreen = told ? "told" : "telling";
  let redraws = 0;
  window.bnvizRedraw = () => setStateValue("redraw", ++redraws + ":" + Date.now());

  if (window.__bnvizFocus) return;
  const state = (window.__bnvizFocus = { where: null, at: 0 });

  function keyed(el) {
    let found = null;
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      if ([...node.classList].some((c) => c.startsWith("st-key-"))) found = node;
    }
    return found;
  }

  document.addEventListener("focusin", (event) => {
    const box = keyed(event.target);
    if (!box) return;
    const name = [...box.classList].find((c) => c.startsWith("st-key-"));
    const index = [...box.querySelectorAll(FOCUSABLE)].indexOf(event.target);
    if (index >= 0) state.where = { name, index };
    state.at = Date.now();
  }, true);

  function restore() {
    const lost = !document.activeElement || document.activeElement === document.body;
    if (!lost || !state.where || Date.now() - state.at > KEEP_MS) return;
    const box = document.querySelector("." + CSS.escape(state.where.name));
    const target = box && box.querySelectorAll(FOCUSABLE)[state.where.index];
    if (target && !target.disabled) {
      target.focus({ preventScroll: true });
      state.at = Date.now();
    }
  }

  // A pointer (mouse, finger) puts focus where it wants: only a keyboard's focus is kept.
  document.addEventListener("pointerdown", () => { state.where = null; }, true);
  new MutationObserver(restore).observe(document.body, { childList: true, subtree: true });
}
