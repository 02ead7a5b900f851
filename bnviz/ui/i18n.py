"""Language choice and lookup. ``t(key, **params)`` returns the string in the current language."""

from __future__ import annotations

import streamlit as st

from bnviz.ui import urlstate
from bnviz.ui.strings import LANGUAGES, STRINGS

LANG_KEY = "lang"
_KEEP = "_lang_kept"


def default_language() -> str:
    """Chinese when the browser's locale says so, else English."""
    try:
        locale = st.context.locale or ""
    except Exception:  # no browser context (bare mode)
        locale = ""
    return "zh" if locale.lower().startswith("zh") else "en"


def current_language() -> str:
    for lang in (st.session_state.get(LANG_KEY), st.session_state.get(_KEEP)):
        if lang in STRINGS:
            return lang
    return default_language()


COUNTS = ("n", "active", "count")  # the parameter a sentence's number agrees with, the first there is


def t(key: str, **params) -> str:
    """``key``'s text in the current language with ``params`` filled in (:func:`text`)."""
    return text(current_language(), key, **params)


def text(lang: str, key: str, **params) -> str:
    """``key``'s text in ``lang`` with ``params`` filled in. Where the count (the first of
    :data:`COUNTS` given) is 1 and the language has a singular form ``<key>_singular``, that one:
    "1 value is", not "1 values are" (Chinese needs none)."""
    table = STRINGS[lang]
    count = next((params[name] for name in COUNTS if name in params), None)
    if count == 1 and f"{key}_singular" in table:
        key = f"{key}_singular"
    found = table[key] if key in table else STRINGS["en"][key]
    return found.format(**params) if params else found


def joined(*sentences: str) -> str:
    """Sentences one after the other as the language writes them: a space between English ones,
    none between Chinese ones."""
    return t("sentence_sep").join(sentences)


def listing(items) -> str:
    """Items as a list in the current language: "1, 8 and 256" / "1、8 和 256"."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return t("list_sep").join(items[:-1]) + t("list_last") + items[-1]


def language_selector() -> None:
    """The sidebar switch; its value is kept in the URL (``?lang=zh``) and across pages."""
    # A copy outside the widget's own state keeps the choice when Streamlit drops widget state.
    urlstate.init(LANG_KEY, default_language(), urlstate.choice(LANGUAGES), start=st.session_state.get(_KEEP))
    chosen = st.sidebar.segmented_control(
        STRINGS["en"]["language"], options=list(LANGUAGES), format_func=LANGUAGES.get, required=True, key=LANG_KEY)
    if chosen in STRINGS:
        st.session_state[_KEEP] = chosen
