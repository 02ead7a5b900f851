"""The EWMA page's controls: the data source (sidebar), the live panel (how many curves, β₁–β₃,
the variants, the zoom) and the cached tables the page draws from."""

from __future__ import annotations

import streamlit as st

from bnviz.data import series, tables
from bnviz.smoothing import ewma, ewma_frames
from bnviz.ui import browser_controls, urlstate
from bnviz.ui.classroom.presenter import present
from bnviz.ui.i18n import joined, t
from bnviz.ui.smoothing import charts
from bnviz.ui.vega import vega_spec

BETAS = ewma_frames.BETAS
DEFAULT_BETAS = (0.9, 0.98, 0.5)
SOURCES = ("temperatures", "synthetic", "upload", "paste")
ZOOM_MAX = 365
CONTROLS = (
    browser_controls.Control("ewma-nc", "choice", key="ncurves"),
    *(browser_controls.Control(charts.IDS[f"b{i}"], "range", key=f"b{i}", options=BETAS) for i in (1, 2, 3)),
    *(browser_controls.Control(charts.IDS[p], "toggle", key=p) for p in charts.VARIANT_PARAMS.values()),
)
ZOOM = (browser_controls.Control(charts.IDS["zoom"], "range", key="zoom", wide=True),)


@st.cache_data(show_spinner=False)
def _temperatures(column):
    return series.temperatures(column)


@st.cache_data(show_spinner=False, max_entries=8)
def _table(data: bytes, encoding: str):
    return tables.read_table(data, encoding)


@st.cache_data(show_spinner=False, max_entries=8)
def _tables(chosen: series.Series, first: int | None = None):
    return ewma_frames.raw_table(chosen, first=first), ewma_frames.curve_table(chosen, first=first)


@st.cache_data(show_spinner=False)
def weights_and_lag():
    return ewma_frames.weight_table(), ewma_frames.lag_table()


def ng_preset():
    """Ng's figure: β = 0.5, 0.9 and 0.98 on the chosen data, every other control at its default."""
    urlstate.reset_page(keep=("src", "temp", "syn", "seed"))
    st.session_state.update(ncurves=3, b1=0.5, b2=0.9, b3=0.98)


def data_sidebar():
    sb = st.sidebar
    sb.header(t("data_header"))
    urlstate.init("src", "temperatures", urlstate.choice(SOURCES))
    src = sb.radio(t("source"), SOURCES, format_func=lambda s: t(f"source_{s}"), key="src")
    params = {"src": src}
    if src == "temperatures":
        urlstate.init("temp", "temp_max", urlstate.choice(("temp_max", "temp_min")))
        params["column"] = sb.radio(t("temp_column"), ("temp_max", "temp_min"), format_func=t, key="temp",
                                    horizontal=True)
    elif src == "synthetic":
        urlstate.init("syn", "sine", urlstate.choice(series.SYNTHETIC))
        urlstate.init("seed", 0, urlstate.int_range(0, 10_000))
        params["kind"] = sb.selectbox(t("synthetic_kind"), series.SYNTHETIC, format_func=lambda k: t(f"syn_{k}"),
                                      key="syn")
        params["seed"] = sb.number_input(t("seed"), 0, 10_000, key="seed")
    elif src == "upload":
        params["file"] = sb.file_uploader(t("upload_label"), type=["csv", "txt", "tsv", "dat"], key="upload")
        params["encoding"] = sb.selectbox(t("encoding"), ("auto", *tables.ENCODINGS), key="encoding",
                                          format_func=lambda e: tables.ENCODINGS.get(e, t("encoding_auto")),
                                          help=t("encoding_help"))
    else:
        params["text"] = sb.text_area(t("paste_label"), key="paste", height=120)
    return params


def load_series(params):
    """``(series, name, what)``: the chosen series, its name as the user reads it and where it is
    from; or the temperatures with an explanation when the user's input is not usable."""
    src = params["src"]
    try:
        if src == "temperatures":
            return _temperatures(params["column"]), t(params["column"]), t("what_temperatures")
        if src == "synthetic":
            return (series.synthetic(params["kind"], seed=int(params["seed"])), t(f"syn_{params['kind']}"),
                    t("what_synthetic", seed=params["seed"]))
        if src == "upload":
            if params["file"] is None:
                st.info(t("upload_hint"))
            else:
                table = _table(params["file"].getvalue(), params["encoding"])
                _table_notes(table)
                columns = list(table.frame.columns)
                column = st.selectbox(t("column"), columns, index=columns.index(table.default), key="col")
                return tables.from_table(table, column), column, t("what_upload", column=column)
        else:
            if not (params["text"] or "").strip():
                st.info(t("paste_hint"))
            else:
                return series.parse_pasted(params["text"]), t("pasted_name"), t("what_paste")
    except series.SeriesError as err:
        st.error(joined(t(f"err_{err.key}", **err.params), t("err_fallback")))
    return _temperatures("temp_max"), t("temp_max"), t("what_temperatures")


