"""One table row per control: its link parameter, options, default, label and widget.

A :class:`Setting` drives everything a control needs, so each option list is written once: the
link value (``urlstate.init`` before the widget), the widget itself (:meth:`Setting.show`), and
the presets and run settings that read the same keys. Labels are string keys, translated when
the widget is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from bnviz.ui import urlstate
from bnviz.ui.i18n import t


def number(value) -> str:
    """An option shown as a short number: 0.001, 1e+04, 256."""
    return f"{value:g}"


def translated(prefix: str) -> Callable[[Any], str]:
    """Options shown through the strings table: ``translated("bn_opt_")("sgd") == t("bn_opt_sgd")``."""
    return lambda value: t(f"{prefix}{value}")


@dataclass(frozen=True)
class Setting:
    """A control kept in the link. ``widget``: select_slider, selectbox, radio, segmented,
    multiselect, number or slider (an integer within ``options`` = (lo, hi)), toggle or checkbox."""

    key: str
    default: Any
    label: str  # strings key
    widget: str = "select_slider"
    options: tuple = ()
    fmt: Callable[[Any], str] | None = None
    help: str | None = None  # strings key
    extra: dict = field(default_factory=dict)  # more keyword arguments for the widget
    help_params: dict = field(default_factory=dict)  # placeholders of the help text
    accept: Callable[[str], Any] | None = None  # a link parser wider than the options: a value it
    # accepts joins the options while it is chosen (a learning rate sent by the tuning page's sweep)

    def parser(self) -> Callable[[str], Any]:
        if self.accept is not None:
            return self.accept
        if self.widget in ("number", "slider"):
            return urlstate.int_range(*self.options)
        if self.widget in ("toggle", "checkbox"):
            return urlstate.choice((True, False))
        if self.widget == "multiselect":
            return urlstate.choices(self.options)
        return urlstate.choice(self.options)

    def init(self, default=None) -> None:
        """Seed the widget's value from the link (or the default) before it is drawn."""
        urlstate.init(self.key, self.default if default is None else default, self.parser())

    def show(self, where=st, *, default=None, options=None, **kwargs):
        """Draw the widget in ``where`` (``st``, ``st.sidebar``, a column) and return its value."""
        self.init(default)
        label = t(self.label)
        kw = {"key": self.key, **self.extra, **kwargs}
        if self.help:
            kw["help"] = t(self.help, **self.help_params)
        opts = list(self.options if options is None else options)
        if self.accept is not None and (value := st.session_state.get(self.key)) is not None and value not in opts:
            opts = sorted([*opts, value])
        if self.fmt is not None and self.widget not in ("number", "slider", "toggle", "checkbox"):
            kw["format_func"] = self.fmt
        if self.widget == "number":
            return where.number_input(label, *self.options, **kw)
        if self.widget == "slider":
            return where.slider(label, *self.options, **kw)
        if self.widget == "toggle":
            return where.toggle(label, **kw)
        if self.widget == "checkbox":
            return where.checkbox(label, **kw)
        if self.widget == "radio":
            return where.radio(label, opts, horizontal=True, **kw)
        if self.widget == "segmented":
            return where.segmented_control(label, opts, required=True, **kw)
        return getattr(where, self.widget)(label, opts, **kw)


def preset_state(settings: dict[str, Setting], values: dict) -> dict:
    """Session-state values of a preset written with the table's names (``{"lr": 0.9}`` →
    ``{"bn_lr": 0.9}``); names not in the table pass through unchanged."""
    return {settings[name].key if name in settings else name: value for name, value in values.items()}
