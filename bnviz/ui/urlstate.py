"""Widget values in the URL, language-independent, so a link reproduces the exact view.

``init(key, default, parse)`` before a widget gives it its starting value (from ``?key=…`` on the
first visit, else ``default``); the widget is then created with that ``key`` and no default of its
own. ``sync()`` at the end of the page writes the values that differ from their defaults back to
the URL and drops every parameter the page did not read (unknown or stale ones). Values that don't
parse or are out of range are ignored and listed by ``ignored()``. A preset starts from
``reset_page()``, so the link then holds the preset and nothing older.
(Streamlit's own ``bind="query-params"`` stores the formatted label, which changes with the language.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

_DEFAULTS = "_url_defaults"
_IGNORED = "_url_ignored"
_KEPT = "_url_kept"  # the last value of each key at the end of a complete run (a seeded key's: at its last seed)
_RUN = "_url_run"  # the keys initialised by the current run (the page's own and the shared ones)


def begin_page_run() -> None:
    """Called by app.py first: the keys the new run reads are counted from here."""
    st.session_state[_RUN] = set()


def choice(options) -> Callable[[str], Any]:
    """Parser accepting one of ``options`` as written by ``serialize``, or in other letter case
    where that names only one of them (``present=true``)."""
    table = {serialize(o): o for o in options}
    folded = {}
    for written, option in table.items():
        folded.setdefault(written.lower(), []).append(option)

    def parse(raw: str):
        if raw in table:
            return table[raw]
        found = folded.get(raw.lower(), [])
        if len(found) != 1:
            raise ValueError(raw)
        return found[0]

    return parse


def choices(options) -> Callable[[str], list]:
    """Parser for a comma-separated subset of ``options`` (multiselect)."""
    one = choice(options)
    return lambda raw: [one(part) for part in raw.split(",") if part] if raw != "-" else []


def int_range(lo: int, hi: int) -> Callable[[str], int]:
    """Parser for a whole number within [lo, hi], however written (``1000``, ``1e3``, ``1000.0``)."""
    def parse(raw: str) -> int:
        value = float(raw)
        if not (value.is_integer() and lo <= value <= hi):  # also rejects NaN and ±inf
            raise ValueError(raw)
        return int(value)

    return parse


def float_range(lo: float, hi: float) -> Callable[[str], float]:
    """Parser for a finite number within [lo, hi]; anything else is ignored with a notice."""
    def parse(raw: str) -> float:
        value = float(raw)
        if not (lo <= value <= hi):  # also rejects NaN
            raise ValueError(raw)
        return value

    return parse


def text(max_length: int) -> Callable[[str], str]:
    """Parser for free text of at most ``max_length`` characters (longer is ignored, not cut)."""
    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError("too long")
        return raw

    return parse


def serialize(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(serialize(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def init(key: str, default, parse: Callable[[str], Any], start=None) -> None:
    """Seed widget ``key``: the URL's value if valid, else ``start`` (if given), else ``default``.

    Streamlit forgets a widget's value when a run does not draw it (a page stopped by a bad
    formula, another page visited): such a key gets back the value it had at the end of the last
    complete run, so nothing the user chose is lost. So does a choice that came back empty
    (:func:`lost`), or it gets ``start`` if given (the caller's own copy, newer)."""
    st.session_state.setdefault(_DEFAULTS, {})[key] = default
    st.session_state.setdefault(_RUN, set()).add(key)
    if key in st.session_state:
        if not lost(key, default):
            return
        if start is not None:
            st.session_state[key] = start
            return
    kept = st.session_state.get(_KEPT, {})
    if kept.get(key) is not None:
        st.session_state[key] = kept[key]
        return
    value = default if start is None else start
    raw = st.query_params.get(key)
    if raw is not None:
        try:
            value = parse(raw[:2000])
        except (ValueError, TypeError, OverflowError):
            st.session_state.setdefault(_IGNORED, set()).add(key)
    st.session_state[key] = value


def lost(key: str, default) -> bool:
    """Whether the choice ``key`` came back empty: Streamlit's segmented control says None when
    its browser side sends no selection, ``required=True`` or not. (Read from a CI failure on a
    busy machine: after a Pause click the BatchNorm owner's page drew "Refresh now", which it
    draws only with its refresh off, and stopped following its run.) None of this app's
    settings has None as a value."""
    return default is not None and key in st.session_state and st.session_state[key] is None


def seed(key: str, default) -> None:
    """Seed a choice kept in the session only, not in the link, before it is drawn: ``default``
    the first time, and the value it had at the last call when it came back empty (:func:`lost`)."""
    kept = st.session_state.setdefault(_KEPT, {})
    if key in st.session_state and not lost(key, default):
        kept[key] = st.session_state[key]
    else:
        st.session_state[key] = kept.get(key, default)


def ignored() -> list[str]:
    """URL keys whose values were ignored in this session (shown once, then forgotten)."""
    return sorted(st.session_state.pop(_IGNORED, set()))


def reset_page(keep=()) -> None:
    """Every setting the last run read back to its default, but those in ``keep`` and the ones
    every page shares (language, presenter mode, a watch code): a preset's callback calls it
    before setting its own values."""
    defaults = st.session_state.get(_DEFAULTS, {})
    for key in st.session_state.get(_RUN, set()) - {*keep, "lang", "present", "watch"}:
        st.session_state[key] = defaults[key]


def sync() -> None:
    """Write every initialised widget that differs from its default into the URL; drop the rest,
    and every parameter this run did not read. Called at the end of every complete run; it also
    keeps each value for :func:`init`."""
    read = st.session_state.get(_RUN, set())
    for key in list(st.query_params):
        if key not in read:
            del st.query_params[key]
    kept = st.session_state.setdefault(_KEPT, {})
    for key, default in st.session_state.get(_DEFAULTS, {}).items():
        if key in st.session_state and not lost(key, default):
            kept[key] = st.session_state[key]
    for key, default in st.session_state.get(_DEFAULTS, {}).items():
        if key not in read:  # another page's setting
            continue
        value = st.session_state.get(key, default)
        if value == default or value is None or key not in st.session_state:
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != serialize(value):
            st.query_params[key] = serialize(value)