def _table_notes(table: tables.Table) -> None:
    """What was assumed in reading a file: its encoding, its dates, the columns left out."""
    if table.guessed:
        st.caption(t("note_encoding", encoding=tables.ENCODINGS.get(table.encoding, table.encoding)))
    if table.date_column:
        st.caption(t("note_dates", column=table.date_column))
    if table.dropped:
        st.caption(t("note_dropped", columns=", ".join(table.dropped[:10])))


def init_controls():
    urlstate.init("ncurves", 2, urlstate.choice((1, 2, 3)))
    for i, beta in enumerate(DEFAULT_BETAS, 1):
        urlstate.init(f"b{i}", beta, urlstate.choice(BETAS))
    for p in charts.VARIANT_PARAMS.values():
        urlstate.init(p, 1, urlstate.choice((1, 0)))


def beta_texts():
    """What the panel shows for each β of the grid: the value and its effective window."""
    return [t("live_beta", beta=b, window=round(ewma.effective_window(b), 1)) for b in BETAS]


def controls_panel():
    texts = {"ewma-nc": {"label": t("n_curves"), "options": [[n, str(n)] for n in (1, 2, 3)]}}
    swatches = charts.beta_swatches(len(BETAS))
    for i in (1, 2, 3):
        texts[charts.IDS[f"b{i}"]] = {"label": f"β{'₁₂₃'[i - 1]}", "texts": beta_texts(), "max": len(BETAS) - 1,
                                           "shown_when": ["ewma-nc", i], "swatches": swatches}
    for variant, p in charts.VARIANT_PARAMS.items():
        texts[charts.IDS[p]] = {"label": t(f"var_{variant}")}
    browser_controls.panel("ewma", CONTROLS, texts, key="ewma_live")
    st.caption(t("live_hint"))


def chosen_betas():
    return list(dict.fromkeys(st.session_state[f"b{i}"] for i in range(1, st.session_state["ncurves"] + 1)))


def chosen_variants():
    return [v for v, p in charts.VARIANT_PARAMS.items() if st.session_state[p]]


def smoothing_chart(chosen, first=None, zoom=False):
    """The series and its averages; returns how many of its values are drawn."""
    (raw, drawn), curves = _tables(chosen, first)
    temporal = chosen.index is not None
    ticks, unit = ewma_frames.date_ticks(chosen)
    tick_format = t(f"date_format_{unit}") if unit else ""  # month names in the page's language
    exponent = ewma_frames.display_exponent(chosen)
    spec = vega_spec(
        charts.smoothing_chart, {"raw": raw, "curves": curves},
        labels=[ewma_frames.beta_label(b) for b in BETAS], variants={v: t(f"var_{v}") for v in ewma.VARIANTS},
        ticks=ticks, tick_format=tick_format, few=drawn <= 200,
        x_title=t("axis_date") if temporal else t("axis_step"),
        y_title=t("axis_value_scaled", power=_power(exponent)) if exponent else value_title(chosen),
        curve_title=t("legend_curve"), variant_title=t("legend_variant"), raw_label=t("raw"), zoom=zoom,
        texts=charts.TEXTS)
    st.vega_lite_chart(present(spec), width="stretch", key="ewma_chart_zoom" if zoom else "ewma_chart")
    if exponent:
        st.caption(t("note_scaled", power=_power(exponent)))
    return drawn


def value_title(chosen: series.Series) -> str:
    """The value axis's title: Seattle's temperatures in °C, a file's column or a pasted column's
    header by its name, else "Value"."""
    if chosen.name in ("temp_max", "temp_min"):
        return t("axis_temperature")
    return chosen.name if chosen.name not in ("pasted", *series.SYNTHETIC) else t("axis_value")


def _power(exponent: int) -> str:
    """10 to the ``exponent`` as printed: 10³⁰⁸, 10⁻³²⁰."""
    return "10" + str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
