"""Controls that act in the browser: sliders, choices, toggles and Play that charts follow there.

A page describes its controls as :class:`Control` rows. :func:`panel` mounts them as one small
custom component (``static/browser_controls.js``, loaded once per page by
:func:`bnviz.ui.static_files.loader`, and ``browser_controls.css``; ``st.components.v2``, no
iframe, no shadow root).
Each control owns an ``<input id=...>``; a chart parameter made by :func:`param` binds to it
(Vega-Lite ``bind: {element: "#id"}``), so moving a slider redraws the charts in the browser with
no server run. A change reaches Python only when it is committed (drag released, typing paused,
a click, Play ended): the session keys of the controls are set and the page runs once.

Range controls move over positions ``0 … size−1``; ``options`` turns a position into the value
kept in session state and in the link (``b1=0.98``), so charts select precomputed columns by
position and never recompute a formula.
"""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st

from bnviz.ui import static_files

HERE = Path(__file__).parent
BOUND = "_bound_values"  # session key: element id → the committed position (for the SVG export)


@dataclass(frozen=True)
class Control:
    """One control of a live panel.

    ``kind``: "range" (a slider over positions), "choice" (buttons), "toggle" (a checkbox) or
    "play" (a button that runs ``target`` from its position to its end in ``seconds``).
    ``key``: the session-state key its value is kept under (none for "play").
    ``options``: the value of each position; None means the position is the value (steps).
    """

    id: str
    kind: str
    key: str | None = None
    options: tuple | None = None
    target: str | None = None
    seconds: float = 5.0
    wide: bool = False

    def position(self, value) -> int:
        """The position of a session value (the nearest option if it is not one of them)."""
        if self.options is None:
            return int(value)
        if value in self.options:
            return self.options.index(value)
        return min(range(len(self.options)), key=lambda i: abs(float(self.options[i]) - float(value)))

    def value(self, position: int):
        return int(position) if self.options is None else self.options[int(position)]


def _row(c: Control) -> str:
    cls = "bl-row bl-wide" if c.wide else "bl-row"
    ident = html.escape(c.id)
    if c.kind == "range":
        body = (f'<label class="bl-label" for="{ident}"></label>'
                f'<input type="range" id="{ident}" min="0" max="1" step="1" value="0">'
                f'<output class="bl-text" for="{ident}"></output>')
    elif c.kind == "choice":
        body = (f'<span class="bl-label"></span><span class="bl-choices"></span>'
                f'<input type="hidden" id="{ident}" value="0">')
    elif c.kind == "toggle":
        body = (f'<label><input type="checkbox"> <span class="bl-label"></span></label>'
                f'<input type="hidden" id="{ident}" value="1">')
    else:
        body = '<button type="button" aria-pressed="false"></button>'
    return f'<div class="{cls}" data-row="{ident}">{body}</div>'


def _component(name: str, controls: tuple[Control, ...]):
    markup = '<div class="bnviz-live">' + "".join(_row(c) for c in controls) + "</div>"
    return _declared(f"bnviz_live_{name}_{hashlib.sha1(markup.encode()).hexdigest()[:12]}", markup)


@functools.cache
def _declared(name: str, markup: str):
    """One component per markup. Streamlit keeps one definition per name for the whole server and
    a mount reads it by name, so two sets of controls under one name would swap their inputs."""
    return st.components.v2.component(
        name, html=markup, css=(HERE / "browser_controls.css").read_text(encoding="utf-8"),
        js=static_files.loader("browser_controls.js"), isolate_styles=False)


def _commit(key: str, controls: tuple[Control, ...]) -> None:
    """Callback: a committed change goes into the controls' session keys (and so the link)."""
    committed = (st.session_state.get(key) or {}).get("commit") or {}
    for c in controls:
        if c.key and c.id in committed:
            try:
                st.session_state[c.key] = c.value(committed[c.id])
            except (IndexError, TypeError, ValueError):
                pass  # not a position of this control (a stale or forged message): ignored


def panel(name: str, controls: tuple[Control, ...], texts: dict[str, dict[str, Any]], *,
          key: str, values: dict[str, int] | None = None) -> None:
    """Mount the live panel ``name``. ``texts``: per control id, what the browser shows —
    ``label``, ``texts`` (one per position) or ``template`` ("step {value} of {max}"), ``max``,
    ``options`` (choice), ``play``/``pause`` (play), ``shown_when`` ((id, least value)),
    ``swatches`` (a colour per position). ``values``: positions to use instead of the session's."""
    positions = {c.id: c.position(st.session_state[c.key]) for c in controls if c.key}
    positions.update(values or {})
    st.session_state[BOUND] = {**st.session_state.get(BOUND, {}), **positions}
    data = {"controls": [{"id": c.id, "kind": c.kind, "target": c.target, "seconds": c.seconds,
                          "event": event(c.id), **texts.get(c.id, {})} for c in controls],
            "values": positions}
    _component(name, controls)(data=data, key=key, on_commit_change=lambda: _commit(key, controls))


def param(name: str, element_id: str) -> alt.Parameter:
    """A chart parameter that follows the control ``element_id`` (its value: the position, as text).

    Vega looks its element up once, when the chart is drawn, and Streamlit may draw a chart before
    the panel (each is a lazily loaded part of its page: seen on a busy machine, the chart then
    never moved). So the selector falls back to the page's body while the input is not there, and
    Vega listens for the control's own event (:func:`event`), which the panel's script sends on
    the input and on the body alike (``static/browser_controls.js``). (``:is`` forgives a browser
    without ``:has``: there the selector is the input's alone, as before.)"""
    selector = f"#{element_id}, body:is(:not(:has(#{element_id})))"
    return alt.param(name=name, bind=alt.BindDirect(element=selector, event=event(element_id)))


def event(element_id: str) -> str:
    """The event the panel sends when the control ``element_id`` moves (its value on the target)."""
    return f"bnviz-{element_id}"


def bound_id(bind) -> str | None:
    """The control a chart parameter's ``bind`` (made by :func:`param`) follows, or None."""
    element = bind.get("element", "") if isinstance(bind, dict) else ""
    return element.split(",")[0].strip()[1:] if isinstance(element, str) and element.startswith("#") else None


def bound_values() -> dict[str, int]:
    """Element id → committed position, for charts drawn outside a browser (SVG export)."""
    return dict(st.session_state.get(BOUND, {}))
